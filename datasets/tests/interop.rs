//! Interoperability with independent implementations: pyarrow reads our
//! feather files with the AV2 schema, we read what pyarrow writes (in the
//! forms other writers use), and the official Argoverse 2 loader opens our logs.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use heptaview_datasets::av2::{Av2Log, EgoPoses};

const AV2_SCHEMA_CHECK: &str = r#"
import sys, pyarrow.feather as feather
log = sys.argv[1]
expected = {
    "calibration/intrinsics.feather": [("sensor_name", "string"), ("fx_px", "double"), ("fy_px", "double"),
        ("cx_px", "double"), ("cy_px", "double"), ("k1", "double"), ("k2", "double"), ("k3", "double"),
        ("height_px", "int64"), ("width_px", "int64")],
    "calibration/egovehicle_SE3_sensor.feather": [("sensor_name", "string"), ("qw", "double"), ("qx", "double"),
        ("qy", "double"), ("qz", "double"), ("tx_m", "double"), ("ty_m", "double"), ("tz_m", "double")],
    "city_SE3_egovehicle.feather": [("timestamp_ns", "int64"), ("qw", "double"), ("qx", "double"),
        ("qy", "double"), ("qz", "double"), ("tx_m", "double"), ("ty_m", "double"), ("tz_m", "double")],
    "annotations.feather": [("timestamp_ns", "int64"), ("track_uuid", "string"), ("category", "string"),
        ("length_m", "double"), ("width_m", "double"), ("height_m", "double"), ("qw", "double"), ("qx", "double"),
        ("qy", "double"), ("qz", "double"), ("tx_m", "double"), ("ty_m", "double"), ("tz_m", "double"),
        ("num_interior_pts", "int64")],
}
for name, columns in expected.items():
    table = feather.read_table(f"{log}/{name}")
    got = [(f.name, str(f.type)) for f in table.schema]
    assert got == columns, f"{name}: {got}"
    print(name, table.num_rows)
poses = feather.read_table(f"{log}/city_SE3_egovehicle.feather").column("timestamp_ns").to_pylist()
assert poses == sorted(poses) and len(set(poses)) == len(poses)
intrinsics = feather.read_table(f"{log}/calibration/intrinsics.feather").to_pydict()
print("fx", intrinsics["sensor_name"][0], repr(intrinsics["fx_px"][0]))
"#;

#[test]
fn pyarrow_reads_our_files_with_the_av2_schema() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = common::small_log(dir.path(), "clear_road", 0.3, 2);
    let output = common::run_python(AV2_SCHEMA_CHECK, &[log_dir.to_str().unwrap()]);
    let log = Av2Log::open(&log_dir).unwrap();
    assert!(output.contains("annotations.feather"), "{output}");
    assert!(
        output.contains(&format!(
            "city_SE3_egovehicle.feather {}",
            log.ego_poses().len()
        )),
        "{output}"
    );
    let fx = log.rig().cameras()[0].model().intrinsics().fx_px;
    assert!(
        output.contains(&format!("fx ring_front_center {fx:?}")),
        "{output} vs {fx:?}"
    );
}

/// Rewrites every feather table of a log with pyarrow, the way other tools
/// write them: LZ4 (pyarrow's default) or ZSTD compression, float32 numbers,
/// int32 sizes, large or dictionary-encoded strings, several record batches.
const PYARROW_REWRITE: &str = r#"
import sys, pyarrow as pa, pyarrow.feather as feather, pyarrow.compute as pc
log, style = sys.argv[1], sys.argv[2]
for name in ["calibration/intrinsics.feather", "calibration/egovehicle_SE3_sensor.feather",
             "city_SE3_egovehicle.feather", "annotations.feather"]:
    table = feather.read_table(f"{log}/{name}")
    columns = []
    for field, column in zip(table.schema, table.columns):
        if style == "narrow" and pa.types.is_floating(field.type) and field.name not in ("qw", "qx", "qy", "qz"):
            column = pc.cast(column, pa.float32())
        if style == "narrow" and field.name in ("width_px", "height_px", "num_interior_pts"):
            column = pc.cast(column, pa.int32())
        if style == "narrow" and pa.types.is_string(field.type):
            column = pc.cast(column, pa.large_string())
        if style == "dictionary" and pa.types.is_string(field.type):
            column = pc.dictionary_encode(column)
        columns.append(column)
    table = pa.table(columns, names=table.column_names)
    compression = {"narrow": "lz4", "dictionary": "zstd"}[style]
    feather.write_feather(table, f"{log}/{name}", compression=compression, chunksize=3)
