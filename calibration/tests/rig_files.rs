//! Rig files: the shipped Argoverse 2 rig, TOML round trips, and one clear
//! error for each kind of bad calibration.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::error::Error;

use heptaview_calibration::{
    ARGOVERSE2_RIG_TOML, AV2_RING_CAMERAS, CalibrationError, FisheyeDistortion, Lens, Rig,
    argoverse2_rig,
};
use nalgebra::Vector3;

/// The whole error chain on one line, as the binary prints it.
fn message(error: &CalibrationError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn load_error(toml: &str) -> String {
    message(&Rig::from_toml_str(toml).unwrap_err())
}

const ONE_CAMERA: &str = r#"
name = "test"
[[cameras]]
name = "cam"
width_px = 640
height_px = 480
fx_px = 500.0
fy_px = 500.0
cx_px = 320.0
cy_px = 240.0
k1 = -0.1
[cameras.ego_from_camera]
qw = 0.5
qx = -0.5
qy = 0.5
qz = -0.5
tx_m = 1.0
ty_m = 0.0
tz_m = 1.5
"#;

#[test]
fn the_av2_rig_has_the_seven_ring_cameras_as_mounted_on_the_car() {
    let rig = argoverse2_rig().unwrap();
    assert_eq!(rig.name(), "argoverse2");
    assert_eq!(rig.camera_names().collect::<Vec<_>>(), AV2_RING_CAMERAS);

    let front = rig.camera("ring_front_center").unwrap();
    let k = front.model().intrinsics();
    assert_eq!((k.width_px, k.height_px), (1550, 2048), "portrait");
    let t = front.ego_from_camera().translation.vector;
    assert!((t - Vector3::new(1.63, 0.0, 1.43)).norm() < 0.05, "{t}");

    let expected_yaw_deg = [0.0, 45.0, -45.0, 90.0, -90.0, 153.0, -153.0];
    for (camera, yaw) in rig.cameras().iter().zip(expected_yaw_deg) {
        let k = camera.model().intrinsics();
        if camera.name() != "ring_front_center" {
            assert_eq!((k.width_px, k.height_px), (2048, 1550), "{}", camera.name());
        }
        assert!(
            (1500.0..2000.0).contains(&k.fx_px),
            "{}: fx {}",
            camera.name(),
            k.fx_px
        );
        let axis = camera.ego_from_camera().rotation * Vector3::z();
        let heading = axis.y.atan2(axis.x).to_degrees();
        assert!(
            (heading - yaw).abs() < 1e-9,
            "{}: yaw {heading}",
            camera.name()
        );
        assert!(axis.z.abs() < 1e-9, "{} looks level", camera.name());
        let height = camera.ego_from_camera().translation.z;
        assert!(
            (1.2..1.7).contains(&height),
            "{} at {height} m",
            camera.name()
        );
    }
}

#[test]
fn toml_round_trip_is_exact() {
    let rig = argoverse2_rig().unwrap();
    let text = rig.to_toml_string().unwrap();
    assert_eq!(Rig::from_toml_str(&text).unwrap(), rig);

    let scaled = rig.scaled_to_width(640).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scaled.toml");
    scaled.save(&path).unwrap();
    assert_eq!(Rig::load(&path).unwrap(), scaled);
}

#[test]
fn the_embedded_rig_is_the_file_in_the_repository() {
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rigs/argoverse2.toml"))
            .unwrap();
    assert_eq!(on_disk, ARGOVERSE2_RIG_TOML);
}

#[test]
fn a_missing_field_names_the_camera_and_the_field() {
    let e = load_error(&ONE_CAMERA.replace("fy_px = 500.0\n", ""));
    assert_eq!(e, "camera `cam`: missing field `fy_px`");
    let e = load_error(&ONE_CAMERA.replace("tz_m = 1.5\n", ""));
    assert_eq!(e, "camera `cam`: missing field `ego_from_camera.tz_m`");
    let e = load_error(&ONE_CAMERA.replace("name = \"cam\"\n", ""));
    assert!(e.contains("number 1") && e.contains("no `name`"), "{e}");
}

#[test]
fn non_finite_numbers_are_refused() {
    let e = load_error(&ONE_CAMERA.replace("cx_px = 320.0", "cx_px = nan"));
    assert_eq!(e, "camera `cam`: `cx_px` is not a finite number (NaN)");
    let e = load_error(&ONE_CAMERA.replace("k1 = -0.1", "k1 = inf"));
    assert_eq!(e, "camera `cam`: `k1` is not a finite number (inf)");
    let e = load_error(&ONE_CAMERA.replace("ty_m = 0.0", "ty_m = -inf"));
    assert_eq!(e, "camera `cam`: `ty_m` is not a finite number (-inf)");
}

#[test]
fn focal_lengths_must_be_positive() {
    let e = load_error(&ONE_CAMERA.replace("fx_px = 500.0", "fx_px = 0.0"));
    assert_eq!(
        e,
        "camera `cam`: focal length `fx_px` must be positive, got 0"
    );
    let e = load_error(&ONE_CAMERA.replace("fy_px = 500.0", "fy_px = -3.0"));
    assert!(e.contains("`fy_px` must be positive, got -3"), "{e}");
}

#[test]
fn the_principal_point_must_lie_on_the_image() {
    let e = load_error(&ONE_CAMERA.replace("cx_px = 320.0", "cx_px = 700.0"));
    assert_eq!(
        e,
        "camera `cam`: principal point (700, 240) lies outside the 640x480 image"
    );
    let e = load_error(&ONE_CAMERA.replace("cy_px = 240.0", "cy_px = -1.0"));
    assert!(e.contains("outside the 640x480 image"), "{e}");
    let e = load_error(&ONE_CAMERA.replace("width_px = 640", "width_px = 0"));
    assert!(e.contains("image size 0x480 has a zero side"), "{e}");
}

#[test]
fn rotations_must_be_unit_quaternions() {
    let e = load_error(&ONE_CAMERA.replace("qw = 0.5", "qw = 0.6"));
    assert!(
        e.starts_with("camera `cam`: rotation quaternion (qw, qx, qy, qz) has norm 1.05"),
        "{e}"
    );
}

#[test]
fn camera_names_are_unique() {
    let twice = format!(
        "{ONE_CAMERA}{}",
        &ONE_CAMERA[ONE_CAMERA.find("[[cameras]]").unwrap()..]
    );
    assert_eq!(load_error(&twice), "the rig has two cameras named `cam`");
}

#[test]
fn malformed_files_and_unknown_fields_are_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, ONE_CAMERA.replace("fx_px", "fxx_px")).unwrap();
    let e = message(&Rig::load(&path).unwrap_err());
    assert!(
        e.starts_with(&format!(
            "rig file {}: not a valid rig file",
            path.display()
        )),
        "{e}"
    );
    assert!(e.contains("fxx_px"), "{e}");

    let missing = dir.path().join("absent.toml");
    let e = message(&Rig::load(&missing).unwrap_err());
    assert!(
        e.starts_with(&format!("cannot read {}", missing.display())),
        "{e}"
    );

    assert_eq!(load_error("name = \"empty\"\n"), "the rig has no cameras");
}

