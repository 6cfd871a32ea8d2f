//! Bad input gives one clear error naming the file and the problem, or, for
//! a single bad frame, a per-frame error the pipeline can count as a drop.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::error::Error;
use std::path::{Path, PathBuf};

use heptaview_datasets::FrameError;
use heptaview_datasets::av2::Av2Log;
use opencv::imgcodecs::IMREAD_COLOR;

fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A fresh copy of a small generated log, to break.
fn log_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = common::small_log(dir.path(), "clear_road", 0.2, 5);
    (dir, log)
}

fn open_error(log: &Path) -> String {
    chain(&Av2Log::open(log).unwrap_err())
}

/// Rewrites a feather table with pyarrow, applying a Python expression to `t`.
fn rewrite_table(path: &Path, expression: &str) {
    let code = format!(
        "import sys, pyarrow as pa, pyarrow.compute as pc, pyarrow.feather as feather\n\
         t = feather.read_table(sys.argv[1])\n\
         t = {expression}\n\
         feather.write_feather(t, sys.argv[1])\n"
    );
    common::run_python(&code, &[path.to_str().unwrap()]);
}

#[test]
fn a_log_without_camera_folders() {
    let (_dir, log) = log_copy();
    std::fs::remove_dir_all(log.join("sensors/cameras")).unwrap();
    assert_eq!(
        open_error(&log),
        format!(
            "{} has no camera folders (expected sensors/cameras/<camera>/)",
            log.display()
        )
    );
    assert!(open_error(Path::new("/no/such/log")).starts_with("cannot read /no/such/log"));
}

#[test]
fn a_missing_camera_folder() {
    let (_dir, log) = log_copy();
    std::fs::remove_dir_all(log.join("sensors/cameras/ring_side_left")).unwrap();
    let opened = Av2Log::open(&log).unwrap();
    assert_eq!(opened.cameras().len(), 6);
    let error = chain(&opened.camera("ring_side_left").unwrap_err());
    assert_eq!(
        error,
        format!(
            "{}: camera folder `ring_side_left` is missing",
            log.join("sensors/cameras").display()
        )
    );
}

#[test]
fn calibration_missing_a_camera() {
    let (_dir, log) = log_copy();
    let path = log.join("calibration/intrinsics.feather");
    rewrite_table(
        &path,
        "t.filter(pc.not_equal(t['sensor_name'], 'ring_rear_left'))",
    );
    assert_eq!(
        open_error(&log),
        format!(
            "{}: no calibration for camera `ring_rear_left`",
            path.display()
        )
    );
}

#[test]
fn a_truncated_feather_file() {
    let (_dir, log) = log_copy();
    let path = log.join("city_SE3_egovehicle.feather");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let error = open_error(&log);
    assert!(
        error.starts_with(&format!(
            "{} is not a readable feather (Arrow IPC) file: ",
            path.display()
        )),
        "{error}"
    );
}

#[test]
fn a_feather_file_with_a_missing_column() {
    let (_dir, log) = log_copy();
    let path = log.join("calibration/egovehicle_SE3_sensor.feather");
    rewrite_table(&path, "t.drop_columns(['qz'])");
    assert_eq!(
        open_error(&log),
        format!("{} has no column `qz`", path.display())
    );
}

#[test]
fn a_feather_column_of_the_wrong_type() {
    let (_dir, log) = log_copy();
    let path = log.join("calibration/intrinsics.feather");
    rewrite_table(
        &path,
        "t.set_column(1, 'fx_px', pc.cast(t['fx_px'], pa.string()))",
    );
    assert_eq!(
        open_error(&log),
        format!(
            "{}: column `fx_px` is Utf8, expected a number",
            path.display()
        )
    );
}

#[test]
fn invalid_calibration_values_name_the_file_and_camera() {
    let (_dir, log) = log_copy();
    let path = log.join("calibration/intrinsics.feather");
    rewrite_table(
        &path,
        "t.set_column(1, 'fx_px', pa.array([-1.0] * t.num_rows))",
    );
    assert_eq!(
        open_error(&log),
        format!(
            "{}: invalid calibration: camera `ring_front_center`: focal length `fx_px` must be positive, got -1",
            path.display()
        )
    );
}

#[test]
fn unsorted_pose_timestamps() {
    let (_dir, log) = log_copy();
    let path = log.join("city_SE3_egovehicle.feather");
    rewrite_table(&path, "t.take(pa.array(list(range(t.num_rows))[::-1]))");
    let error = open_error(&log);
    assert!(
        error.starts_with(&format!(
            "{}: timestamps are not in increasing order (row 1: ",
            path.display()
        )),
        "{error}"
    );
}

#[test]
fn an_image_name_that_is_not_a_timestamp() {
    let (_dir, log) = log_copy();
    let camera_dir = log.join("sensors/cameras/ring_front_center");
    std::fs::write(camera_dir.join("frame_001.jpg"), b"x").unwrap();
    assert_eq!(
        open_error(&log),
        format!(
            "{}: `frame_001.jpg` is not a `<timestamp_ns>.jpg` image name",
            camera_dir.display()
        )
    );
}

#[test]
fn a_corrupt_or_unreadable_frame_is_a_per_frame_error_and_the_rest_still_decode() {
    let (_dir, log_dir) = log_copy();
    let log = Av2Log::open(&log_dir).unwrap();
    let camera = "ring_front_right";
    let times = log.camera(camera).unwrap().timestamps_ns().to_vec();
    assert!(times.len() >= 2);

    // Truncated: libjpeg would decode half an image with only a warning.
    let truncated = log.image_path(camera, times[0]);
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let error = log.decode(camera, times[0], IMREAD_COLOR).unwrap_err();
    assert!(matches!(error, FrameError::Decode { .. }));
    assert_eq!(
        chain(&error),
        format!("{} is not a decodable JPEG", truncated.display())
    );

    // Not a JPEG at all.
    std::fs::write(&truncated, b"\xff\xd8 garbage \xff\xd9").unwrap();
    assert!(matches!(
        log.decode(camera, times[0], IMREAD_COLOR),
        Err(FrameError::Decode { .. })
    ));

    // Unreadable: the image became a folder.
    std::fs::remove_file(&truncated).unwrap();
    std::fs::create_dir(&truncated).unwrap();
    let error = log.read_jpeg(camera, times[0]).unwrap_err();
    assert!(
        chain(&error).starts_with(&format!("cannot read {}", truncated.display())),
        "{}",
        chain(&error)
    );

    // A frame that is not in the log.
    let error = log.read_jpeg(camera, 42).unwrap_err();
    assert!(matches!(error, FrameError::NoSuchFrame { .. }));

    // The next frame is fine.
    assert!(log.decode(camera, times[1], IMREAD_COLOR).is_ok());
}

#[test]
fn an_empty_annotation_table_means_no_annotations() {
    let (_dir, log) = log_copy();
    let path = log.join("annotations.feather");
    rewrite_table(&path, "t.slice(0, 0)");
    let opened = Av2Log::open(&log).unwrap();
    assert!(opened.annotations().unwrap().is_empty());
}
