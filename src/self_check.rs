//! `heptaview self-check`: proves an installation can do geometry and load its
//! native libraries, and shows the rig the way fusion will see it.

use std::f64::consts::TAU;
use std::path::Path;

use anyhow::{Context, anyhow};
use heptaview_calibration::{Rig, RigCamera, argoverse2_rig};
use nalgebra::{Point2, Vector3};

use crate::Failure;

/// Pixel → ground → pixel must return to the same pixel this closely.
const ROUND_TRIP_TOLERANCE_PX: f64 = 1e-6;

pub fn run(rig_path: Option<&Path>, width: Option<u32>) -> Result<(), Failure> {
    println!("heptaview {} self-check", env!("CARGO_PKG_VERSION"));
    let (rig, source) = match rig_path {
        Some(path) => (
            Rig::load(path).map_err(|e| Failure::BadInput(e.into()))?,
            path.display().to_string(),
        ),
        None => (
            argoverse2_rig()
                .context("the built-in Argoverse 2 rig is invalid")
                .map_err(Failure::Runtime)?,
            "built in".to_owned(),
        ),
    };
    check_rig(&rig, &source)?;
    if let Some(width) = width {
        let scaled = rig
            .scaled_to_width(width)
            .map_err(|e| Failure::BadInput(e.into()))?;
        check_rig(&scaled, &format!("scaled to {width} px wide"))?;
    }
    check_libraries()?;
    println!("\nself-check passed");
    Ok(())
}

fn check_rig(rig: &Rig, source: &str) -> Result<(), Failure> {
    println!(
        "\nRig `{}` ({source}), {} cameras. Ego frame: origin on the ground under the rear axle, x forward, y left, z up.",
        rig.name(),
        rig.cameras().len()
    );
    println!(
        "{:<20} {:>10} {:>8} {:>7} {:>22} {:>7} {:>9} {:>13}",
        "camera", "size", "fx px", "yaw", "position x,y,z m", "HFOV", "horizon", "ground +10%"
    );
    let mut worst_round_trip: f64 = 0.0;
    for camera in rig.cameras() {
        let k = camera.model().intrinsics();
        let axis = camera.ego_from_camera().rotation * Vector3::z();
        let t = camera.ego_from_camera().translation.vector;
        let horizon = camera.horizon_row();
        // The ground 10% of the image height below the horizon, straight ahead.
        let ground_range = horizon.and_then(|row| {
            let pixel = Point2::new(k.cx_px, row + 0.1 * f64::from(k.height_px));
            let ground = camera.pixel_to_ground(&pixel)?;
            Some((ground.coords - t).xy().norm())
        });
        println!(
            "{:<20} {:>10} {:>8.1} {:>6.1}° {:>22} {:>7} {:>9} {:>13}",
            camera.name(),
            format!("{}x{}", k.width_px, k.height_px),
            k.fx_px,
            axis.y.atan2(axis.x).to_degrees(),
            format!("{:.2}, {:.2}, {:.2}", t.x, t.y, t.z),
            camera
                .horizontal_fov_deg()
                .map_or("-".to_owned(), |fov| format!("{fov:.1}°")),
            horizon.map_or("-".to_owned(), |row| format!("{row:.1}")),
            ground_range.map_or("-".to_owned(), |range| format!("{range:.1} m")),
        );
        worst_round_trip = worst_round_trip.max(ground_round_trip_error(camera));
    }

    let pairs = rig.overlapping_pairs();
    println!("\nOverlapping fields of view ({} pairs):", pairs.len());
    for (a, b, degrees) in &pairs {
        println!("  {a:<20} {b:<20} {degrees:5.1}°");
    }
    let gaps = coverage_gaps_deg(rig);
    if gaps.is_empty() {
        println!("Coverage: all 360° around the car.");
    } else {
        let listed: Vec<String> = gaps
            .iter()
            .map(|(from, to)| format!("{from:.0}°..{to:.0}°"))
            .collect();
        println!(
            "Coverage gaps (azimuth, left positive): {}",
            listed.join(", ")
        );
    }

    println!("Pixel → ground → pixel round trip: worst error {worst_round_trip:.1e} px.");
    if worst_round_trip > ROUND_TRIP_TOLERANCE_PX {
        return Err(Failure::Runtime(anyhow!(
            "ground projection does not round-trip: {worst_round_trip:.3e} px > {ROUND_TRIP_TOLERANCE_PX:e} px"
        )));
    }
    Ok(())
}

/// Worst pixel error of pixel → ground → pixel over a grid below the horizon.
fn ground_round_trip_error(camera: &RigCamera) -> f64 {
    let k = camera.model().intrinsics();
    let mut worst: f64 = 0.0;
    for i in 0..=16 {
        for j in 0..=16 {
            let pixel = Point2::new(
                f64::from(i) / 16.0 * f64::from(k.width_px - 1),
                f64::from(j) / 16.0 * f64::from(k.height_px - 1),
            );
            let Some(ground) = camera.pixel_to_ground(&pixel) else {
                continue;
            };
            let error = camera
                .project_ego_point(&ground)
                .map_or(f64::INFINITY, |back| (back - pixel).norm());
            worst = worst.max(error);
        }
    }
    worst
}

/// Azimuth sectors (degrees, -180..180) that no camera sees, sampled every 0.25°.
fn coverage_gaps_deg(rig: &Rig) -> Vec<(f64, f64)> {
    let arcs: Vec<(f64, f64)> = rig
        .cameras()
        .iter()
        .filter_map(RigCamera::azimuth_arc)
        .collect();
    let seen = |azimuth: f64| {
        arcs.iter()
            .any(|(start, width)| (azimuth - start).rem_euclid(TAU) <= *width)
    };
    let mut gaps: Vec<(f64, f64)> = Vec::new();
    let steps = 1440;
    let mut open: Option<f64> = None;
    for step in 0..steps {
        let degrees = -180.0 + 360.0 * f64::from(step) / f64::from(steps);
        match (seen(degrees.to_radians()), open) {
            (false, None) => open = Some(degrees),
            (true, Some(from)) => {
                gaps.push((from, degrees));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        gaps.push((from, 180.0));
    }
    gaps
}

fn check_libraries() -> Result<(), Failure> {
    println!();
    let runtime = heptaview_models::onnxruntime().map_err(|e| Failure::Runtime(e.into()))?;
    println!(
        "{:<14} {:<10} {}",
        "ONNX Runtime",
        runtime.version(),
        runtime.library_path().display()
    );
    for library in heptaview_io::linked_libraries() {
        println!("{:<14} {}", library.name, library.version);
    }
    Ok(())
}
