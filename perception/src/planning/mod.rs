//! The planning decision, once per frame set, from the tracks around the car:
//! CRUISE, FOLLOW, YIELD, STOP or EMERGENCY_BRAKE, with a target speed and
//! the reasons in words. Rules look at the drive corridor ahead (the lane,
//! a look-ahead that grows with speed), time to collision, people about to
//! enter the corridor, red lights and stop signs seen ahead, and whether the
//! cameras covering the path are working. Escalation is immediate; easing
//! off waits until the milder action has held for a while (no flicker).
//! Deterministic: a function of the frame sets and the ego poses.

mod rules;

use heptaview_calibration::EgoPoses;
use heptaview_models::classes::ObjectClass;

pub use rules::{MIN_TRACK_AGE_FOR_SPEED_S, Situation, decide};

use crate::config::{PipelineConfig, PlannerConfig};
use crate::error::PipelineError;
use crate::path_cameras::covers_drive_path;
use crate::stage_context::{SetStage, StageContext};
use crate::types::{Action, Decision, FrameSet, SlotStatus};
use heptaview_runtime::stage::{Output, Stage};

/// The plan stage: ego speed from the poses, the rules, then hysteresis.
pub struct PlanStage {
    config: PlannerConfig,
    poses: Option<EgoPoses>,
    /// Per slot: whether that camera covers the drive path.
    path_cameras: Vec<bool>,
    camera_names: Vec<String>,
    current: Option<(Action, u64)>,
    milder_since: Option<u64>,
    /// Per track id: (time, forward speed, smoothed deceleration).
    speeds: Vec<(u64, u64, f64, f64)>,
    /// Stop signs the car has stopped at: they no longer hold it.
    served_stop_signs: Vec<u64>,
}

impl PlanStage {
    pub fn new(
        config: PlannerConfig,
        poses: Option<EgoPoses>,
        path_cameras: Vec<bool>,
        camera_names: Vec<String>,
    ) -> Self {
        Self {
            config,
            poses,
            path_cameras,
            camera_names,
            current: None,
            milder_since: None,
            speeds: Vec::new(),
            served_stop_signs: Vec::new(),
        }
    }

    fn ego_speed(&self, t_ns: u64) -> f64 {
        let Some(poses) = &self.poses else {
            return self.config.default_speed_mps.get();
        };
        let dt_ns = 100_000_000;
        let (Some(now), Some(before)) = (
            poses.at(t_ns),
            poses
                .at(t_ns.saturating_sub(dt_ns))
                .or_else(|| poses.at(t_ns + dt_ns)),
        ) else {
            return self.config.default_speed_mps.get();
        };
        (now.translation.vector - before.translation.vector)
            .xy()
            .norm()
            / (dt_ns as f64 / 1e9)
    }

    /// How hard each track is braking, from its successive speeds (smoothed:
    /// the filter's velocity is noisy frame to frame).
    fn decelerations(&mut self, t_ns: u64, tracks: &[crate::types::Track]) -> Vec<(u64, f64)> {
        const SMOOTHING: f64 = 0.3;
        let mut next = Vec::with_capacity(tracks.len());
        for track in tracks {
            let speed = track.velocity_mps[0];
            let deceleration = match self.speeds.iter().find(|(id, ..)| *id == track.id) {
                Some(&(_, t0, v0, smoothed)) if t_ns > t0 => {
                    let raw = (v0 - speed) / ((t_ns - t0) as f64 / 1e9);
                    smoothed + SMOOTHING * (raw - smoothed)
                }
                Some(&(_, _, _, smoothed)) => smoothed,
                None => 0.0,
            };
            next.push((track.id, t_ns, speed, deceleration));
        }
        self.speeds = next;
        self.speeds.iter().map(|(id, _, _, a)| (*id, *a)).collect()
    }

