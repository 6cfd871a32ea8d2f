//! Configuration numbers checked once, when they are read: a rate that must
//! be positive, a margin that may be zero, a score between 0 and 1. A file
//! with a bad value is refused at its line (the TOML reader reports where),
//! and the code that uses a value need not check it again.

use serde::{Deserialize, Deserializer, Serialize};

macro_rules! checked_number {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $valid:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name($inner);

        impl $name {
            pub fn new(value: $inner) -> Result<Self, String> {
                let valid: fn($inner) -> bool = $valid;
                if valid(value) {
                    Ok(Self(value))
                } else {
                    Err(format!(concat!("must be ", $what, ", not {}"), value))
                }
            }

            pub fn get(self) -> $inner {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                let value: $inner = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{text}` is not a number"))?;
                Self::new(value).map_err(|why| format!("`{text}` {why}"))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <$inner>::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_number!(
    /// A finite number above zero: rates, intervals, limits.
    Positive,
    f64,
    |v| v.is_finite() && v > 0.0,
    "a positive number"
);

checked_number!(
    /// A finite number of zero or more: margins, thresholds, offsets.
    NonNegative,
    f64,
    |v| v.is_finite() && v >= 0.0,
    "zero or more"
);

checked_number!(
    /// A score or an overlap: between 0 and 1.
    UnitInterval,
    f32,
    |v| (0.0..=1.0).contains(&v),
    "between 0 and 1"
);

// Literal defaults, written where the value is plainly valid.
impl Positive {
    pub const fn of(value: f64) -> Self {
        Self(value)
    }
}

impl NonNegative {
    pub const fn of(value: f64) -> Self {
        Self(value)
    }
}

impl UnitInterval {
    pub const fn of(value: f32) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Section {
        rate: Positive,
        margin: NonNegative,
        score: UnitInterval,
    }

    #[test]
    fn bad_values_are_refused_where_they_are_read() {
        let good: Section = toml::from_str("rate = 2.5\nmargin = 0.0\nscore = 1.0").unwrap();
        assert_eq!(good.rate.get(), 2.5);
        assert_eq!((good.margin.get(), good.score.get()), (0.0, 1.0));
        for (text, message) in [
            (
                "rate = 0.0\nmargin = 0.0\nscore = 0.5",
                "must be a positive number, not 0",
            ),
            (
                "rate = 1.0\nmargin = -1.0\nscore = 0.5",
                "must be zero or more, not -1",
            ),
            (
                "rate = 1.0\nmargin = 0.0\nscore = 1.5",
                "must be between 0 and 1, not 1.5",
            ),
        ] {
            let error = toml::from_str::<Section>(text).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
    }
}
