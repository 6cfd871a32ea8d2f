//! Logs written by the writer read back exactly; generated drives are
//! deterministic; ground truth and images agree.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use heptaview_calibration::{AV2_RING_CAMERAS, argoverse2_rig};
use heptaview_datasets::av2::{Av2Log, Av2LogWriter, Cuboid, EgoPoses};
use heptaview_datasets::generator::{GenerateOptions, Generator, SCENARIOS};
use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion, Vector3};

#[test]
fn written_logs_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::small_log(dir.path(), "cut_in", 0.3, 3);
    let original = Av2Log::open(&source).unwrap();

    // Copy it through the writer: same rig, same bytes, same poses and cuboids.
    let copy = dir.path().join("copy");
    let mut writer = Av2LogWriter::create(&copy, original.rig()).unwrap();
    for camera in original.cameras() {
        for &t in camera.timestamps_ns() {
            let jpeg = original.read_jpeg(camera.name(), t).unwrap();
            writer.write_jpeg(camera.name(), t, &jpeg).unwrap();
        }
    }
    for (&t, pose) in original.ego_poses().timestamps_ns().iter().zip(
        original
            .ego_poses()
            .timestamps_ns()
            .iter()
            .map(|&t| original.ego_poses().exact(t).unwrap()),
    ) {
        writer.add_pose(t, pose);
    }
    let annotations = original.annotations().unwrap();
    for t in annotations.timestamps_ns() {
        for cuboid in annotations.nearest(t, 0).unwrap().1 {
            writer.add_annotation(t, cuboid.clone());
        }
    }
    writer.finish().unwrap();
    let copied = Av2Log::open(&copy).unwrap();

    assert_eq!(copied.rig().cameras(), original.rig().cameras());
    assert_eq!(copied.ego_poses(), original.ego_poses());
    assert_eq!(copied.annotations(), original.annotations());
    for (a, b) in original.cameras().iter().zip(copied.cameras()) {
        assert_eq!(a.name(), b.name());
        assert_eq!(a.timestamps_ns(), b.timestamps_ns());
        for &t in a.timestamps_ns() {
            assert_eq!(
                original.read_jpeg(a.name(), t).unwrap(),
                copied.read_jpeg(b.name(), t).unwrap()
            );
        }
    }
}

#[test]
fn a_generated_log_has_the_av2_layout_and_the_scaled_rig() {
    let dir = tempfile::tempdir().unwrap();
    let log = Av2Log::open(&common::small_log(dir.path(), "urban_mixed", 0.5, 1)).unwrap();
    let names: Vec<&str> = log.cameras().iter().map(|c| c.name()).collect();
    assert_eq!(names, AV2_RING_CAMERAS);
    assert_eq!(
        log.rig().cameras(),
        argoverse2_rig()
            .unwrap()
            .scaled_to_width(256)
            .unwrap()
            .cameras()
    );
    for camera in log.cameras() {
        assert_eq!(camera.timestamps_ns().len(), 5, "{}", camera.name());
        for &t in camera.timestamps_ns() {
            // A pose at every image timestamp, exactly (the official loader needs it).
            assert!(log.ego_poses().exact(t).is_some());
            let image = log
                .decode(camera.name(), t, opencv::imgcodecs::IMREAD_COLOR)
                .unwrap();
            use opencv::prelude::*;
            let model = log.rig().camera(camera.name()).unwrap().model();
            assert_eq!(
                (image.cols() as u32, image.rows() as u32),
                (model.width_px(), model.height_px())
            );
        }
    }
    // The seven exposures of one instant follow AV2's trigger pattern: from
    // 2.9 ms before the annotated (lidar) instant to 39.6 ms after it.
    let annotations = log.annotations().unwrap();
    assert_eq!(annotations.timestamps_ns().count(), 5);
    let sweep = annotations.timestamps_ns().next().unwrap();
    let first: Vec<u64> = log.cameras().iter().map(|c| c.timestamps_ns()[0]).collect();
    let declared = argoverse2_rig().unwrap();
    let declared = declared.timing().unwrap();
    for (camera, &t) in first.iter().enumerate() {
        let offset_ms = (t as f64 - sweep as f64) / 1e6;
        let expected_ms = declared.offset_ns(camera) as f64 / 1e6;
        assert!(
            (offset_ms - expected_ms).abs() <= 0.5,
            "{}: {offset_ms} ms, AV2 {expected_ms} ms",
            log.cameras()[camera].name()
        );
    }
    let (_, cuboids) = log.annotations_at(sweep, 0).unwrap();
    let categories: std::collections::BTreeSet<&str> =
        cuboids.iter().map(|c| c.category.as_str()).collect();
    for expected in ["BUS", "PEDESTRIAN", "REGULAR_VEHICLE", "BICYCLE"] {
        assert!(categories.contains(expected), "{categories:?}");
    }
    let scenario = std::fs::read_to_string(log.root().join("scenario.toml")).unwrap();
    assert!(
        scenario.contains("scenario = \"urban_mixed\""),
        "{scenario}"
    );
    assert!(scenario.contains("actions = [\"FOLLOW\"]"), "{scenario}");
}