    /// A stop sign near ahead while the car stands has been obeyed: from now
    /// on it lets the car go. (The rules ask to stop about 10 m before it.)
    fn serve_stop_signs(&mut self, ego_speed_mps: f64, tracks: &[crate::types::Track]) {
        const STOPPED_MPS: f64 = 0.5;
        const AT_THE_SIGN_M: f64 = 20.0;
        if ego_speed_mps >= STOPPED_MPS {
            return;
        }
        for track in tracks {
            let gap = track.position_m[0] - self.config.front_offset_m.get();
            if ObjectClass::from_label(&track.class) == Some(ObjectClass::StopSign)
                && gap <= AT_THE_SIGN_M
                && !self.served_stop_signs.contains(&track.id)
            {
                self.served_stop_signs.push(track.id);
            }
        }
    }

    /// Escalate at once; ease off only after the milder proposal held `hold_s`.
    fn with_hysteresis(&mut self, proposal: Decision) -> Decision {
        let t = proposal.t_ns;
        let Some((current, _)) = self.current else {
            self.current = Some((proposal.action, t));
            return proposal;
        };
        if severity(proposal.action) >= severity(current) {
            self.milder_since = None;
            self.current = Some((proposal.action, t));
            return proposal;
        }
        let since = *self.milder_since.get_or_insert(t);
        if t.saturating_sub(since) as f64 / 1e9 >= self.config.hold_s.get() {
            self.milder_since = None;
            self.current = Some((proposal.action, t));
            return proposal;
        }
        let mut held = proposal;
        held.reasons.insert(
            0,
            format!(
                "holding {} until the milder {} has lasted {:.1} s",
                name(current),
                name(held.action),
                self.config.hold_s.get()
            ),
        );
        held.target_speed_mps = rules::target_speed(&self.config, current, held.target_speed_mps);
        held.action = current;
        held
    }
}

pub fn severity(action: Action) -> u8 {
    match action {
        Action::Cruise => 0,
        Action::Follow => 1,
        Action::Yield => 2,
        Action::Stop => 3,
        Action::EmergencyBrake => 4,
    }
}

pub fn name(action: Action) -> &'static str {
    match action {
        Action::Cruise => "CRUISE",
        Action::Follow => "FOLLOW",
        Action::Yield => "YIELD",
        Action::Stop => "STOP",
        Action::EmergencyBrake => "EMERGENCY_BRAKE",
    }
}

impl Stage for PlanStage {
    type In = FrameSet;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "plan"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        let blind: Vec<String> = set
            .slots
            .iter()
            .zip(&self.path_cameras)
            .zip(&self.camera_names)
            .filter(|((slot, covers_path), _)| {
                **covers_path && matches!(slot.status, SlotStatus::Missing | SlotStatus::Dropped(_))
            })
            .map(|(_, name)| name.clone())
            .collect();
        let red_lights = set
            .slots
            .iter()
            .zip(&self.path_cameras)
            .filter(|(_, covers_path)| **covers_path)
            .flat_map(|(slot, _)| &slot.detections)
            .filter(|d| {
                d.attributes.state == Some(heptaview_models::traffic_light::LightState::Red)
            })
            .count();
        let decelerations = self.decelerations(set.reference_ns, &set.tracks);
        let ego_speed = self.ego_speed(set.reference_ns);
        self.serve_stop_signs(ego_speed, &set.tracks);
        let situation = Situation {
            t_ns: set.reference_ns,
            ego_speed_mps: ego_speed,
            tracks: &set.tracks,
            blind_path_cameras: &blind,
            red_lights_ahead: red_lights,
            decelerations: &decelerations,
            served_stop_signs: &self.served_stop_signs,
        };
        let proposal = decide(&self.config, &situation);
        set.decision = Some(self.with_hysteresis(proposal));
        Ok(out.send(set)?)
    }
}

/// The planner for the run: ego speed from its poses, blind path cameras
/// from its rig.
pub fn build(context: &StageContext, config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    Ok(Box::new(PlanStage::new(
        config.planner.clone(),
        context.poses.clone(),
        covers_drive_path(&context.rig),
        context.cameras.clone(),
    )))
}