print("rewritten")
"#;

fn rewritten_log_reads_like_the_original(style: &str) {
    let dir = tempfile::tempdir().unwrap();
    let original_dir = common::small_log(dir.path(), "overtaking_left", 0.3, 4);
    let copy = dir.path().join("pyarrow");
    common::copy_dir(&original_dir, &copy);
    common::run_python(PYARROW_REWRITE, &[copy.to_str().unwrap(), style]);

    let original = Av2Log::open(&original_dir).unwrap();
    let rewritten = Av2Log::open(&copy).unwrap();
    let close = |a: f64, b: f64, what: &str| {
        let tolerance = if style == "narrow" {
            1e-6 * a.abs().max(1.0)
        } else {
            0.0
        };
        assert!((a - b).abs() <= tolerance, "{style}: {what}: {a} vs {b}");
    };
    for (a, b) in original
        .rig()
        .cameras()
        .iter()
        .zip(rewritten.rig().cameras())
    {
        assert_eq!(a.name(), b.name());
        let (ka, kb) = (a.model().intrinsics(), b.model().intrinsics());
        assert_eq!((ka.width_px, ka.height_px), (kb.width_px, kb.height_px));
        close(ka.fx_px, kb.fx_px, "fx");
        close(ka.cy_px, kb.cy_px, "cy");
        close(
            a.model().distortion().unwrap().k1,
            b.model().distortion().unwrap().k1,
            "k1",
        );
        close(
            a.ego_from_camera().translation.z,
            b.ego_from_camera().translation.z,
            "tz",
        );
    }
    let (pa, pb): (&EgoPoses, &EgoPoses) = (original.ego_poses(), rewritten.ego_poses());
    assert_eq!(pa.timestamps_ns(), pb.timestamps_ns());
    for &t in pa.timestamps_ns() {
        let (a, b) = (pa.exact(t).unwrap(), pb.exact(t).unwrap());
        close(a.translation.x, b.translation.x, "pose x");
    }
    let (aa, ab) = (
        original.annotations().unwrap(),
        rewritten.annotations().unwrap(),
    );
    assert_eq!(aa.len(), ab.len());
    for t in aa.timestamps_ns() {
        let (ca, cb) = (aa.nearest(t, 0).unwrap().1, ab.nearest(t, 0).unwrap().1);
        for (a, b) in ca.iter().zip(cb) {
            assert_eq!((&a.track_uuid, &a.category), (&b.track_uuid, &b.category));
            assert_eq!(a.num_interior_pts, b.num_interior_pts);
            close(a.length_m, b.length_m, "length");
            close(
                a.ego_from_object.translation.y,
                b.ego_from_object.translation.y,
                "cuboid y",
            );
        }
    }
}

#[test]
fn reads_lz4_float32_int32_large_string_tables_written_by_pyarrow() {
    rewritten_log_reads_like_the_original("narrow");
}

#[test]
fn reads_zstd_dictionary_string_tables_written_by_pyarrow() {
    rewritten_log_reads_like_the_original("dictionary");
}

#[test]
fn the_official_av2_loader_opens_a_generated_log() {
    let dir = tempfile::tempdir().unwrap();
    // At AV2's 20 Hz camera rate: the loader pairs each annotated sweep with
    // every camera's image within 25 ms, and the front centre camera exposes
    // 39.6 ms after one sweep, so only the image 10.4 ms before the next is
    // near enough (as on a real AV2 log).
    let log = common::small_log_at(dir.path(), "urban_mixed", 0.25, 1, 20.0);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check_av2_loader.py");
    let output = std::process::Command::new(common::python())
        .arg(&script)
        .arg(&log)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("city_SE3_ego found for every image timestamp of every camera"),
        "{stdout}"
    );
    assert!(stdout.contains("ring_rear_right    images=  5"), "{stdout}");
    assert!(stdout.contains("OK: "), "{stdout}");
}
