//! ROS 2 bags (MCAP) against the official Python libraries (mcap 1.6,
//! mcap-ros2-support 0.6): bags they write read back as the drive they came
//! from, bags heptaview writes read in them as written, and broken bags are
//! refused naming the file and topic.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use heptaview_calibration::{FisheyeDistortion, Lens, Rig};
use heptaview_datasets::ros2bag::{camera_info_topic, image_topic, optical_frame};
use heptaview_datasets::{
    LogRegistry, OpenOptions, Ros2BagWriter, av2::Av2Log, open_log, open_log_with,
};
use nalgebra::{Isometry3, Quaternion, Translation3, UnitQuaternion};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

/// One short generated drive shared by every test of this file (AV2 layout).
fn drive() -> &'static Path {
    static DRIVE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DRIVE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = common::small_log(dir.path(), "clear_road", 0.6, 5);
        (dir, path)
    });
    path
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name)
}

/// Writes a bag of the drive with scripts/write_ros2_bag.py.
fn python_bag(out: &Path, args: &[&str]) {
    let output = Command::new(common::python())
        .arg(script("write_ros2_bag.py"))
        .arg(drive())
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "write_ros2_bag.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What scripts/read_ros2_bag.py (the official reader) finds in a bag.
fn python_summary(bag: &Path) -> Value {
    let output = Command::new(common::python())
        .arg(script("read_ros2_bag.py"))
        .arg(bag)
        .arg("--summary-json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "read_ros2_bag.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn open_error(path: &Path, options: &OpenOptions) -> String {
    let error = open_log_with(path, options).err().expect("the bag opened");
    error.to_string()
}

fn max_difference(a: &Isometry3<f64>, b: &Isometry3<f64>) -> f64 {
    (a.to_homogeneous() - b.to_homogeneous()).abs().max()
}

fn f64s(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn isometry(translation: &Value, rotation_xyzw: &Value) -> Isometry3<f64> {
    let t = f64s(translation);
    let q = f64s(rotation_xyzw);
    Isometry3::from_parts(
        Translation3::new(t[0], t[1], t[2]),
        UnitQuaternion::from_quaternion(Quaternion::new(q[3], q[0], q[1], q[2])),
    )
}

/// The bag's rig is the drive's: the same cameras (in topic order), the
/// same intrinsics, and each camera's pose through the /tf_static chain.
fn assert_same_rig(bag: &Rig, source: &Rig, check_lens: bool) {
    let mut names: Vec<&str> = source.camera_names().collect();
    names.sort_unstable();
    assert_eq!(bag.camera_names().collect::<Vec<_>>(), names);
    for camera in bag.cameras() {
        let expected = source.camera(camera.name()).unwrap();
        let (a, b) = (camera.model().intrinsics(), expected.model().intrinsics());
        assert_eq!((a.width_px, a.height_px), (b.width_px, b.height_px));
        for (x, y) in [
            (a.fx_px, b.fx_px),
            (a.fy_px, b.fy_px),
            (a.cx_px, b.cx_px),
            (a.cy_px, b.cy_px),
        ] {
            assert!((x - y).abs() < TOLERANCE, "{}: {x} vs {y}", camera.name());
        }
        if check_lens {
            assert_eq!(camera.model().lens(), expected.model().lens());
        }
        let difference = max_difference(camera.ego_from_camera(), expected.ego_from_camera());
        assert!(difference < TOLERANCE, "{}: {difference}", camera.name());
    }
}

#[test]
fn a_bag_the_official_writer_made_reads_back_as_its_drive() {
    let source = Av2Log::open(drive()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bag_path = dir.path().join("drive_bag.mcap");
    python_bag(&bag_path, &[]);

    let bag = open_log(&bag_path).unwrap();
    assert_eq!(bag.format(), "ros2bag");
    assert_eq!(bag.rig().name(), "drive_bag");
    assert_same_rig(bag.rig(), source.rig(), true);
    for camera in bag.camera_names() {
        // header.stamp, not the log time (which the writer set 2 ms later).
        let times = bag.timestamps_ns(&camera).unwrap();
        assert_eq!(times, source.camera(&camera).unwrap().timestamps_ns());
        for t in times {
            assert_eq!(
                bag.read_image(&camera, *t).unwrap(),
                source.read_jpeg(&camera, *t).unwrap(),
                "{camera} at {t}"
            );
        }
        // A time with no image is a frame error, not a panic.
        assert!(bag.read_image(&camera, times[0] + 1).is_err());
    }
    // map → odom (fixed, a fifth of the rate) → base_link composes to the
    // drive's city_from_ego at every pose time.
    let poses = bag.ego_poses().unwrap();
    let expected = source.ego_poses();
    assert_eq!(poses.timestamps_ns(), expected.timestamps_ns());
    for ((_, a), (_, b)) in poses.samples().zip(expected.samples()) {
        assert!(max_difference(a, b) < TOLERANCE);
    }
    assert!(bag.ground_truth().is_none());
    assert!(bag.expectations().is_none());
}

#[test]
fn lens_models_a_rosbag2_folder_and_a_direct_pose_link_read() {
    let source = Av2Log::open(drive()).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let folder = dir.path().join("fisheye_bag");
    python_bag(
        &folder,
        &["--lens", "equidistant", "--folder", "--tf-chain", "map"],
    );
    let bag = open_log(&folder).unwrap();
    assert_eq!(bag.format(), "ros2bag");
    assert_eq!(bag.rig().name(), "fisheye_bag");
    assert_same_rig(bag.rig(), source.rig(), false);
    for camera in bag.rig().cameras() {
        assert_eq!(
            camera.model().lens(),
            &Lens::Equidistant(FisheyeDistortion {
                k1: 0.05,
                k2: -0.01,
                k3: 0.002,
                k4: -0.0005,
            })
        );
    }
    let poses = bag.ego_poses().unwrap();
    for ((ta, a), (tb, b)) in poses.samples().zip(source.ego_poses().samples()) {
        assert_eq!(ta, tb);
        assert!(max_difference(a, b) < TOLERANCE);
    }

    let rational = dir.path().join("rational.mcap");
    python_bag(&rational, &["--lens", "rational_polynomial"]);
    let bag = open_log(&rational).unwrap();
    for camera in bag.rig().cameras() {
        let (model, d) = camera.model().lens().to_ros();
        assert_eq!(model, "rational_polynomial");
        let expected = source
            .rig()
            .camera(camera.name())
            .unwrap()
            .model()
            .lens()
            .to_ros()
            .1;
        assert_eq!(&d[..5], &expected[..5]);
        assert_eq!(&d[5..], &[0.001, 0.0, 0.0]);
    }
}

#[test]
fn a_topic_map_names_and_orders_the_cameras() {
    let dir = tempfile::tempdir().unwrap();
    let bag_path = dir.path().join("mapped.mcap");
    python_bag(&bag_path, &[]);
    let map = dir.path().join("topics.toml");
    std::fs::write(
        &map,
        r#"
        ego_frame = "base_link"
        world_frame = "map"
        [cameras.right]
        image = "/ring_front_right/image_raw/compressed"
        [cameras.front]
        image = "/ring_front_center/image_raw/compressed"
        info = "/ring_front_center/camera_info"
        "#,
    )
    .unwrap();
    let options = OpenOptions {
        topic_map: Some(map.clone()),
        ..OpenOptions::default()
    };
    let bag = open_log_with(&bag_path, &options).unwrap();
    assert_eq!(bag.camera_names(), ["right", "front"]);
    let source = Av2Log::open(drive()).unwrap();
    assert_eq!(
        bag.timestamps_ns("front").unwrap(),
        source.camera("ring_front_center").unwrap().timestamps_ns()
    );
    assert!(bag.ego_poses().is_some());

    // A world frame that is not above the ego frame is named.
    std::fs::write(
        &map,
        "world_frame = \"earth\"\n[cameras.front]\nimage = \"/ring_front_center/image_raw/compressed\"\n",
    )
    .unwrap();
    let error = open_error(&bag_path, &options);
    assert!(error.contains("earth") && error.contains("/tf"), "{error}");
}

#[test]
fn a_bag_heptaview_writes_reads_the_same_in_the_official_reader() {
    let source = Av2Log::open(drive()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bag_path = dir.path().join("recorded.mcap");
    let mut writer = Ros2BagWriter::create(&bag_path, source.rig()).unwrap();
    // Frames interleaved across cameras in time order, as live mode records.
    let mut frames: Vec<(u64, String)> = source
        .cameras()
        .iter()
        .flat_map(|c| c.timestamps_ns().iter().map(|t| (*t, c.name().to_owned())))
        .collect();
    frames.sort();
    for (t, camera) in &frames {
        writer
            .write_jpeg(camera, *t, &source.read_jpeg(camera, *t).unwrap())
            .unwrap();
    }
    for (t, pose) in source.ego_poses().samples() {
        writer.add_pose(t, *pose);
    }
    assert!(writer.write_jpeg("no_such_camera", 1, &[]).is_err());
    writer.finish().unwrap();

    let summary = python_summary(&bag_path);
    let topics = &summary["topics"];
    let mut paths = Vec::new();
    for camera in source.rig().cameras() {
        let name = camera.name();
        let times: Vec<u64> = source.camera(name).unwrap().timestamps_ns().to_vec();
        let image = &topics[image_topic(name).as_str()];
        assert_eq!(image["schema"], "sensor_msgs/msg/CompressedImage");
        assert_eq!(image["encoding"], "cdr");
        assert_eq!(image["count"], times.len());
        assert_eq!(image["formats"], serde_json::json!(["jpeg"]));
        let stamps: Vec<u64> = image["stamps_ns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(stamps, times);
        assert_eq!(image["first_stamp_ns"], times[0]);
        let info_topic = topics[camera_info_topic(name).as_str()].clone();
        assert_eq!(info_topic["count"], times.len());
        assert_eq!(info_topic["stamps_ns"], image["stamps_ns"]);

        let info = &summary["camera_info"][camera_info_topic(name).as_str()];
        let k = camera.model().intrinsics();
        assert_eq!(info["frame_id"], optical_frame(name).as_str());
        assert_eq!(info["width"], k.width_px);
        assert_eq!(info["height"], k.height_px);
        assert_eq!(
            f64s(&info["k"]),
            [k.fx_px, 0.0, k.cx_px, 0.0, k.fy_px, k.cy_px, 0.0, 0.0, 1.0]
        );
        let (model, d) = camera.model().lens().to_ros();
        assert_eq!(info["distortion_model"], model);
        assert_eq!(f64s(&info["d"]), d);

        let link = summary["tf_static"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["child"] == optical_frame(name).as_str())
            .unwrap();
        assert_eq!(link["parent"], "base_link");
        assert_eq!(link["stamp_ns"], frames[0].0);
        let ego_from_camera = isometry(&link["translation"], &link["rotation_xyzw"]);
        assert!(max_difference(&ego_from_camera, camera.ego_from_camera()) < TOLERANCE);

        for (t, sha) in times.iter().zip(image["sha256"].as_array().unwrap()) {
            paths.push((
                source.image_path(name, *t),
                sha.as_str().unwrap().to_owned(),
            ));
        }
    }
    // The image bytes, byte for byte: the official reader's hashes against
    // the source files'.
    let args: Vec<String> = paths
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let hashes = common::run_python(
        "import hashlib, sys\nfor p in sys.argv[1:]: print(hashlib.sha256(open(p, 'rb').read()).hexdigest())",
        &args,
    );
    let expected: Vec<&str> = paths.iter().map(|(_, sha)| sha.as_str()).collect();
    assert_eq!(hashes.lines().collect::<Vec<_>>(), expected);

    let tf = summary["tf"].as_array().unwrap();
    assert_eq!(tf.len(), source.ego_poses().len());
    for (link, (t, pose)) in tf.iter().zip(source.ego_poses().samples()) {
        assert_eq!(
            (link["parent"].as_str(), link["child"].as_str()),
            (Some("map"), Some("base_link"))
        );
        assert_eq!(link["stamp_ns"], t);
        assert!(
            max_difference(
                &isometry(&link["translation"], &link["rotation_xyzw"]),
                pose
            ) < TOLERANCE
        );
    }

    // And heptaview reads its own recording back as the drive.
    let bag = open_log(&bag_path).unwrap();
    assert_same_rig(bag.rig(), source.rig(), true);
    for camera in bag.camera_names() {
        let t = bag.timestamps_ns(&camera).unwrap()[1];
        assert_eq!(
            bag.read_image(&camera, t).unwrap(),
            source.read_jpeg(&camera, t).unwrap()
        );
    }
    let poses = bag.ego_poses().unwrap();
    assert_eq!(poses.timestamps_ns(), source.ego_poses().timestamps_ns());
}

#[test]
fn bad_bags_are_refused_naming_the_file_and_topic() {
    let dir = tempfile::tempdir().unwrap();
    let options = OpenOptions::default();

    let no_info = dir.path().join("no_info.mcap");
    python_bag(&no_info, &["--drop-camera-info", "ring_front_left"]);
    let error = open_error(&no_info, &options);
    assert!(error.contains(&no_info.display().to_string()), "{error}");
    assert!(
        error.contains(
            "topic /ring_front_left/image_raw/compressed: no sensor_msgs/msg/CameraInfo on /ring_front_left/camera_info"
        ),
        "{error}"
    );

    let png = dir.path().join("png.mcap");
    python_bag(&png, &["--format", "png"]);
    let error = open_error(&png, &options);
    assert!(
        error.contains("/image_raw/compressed: images are png, heptaview reads JPEG"),
        "{error}"
    );

    let not_mcap = dir.path().join("notes.mcap");
    std::fs::write(&not_mcap, b"these are not the bytes you are looking for").unwrap();
    let error = open_error(&not_mcap, &options);
    assert!(
        error.contains("notes.mcap") && error.contains("not an MCAP file"),
        "{error}"
    );

    // A bag cut short (a recording killed before `finish`) has no summary.
    let good = dir.path().join("good.mcap");
    python_bag(&good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let error = open_error(&cut, &options);
    assert!(
        error.contains("cut.mcap") && error.contains("summary"),
        "{error}"
    );

    let map = dir.path().join("map.toml");
    std::fs::write(
        &map,
        "[cameras.front]\nimage = \"/cam_front/image_raw/compressed\"\n",
    )
    .unwrap();
    let mapped = OpenOptions {
        topic_map: Some(map.clone()),
        ..OpenOptions::default()
    };
    let error = open_error(&good, &mapped);
    assert!(
        error.contains("topic /cam_front/image_raw/compressed is not in the bag")
            && error.contains("map.toml"),
        "{error}"
    );
}

#[test]
fn the_registry_asks_for_bags_before_the_av2_fallback() {
    let names = LogRegistry::builtin().format_names();
    let bag = names.iter().position(|n| *n == "ros2bag").unwrap();
    assert_eq!(names.last(), Some(&"av2"));
    assert!(bag < names.len() - 1);
}
