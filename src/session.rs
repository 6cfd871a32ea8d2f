//! One run's session, the same for replay and live: the log opened once,
//! the sinks a run writes (Rerun, detections JSON lines, the evaluator),
//! each finished frame set fanned out to them, their results put into the
//! report, and the report written. Errors become exit codes in `main`
//! (`Failure`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use heptaview_calibration::Rig;
use heptaview_datasets::av2::GroundTruth;
use heptaview_datasets::{LogReader, OpenOptions, open_log_with};
use heptaview_eval::Evaluator;
use heptaview_eval::keyframes::{DetectionsByFrame, keyframe_recall};
use heptaview_eval::report::Report;
use heptaview_io::replay::{ReplayOptions, replay, selected_cameras, selected_rig};
use heptaview_io::sinks::detections::DetectionsFile;
use heptaview_io::sinks::rerun::{RerunSink, RerunTarget};
use heptaview_perception::chain::Progress;
use heptaview_perception::config::KeyframeMode;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::record::RunRecord;
use heptaview_perception::types::FrameSet;
use heptaview_runtime::threads::Control;
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

/// What a run writes besides its report.
pub struct SinkPlan<'a> {
    pub rerun: &'a RerunTarget,
    pub detections: Option<&'a Path>,
}

/// The sinks of one run.
pub struct Sinks {
    rerun: Option<RerunSink>,
    detections: Option<DetectionsFile>,
    detections_error: Option<heptaview_perception::PipelineError>,
    evaluator: Option<Evaluated>,
    rerun_target: RerunTarget,
}

/// The evaluator and the detections of every frame (for key-frame recall).
pub struct Evaluated {
    pub evaluator: Evaluator,
    pub detections: DetectionsByFrame,
}

impl Sinks {
    /// Opens the sinks for a run over `rig` (its cameras in slot order);
    /// `ground_truth` goes into the recording, `evaluator` compares.
    pub fn open(
        plan: &SinkPlan<'_>,
        rig: &Rig,
        ground_truth: Option<GroundTruth>,
        evaluator: Option<Evaluator>,
        config: &PipelineConfig,
    ) -> Result<Self, Failure> {
        let rerun = RerunSink::open(
            plan.rerun,
            rig,
            ground_truth,
            config.planner.clone(),
            &config.rerun,
        )
        .map_err(Failure::from)?;
        let cameras: Vec<String> = rig.camera_names().map(str::to_owned).collect();
        let detections = plan
            .detections
            .map(|path| DetectionsFile::create(path, cameras))
            .transpose()
            .map_err(Failure::from)?;
        Ok(Self {
            rerun,
            detections,
            detections_error: None,
            evaluator: evaluator.map(|evaluator| Evaluated {
                evaluator,
                detections: DetectionsByFrame::default(),
            }),
            rerun_target: plan.rerun.clone(),
        })
    }

    /// A finished frame set, to every sink.
    pub fn observe(&mut self, set: &FrameSet, progress: &Progress) {
        if let Some(sink) = &mut self.rerun {
            sink.log(set, progress);
        }
        if let Some(file) = &mut self.detections
            && self.detections_error.is_none()
        {
            self.detections_error = file.write(set).err();
        }
        if let Some(evaluated) = &mut self.evaluator {
            evaluated.evaluator.observe(set);
            evaluated.detections.record(set);
        }
    }

    /// Closes the sinks: what the recording got goes into the report, and
    /// the evaluator is handed back to finish the evaluation.
    pub fn finish(self, report: &mut Report) -> Result<Option<Evaluated>, Failure> {
        report.rerun = self.rerun.map(RerunSink::finish);
        if let Some(error) = self.detections_error {
            return Err(Failure::Runtime(error.into()));
        }
        if let Some(file) = self.detections {
            file.finish().map_err(|e| Failure::Runtime(e.into()))?;
        }
        if let (Some(counts), RerunTarget::Save(path)) = (&report.rerun, &self.rerun_target) {
            eprintln!(
                "rerun: {} images, {} boxes, {} tracks -> {} (open it with `rerun {}`)",
                counts.images,
                counts.boxes_2d,
                counts.tracks_3d,
                path.display(),
                path.display()
            );
        }
        Ok(self.evaluator)
    }
}

/// Writes the report as pretty JSON, if asked.
pub fn write_report(report: &Report, path: Option<&PathBuf>) -> Result<(), Failure> {
    let Some(path) = path else {
        return Ok(());
    };
    let json = serde_json::to_string_pretty(report).map_err(|e| Failure::Runtime(e.into()))?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("cannot write report {}", path.display()))
        .map_err(Failure::Runtime)?;
    eprintln!("report: {}", path.display());
    Ok(())
}