#[test]
fn unknown_cameras_are_named_with_the_alternatives() {
    let rig = Rig::from_toml_str(ONE_CAMERA).unwrap();
    let e = message(&rig.camera("ring_front_center").unwrap_err());
    assert_eq!(
        e,
        "the rig has no camera named `ring_front_center` (it has: cam)"
    );
}

#[test]
fn rational_and_fisheye_lenses_are_read_and_written_back() {
    let rational = ONE_CAMERA.replace(
        "k1 = -0.1\n",
        "lens = \"rational_polynomial\"\nk1 = 2.0\nk2 = 0.9\np1 = 0.001\nk3 = 0.03\nk4 = 2.3\nk5 = 1.4\nk6 = 0.15\n",
    );
    let rig = Rig::from_toml_str(&rational).unwrap();
    let d = *rig.cameras()[0].model().distortion().unwrap();
    assert_eq!(
        d.as_opencv_array8(),
        [2.0, 0.9, 0.001, 0.0, 0.03, 2.3, 1.4, 0.15]
    );
    let text = rig.to_toml_string().unwrap();
    assert!(text.contains("lens = \"rational_polynomial\""), "{text}");
    assert_eq!(Rig::from_toml_str(&text).unwrap(), rig);

    let fisheye = ONE_CAMERA.replace(
        "k1 = -0.1\n",
        "lens = \"equidistant\"\nk1 = -0.04\nk2 = -0.003\nk3 = 0.01\nk4 = -0.006\n",
    );
    let rig = Rig::from_toml_str(&fisheye).unwrap();
    assert_eq!(
        *rig.cameras()[0].model().lens(),
        Lens::Equidistant(FisheyeDistortion {
            k1: -0.04,
            k2: -0.003,
            k3: 0.01,
            k4: -0.006,
        })
    );
    let text = rig.to_toml_string().unwrap();
    assert!(text.contains("lens = \"equidistant\""), "{text}");
    assert!(!text.contains("p1") && !text.contains("k5"), "{text}");
    assert_eq!(Rig::from_toml_str(&text).unwrap(), rig);

    // plumb_bob is the default both ways: named or not, it writes without `lens`.
    let named = ONE_CAMERA.replace("k1 = -0.1\n", "lens = \"plumb_bob\"\nk1 = -0.1\n");
    let rig = Rig::from_toml_str(&named).unwrap();
    assert_eq!(rig, Rig::from_toml_str(ONE_CAMERA).unwrap());
    assert!(!rig.to_toml_string().unwrap().contains("lens"));
}

#[test]
fn an_unknown_lens_model_is_reported_with_its_line() {
    let e = load_error(&ONE_CAMERA.replace("k1 = -0.1\n", "k1 = -0.1\nlens = \"fisheye\"\n"));
    assert!(e.starts_with("not a valid rig file"), "{e}");
    assert!(e.contains("line 12"), "{e}");
    assert!(
        e.contains("fisheye") && e.contains("plumb_bob") && e.contains("equidistant"),
        "{e}"
    );
}

#[test]
fn a_coefficient_the_lens_model_lacks_is_refused() {
    // Fisheye k1..k4 without `lens` would be read as a different lens.
    let e = load_error(&ONE_CAMERA.replace("k1 = -0.1\n", "k1 = -0.04\nk4 = -0.006\n"));
    assert_eq!(
        e,
        "camera `cam`: `k4` is not a coefficient of the plumb_bob lens model (k1, k2, p1, p2, k3; k4, k5, k6 need lens = \"rational_polynomial\")"
    );
    let e = load_error(&ONE_CAMERA.replace("k1 = -0.1\n", "lens = \"equidistant\"\np1 = 0.001\n"));
    assert_eq!(
        e,
        "camera `cam`: `p1` is not a coefficient of the equidistant lens model (k1, k2, k3, k4)"
    );
    let e = load_error(
        &ONE_CAMERA.replace("k1 = -0.1\n", "lens = \"rational_polynomial\"\nk6 = inf\n"),
    );
    assert_eq!(e, "camera `cam`: `k6` is not a finite number (inf)");
}