#[test]
fn the_same_seed_gives_byte_identical_logs_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let a = common::snapshot(&common::small_log(
        &dir.path().join("a"),
        "pedestrian_crossing",
        0.3,
        7,
    ));
    let b = common::snapshot(&common::small_log(
        &dir.path().join("b"),
        "pedestrian_crossing",
        0.3,
        7,
    ));
    let c = common::snapshot(&common::small_log(
        &dir.path().join("c"),
        "pedestrian_crossing",
        0.3,
        8,
    ));
    assert_eq!(a.len(), 7 * 3 + 5);
    assert!(a == b, "same seed, different output");
    assert_ne!(a, c);
}

#[test]
fn every_scenario_generates() {
    let dir = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS {
        let log = Av2Log::open(&common::small_log(dir.path(), scenario, 0.2, 1)).unwrap();
        assert_eq!(log.cameras().len(), 7, "{scenario}");
        assert!(
            log.annotations().is_some_and(|a| !a.is_empty()),
            "{scenario}"
        );
    }
}

/// The cuboid centre of every annotated object projects, through the log's
/// own calibration, onto that object's billboard in the cameras that see it.
#[test]
fn projected_cuboids_land_on_their_objects_in_the_right_cameras() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("log");
    let options = GenerateOptions {
        width_px: 320,
        seconds: Some(1.0),
        ..GenerateOptions::new("urban_mixed", &out)
    };
    let generator = Generator::new(options).unwrap();
    generator.write(&mut |_, _| {}).unwrap();
    let log = Av2Log::open(&out).unwrap();

    let mut checked = 0;
    let mut seen_by = std::collections::BTreeMap::<String, usize>::new();
    for index in [0, 3, 6, 9] {
        let frame = generator.render_frame(index).unwrap();
        let (_, cuboids) = log.annotations_at(frame.timestamp_ns, 0).unwrap();
        for (_, truth) in &frame.cuboids {
            let cuboid: &Cuboid = cuboids
                .iter()
                .find(|c| c.track_uuid == truth.track_uuid)
                .unwrap();
            assert_eq!(cuboid.ego_from_object, truth.ego_from_object);
        }
        // Each camera exposes at its own trigger offset (up to 39.6 ms after
        // the annotated instant, half a metre of driving): the objects as
        // they were when it exposed.
        for (camera, exposure_ns, image) in &frame.cameras {
            let at_exposure = generator.cuboids_at(*exposure_ns);
            for (instance, cuboid) in &at_exposure {
                // The billboard stands on the ground at the cuboid's footprint
                // centre; aim at its lower middle, which every sprite covers.
                let target = cuboid.ego_from_object * Point3::new(0.0, 0.0, -cuboid.height_m * 0.1);
                let rig_camera = log.rig().camera(camera).unwrap();
                let Some(pixel) = rig_camera.project_ego_point(&target) else {
                    continue;
                };
                if !rig_camera.model().contains(&pixel) {
                    continue;
                }
                let depth = (rig_camera.camera_from_ego() * target).z;
                let (u, v) = (pixel.x.round() as usize, pixel.y.round() as usize);
                let drawn =
                    image.instance[v.min(image.height - 1) * image.width + u.min(image.width - 1)];
                // Occluded by a nearer object: that one's instance is drawn there.
                let nearer = at_exposure.iter().any(|(other, c)| {
                    *other == drawn
                        && drawn != *instance
                        && (rig_camera.camera_from_ego()
                            * Point3::from(c.ego_from_object.translation.vector))
                        .z < depth
                });
                if depth > 60.0 || nearer {
                    continue;
                }
                assert_eq!(
                    drawn, *instance,
                    "{} ({}) in {camera} at {pixel}",
                    cuboid.category, cuboid.track_uuid
                );
                checked += 1;
                *seen_by.entry(camera.clone()).or_default() += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} checks");
    assert_eq!(seen_by.len(), 7, "every camera sees an object: {seen_by:?}");
}

#[test]
fn poses_interpolate_between_samples() {
    let a = Isometry3::from_parts(Translation3::new(0.0, 0.0, 0.0), UnitQuaternion::identity());
    let b = Isometry3::from_parts(
        Translation3::new(10.0, 2.0, 0.0),
        UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 0.2),
    );
    let poses = EgoPoses::from_samples(vec![(2_000, b), (1_000, a)]);
    let mid = poses.at(1_500).unwrap();
    assert!((mid.translation.vector - Vector3::new(5.0, 1.0, 0.0)).norm() < 1e-12);
    assert!((mid.rotation.angle() - 0.1).abs() < 1e-12);
    assert_eq!(poses.at(2_000), Some(b));
    assert!(poses.at(999).is_none() && poses.at(2_001).is_none());
}