/// One replay as the CLI runs it: the pipeline plus its sinks.
pub struct Plan {
    pub log: PathBuf,
    /// The scene or topic choices the log's format needs.
    pub open: OpenOptions,
    pub options: ReplayOptions,
    pub rerun: RerunTarget,
    pub eval: bool,
    /// With `eval` and key frames on: a second every-frame pass for key-frame recall.
    pub keyframe_recall_pass: bool,
    pub report: Option<PathBuf>,
    pub detections: Option<PathBuf>,
}

/// Runs a plan: the log opened once, replay with a progress bar, the summary
/// on stderr, then the evaluation, the recording and the report as asked.
pub fn run_plan(plan: &Plan) -> Result<Report, Failure> {
    let options = &plan.options;
    // Ctrl-C stops the source; what is in flight drains, and the report and
    // recording are written for the part replayed.
    let control = crate::interrupt::run_control()?;
    let log: Arc<dyn LogReader> =
        Arc::from(open_log_with(&plan.log, &plan.open).map_err(Failure::from)?);
    let cameras = selected_cameras(&*log, options.cameras.as_deref()).map_err(Failure::from)?;
    let rig = selected_rig(&*log, &cameras).map_err(Failure::from)?;

    let evaluator = if plan.eval {
        let evaluator = Evaluator::new(&*log, &cameras).map_err(Failure::from)?;
        if !evaluator.has_ground_truth() {
            eprintln!(
                "warning: {} has neither annotations.feather nor scenario.toml: nothing to evaluate",
                plan.log.display()
            );
        }
        Some(evaluator)
    } else {
        None
    };
    let sink_plan = SinkPlan {
        rerun: &plan.rerun,
        detections: plan.detections.as_deref(),
    };
    let mut sinks = Sinks::open(
        &sink_plan,
        &rig,
        log.ground_truth(),
        evaluator,
        &options.config,
    )?;
    let run = replay_with_progress(
        log.clone(),
        options,
        control.clone(),
        "replay",
        &mut |set, progress| sinks.observe(set, progress),
    )?;
    let mut report = Report::new(run);
    let evaluated = sinks.finish(&mut report)?;
    eprintln!("{}", report.summary());

    if let Some(Evaluated {
        evaluator,
        detections: with_keyframes,
    }) = evaluated
    {
        let mut evaluation = evaluator.finish();
        let keyframes_on = options.config.compress.keyframes == KeyframeMode::Auto;
        if plan.keyframe_recall_pass && keyframes_on && !report.run.stopped_early {
            let mut every_frame_options = options.clone();
            every_frame_options.config = every_frame_reference(&options.config);
            let mut every_frame = DetectionsByFrame::default();
            replay_with_progress(
                log,
                &every_frame_options,
                control,
                "every-frame pass for key-frame recall",
                &mut |set, _| every_frame.record(set),
            )?;
            evaluation.keyframe_recall = keyframe_recall(&with_keyframes, &every_frame);
        }
        eprintln!("{}", evaluation.summary());
        report.eval = Some(evaluation);
    }
    write_report(&report, plan.report.as_ref())?;
    Ok(report)
}

/// The configuration of the every-frame pass that key-frame recall is
/// measured against: the same stages with every frame detected. Every frame
/// means every frame: a detector-call budget would leave frames out of the
/// reference too.
pub fn every_frame_reference(config: &PipelineConfig) -> PipelineConfig {
    let mut reference = config.clone();
    reference.compress.keyframes = KeyframeMode::Off;
    reference.compress.budget_calls_per_s = None;
    reference
}

/// One replay with a progress bar (rate and ETA) on stderr.
pub fn replay_with_progress(
    log: Arc<dyn LogReader>,
    options: &ReplayOptions,
    control: Arc<Control>,
    label: &str,
    on_frameset: &mut dyn FnMut(&FrameSet, &Progress),
) -> Result<RunRecord, Failure> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{label} [{{bar:30}}] {{pos}}/{{len}} frames {{per_sec}} eta {{eta}}"
        ))
        .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?
        .progress_chars("=> "),
    );
    let result = replay(log, options, control, &mut |set, progress| {
        on_frameset(set, progress);
        bar.set_length(progress.frames_total);
        bar.set_position(progress.frames_done);
    });
    bar.finish_and_clear();
    result.map_err(Failure::from)
}

#[cfg(test)]
mod every_frame_reference_tests {
    use heptaview_models::units::Positive;

    use super::*;

    #[test]
    fn the_reference_detects_every_frame_whatever_the_budget() {
        let mut config = PipelineConfig::default();
        config.compress.budget_calls_per_s = Some(Positive::of(20.0));
        config.detector_workers = std::num::NonZeroUsize::new(2).unwrap();
        let reference = every_frame_reference(&config);
        assert_eq!(reference.compress.keyframes, KeyframeMode::Off);
        assert_eq!(reference.compress.budget_calls_per_s, None);
        // Everything else is the run's own.
        assert_eq!(reference.detector_workers, config.detector_workers);
        assert_eq!(reference.detector, config.detector);
    }
}
