//! Latency histograms (hdrhistogram) per stage and end to end.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Milliseconds at the usual percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
    pub count: u64,
}

/// A latency histogram in microseconds, 1 µs .. 1 h, 3 significant digits.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Option<Histogram<u64>>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3).ok(),
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, duration: Duration) {
        if let Some(histogram) = &mut self.histogram {
            let micros = (duration.as_micros() as u64).clamp(1, 3_600_000_000);
            // Within bounds by the clamp; a failure would only lose one sample.
            let _ = histogram.record(micros);
        }
    }

    /// The histogram in HdrHistogram's standard V2 deflate encoding, in
    /// base64 (as HdrHistogram logs hold it, readable by its other
    /// implementations): what `report merge` combines exactly.
    pub fn encoded(&self) -> Option<String> {
        let histogram = self.histogram.as_ref()?;
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(histogram, &mut bytes)
            .ok()?;
        Some(BASE64.encode(bytes))
    }

    /// Reads what `encoded` wrote.
    pub fn decode(text: &str) -> Result<Self, String> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("not an HdrHistogram: {e:?}"))?;
        Ok(Self {
            histogram: Some(histogram),
        })
    }

    /// Adds every sample of `other`.
    pub fn add(&mut self, other: &Self) -> Result<(), String> {
        match (&mut self.histogram, &other.histogram) {
            (Some(mine), Some(theirs)) => mine.add(theirs).map_err(|e| format!("{e:?}")),
            _ => Ok(()),
        }
    }

    pub fn summary(&self) -> LatencySummary {
        let Some(h) = &self.histogram else {
            return LatencySummary::default();
        };
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
            count: h.len(),
        }
    }
}
