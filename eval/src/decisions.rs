//! Agreement of the planner's decisions with the expectations a generated
//! drive carries in `scenario.toml`.

use heptaview_datasets::generator::ScenarioExpectations;
use serde::{Deserialize, Serialize};

use heptaview_perception::planning::name;
use heptaview_perception::types::Decision;

/// How one expectation window went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowAgreement {
    pub from_s: f64,
    pub to_s: f64,
    pub expected: Vec<String>,
    pub why: String,
    /// Decisions inside the window, and how many of them were expected ones.
    pub decisions: u64,
    pub agreeing: u64,
    /// The decisions made inside the window, in order, repeats merged.
    pub seen: Vec<String>,
}

/// Collects decisions against the expectations.
#[derive(Debug, Clone)]
pub struct DecisionAgreement {
    expectations: ScenarioExpectations,
    windows: Vec<WindowAgreement>,
}

impl DecisionAgreement {
    pub fn new(expectations: ScenarioExpectations) -> Self {
        // A window the drive ends before (a shortened drive) has nothing to say.
        let windows = expectations
            .expected
            .iter()
            .filter(|e| e.from_s <= e.to_s)
            .map(|e| WindowAgreement {
                from_s: e.from_s,
                to_s: e.to_s,
                expected: e.actions.clone(),
                why: e.why.clone(),
                decisions: 0,
                agreeing: 0,
                seen: Vec::new(),
            })
            .collect();
        Self {
            expectations,
            windows,
        }
    }

    pub fn add(&mut self, decision: &Decision) {
        let t = self.expectations.seconds_since_start(decision.t_ns);
        let action = name(decision.action);
        for window in &mut self.windows {
            if (window.from_s..=window.to_s).contains(&t) {
                window.decisions += 1;
                if window.expected.iter().any(|a| a == action) {
                    window.agreeing += 1;
                }
                if window.seen.last().is_none_or(|last| last != action) {
                    window.seen.push(action.to_owned());
                }
            }
        }
    }

    /// Fraction of the decisions inside windows that were expected ones;
    /// `None` when no decision fell inside a window.
    pub fn agreement(&self) -> Option<f64> {
        let inside: u64 = self.windows.iter().map(|w| w.decisions).sum();
        let agreeing: u64 = self.windows.iter().map(|w| w.agreeing).sum();
        (inside > 0).then(|| agreeing as f64 / inside as f64)
    }

    pub fn windows(&self) -> &[WindowAgreement] {
        &self.windows
    }
}

#[cfg(test)]
mod tests {
    use heptaview_datasets::generator::Expectation;

    use super::*;
    use heptaview_perception::types::Action;

    fn decision(t_s: f64, action: Action) -> Decision {
        Decision {
            t_ns: 1_000_000_000 + (t_s * 1e9) as u64,
            action,
            target_speed_mps: 0.0,
            reasons: Vec::new(),
            min_ttc_s: None,
            ego_speed_mps: 0.0,
            look_ahead_m: 25.0,
        }
    }

    #[test]
    fn agreement_counts_only_decisions_inside_windows() {
        let expectations = ScenarioExpectations {
            scenario: "test".to_owned(),
            start_timestamp_ns: 1_000_000_000,
            expected: vec![
                Expectation {
                    from_s: 0.0,
                    to_s: 1.0,
                    actions: vec!["CRUISE".to_owned()],
                    why: "empty road".to_owned(),
                },
                Expectation {
                    from_s: 2.0,
                    to_s: 3.0,
                    actions: vec!["YIELD".to_owned(), "STOP".to_owned()],
                    why: "pedestrian".to_owned(),
                },
            ],
        };
        let mut agreement = DecisionAgreement::new(expectations);
        for (t, action) in [
            (0.5, Action::Cruise),
            (1.0, Action::Follow),
            // Between the windows: not counted.
            (1.5, Action::EmergencyBrake),
            (2.0, Action::Yield),
            (2.5, Action::Stop),
            (3.0, Action::Stop),
        ] {
            agreement.add(&decision(t, action));
        }
        assert_eq!(agreement.agreement(), Some(4.0 / 5.0));
        assert_eq!(agreement.windows()[0].seen, ["CRUISE", "FOLLOW"]);
        assert_eq!(agreement.windows()[1].agreeing, 3);
    }
}
