//! Ground truth in the Rerun recording is where the evaluation compares it:
//! the annotation nearest in time, moved into the ego frame of the frame
//! set's time. Read back with Rerun's own reader (PyPI rerun-sdk).

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::Arc;

use heptaview_datasets::av2::{ANNOTATION_TOLERANCE_NS, Annotations, Av2Log};
use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_eval::Evaluator;
use heptaview_io::replay::ReplayOptions;
use heptaview_io::replay::replay_log;
use heptaview_io::replay::selected_cameras;
use heptaview_io::replay::selected_rig;
use heptaview_io::sinks::rerun::{RerunSink, RerunTarget};
use heptaview_perception::config::PipelineConfig;
use heptaview_runtime::threads::Control;

fn venv_tool(name: &str) -> std::path::PathBuf {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.deps/venv/bin")
        .join(name);
    assert!(
        tool.exists(),
        "{} is missing: run scripts/setup.sh",
        tool.display()
    );
    tool
}

#[test]
fn ground_truth_boxes_in_the_recording_are_the_evaluators_motion_compensated_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drive");
    // A moving car (12 m/s) at AV2's camera rate: images and sets lie up to
    // 40 ms from the annotated sweeps, half a metre of driving.
    let options = GenerateOptions {
        width_px: 256,
        fps: 20.0,
        seconds: Some(1.5),
        ..GenerateOptions::new("lead_vehicle_braking", &out)
    };
    generate(options, &mut |_, _| {}).unwrap();
    // AV2 annotates lidar sweeps at 10 Hz: keep every other annotated
    // instant, so half the frame sets lie 50 ms from the nearest one.
    let path = out.join("annotations.feather");
    let all = Annotations::read(&path).unwrap();
    let mut sweeps = Annotations::default();
    let kept: Vec<u64> = all.timestamps_ns().step_by(2).collect();
    for t in &kept {
        let (_, cuboids) = all.nearest(*t, 0).unwrap();
        for cuboid in cuboids {
            sweeps.insert(*t, cuboid.clone());
        }
    }
    sweeps.write(&path).unwrap();

    let log = Av2Log::open(&out).unwrap();
    let reader = heptaview_datasets::open_log(&out).unwrap();
    let cameras = selected_cameras(&*reader, None).unwrap();
    let rig = selected_rig(&*reader, &cameras).unwrap();
    let evaluator = Evaluator::new(&*reader, &cameras).unwrap();
    let mut config = PipelineConfig::default();
    config.session.intra_threads = 1;
    let recording = dir.path().join("run.rrd");
    let mut sink = RerunSink::open(
        &RerunTarget::Save(recording.clone()),
        &rig,
        log.ground_truth(),
        config.planner.clone(),
        &config.rerun,
    )
    .unwrap()
    .unwrap();

    // Per frame set: the evaluator's boxes, and the sweep's own (uncompensated).
    let mut expected = Vec::new();
    replay_log(
        &out,
        &ReplayOptions::whole_log(config),
        Arc::new(Control::default()),
        &mut |set, progress| {
            sink.log(set, progress);
            let compensated = evaluator.cuboids_at(set.reference_ns).unwrap();
            let (_, raw) = log
                .annotations_at(set.reference_ns, ANNOTATION_TOLERANCE_NS)
                .unwrap();
            expected.push((set.index, compensated, raw.to_vec()));
        },
    )
    .unwrap();
    sink.finish();

    let read = Command::new(venv_tool("python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/read_rerun_recording.py"
        ))
        .args([
            recording.to_str().unwrap(),
            "--boxes3d",
            "/world/ground_truth",
        ])
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), expected.len());

    let mut largest_motion = 0.0f64;
    for (row, (index, compensated, raw)) in rows.iter().zip(&expected) {
        assert_eq!(row["frameset"].as_u64().unwrap(), *index);
        let centers = row["centers"].as_array().unwrap();
        assert_eq!(centers.len(), compensated.len());
        for ((center, cuboid), sweep) in centers.iter().zip(compensated).zip(raw) {
            let logged: Vec<f64> = center
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let want = cuboid.ego_from_object.translation.vector;
            for axis in 0..3 {
                assert!(
                    (logged[axis] - want[axis]).abs() < 1e-3,
                    "set {index}: logged {logged:?}, evaluator {want:?}"
                );
            }
            largest_motion =
                largest_motion.max((want - sweep.ego_from_object.translation.vector).norm());
        }
    }
    // The compensation is not a no-op on this drive: boxes moved visibly.
    assert!(largest_motion > 0.2, "{largest_motion} m");
}
