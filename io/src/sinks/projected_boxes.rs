//! 3D boxes (tracks, ground truth) drawn into a camera's image as wireframes,
//! through the camera's own lens model.
//!
//! Rerun can project 3D entities through a `Pinhole`, but it neither clips
//! at the camera plane (a box beside or behind the camera becomes a
//! translucent slab over the whole image) nor knows lens distortion (a
//! fisheye's boxes would land in the wrong place). Here each edge is cut at
//! a plane just in front of the camera and sampled along its length, so it
//! bends as the lens bends straight lines; the pieces become 2D line strips
//! in image pixels.

use heptaview_calibration::RigCamera;
use nalgebra::{Point3, UnitQuaternion, Vector3};

/// Edge parts closer to the camera plane than this (metres) are cut off.
const NEAR_M: f64 = 0.1;
/// Points per edge: enough for a fisheye's curvature over a car-sized edge.
const SAMPLES_PER_EDGE: usize = 8;
/// The 12 edges of a box, as corner indices (corner bits: x, y, z sign).
const EDGES: [(usize, usize); 12] = [
    (0, 1),
    (2, 3),
    (4, 5),
    (6, 7),
    (0, 2),
    (1, 3),
    (4, 6),
    (5, 7),
    (0, 4),
    (1, 5),
    (2, 6),
    (3, 7),
];

/// A box in the ego frame.
#[derive(Debug, Clone, Copy)]
pub struct EgoBox {
    pub centre: Point3<f64>,
    pub half_size: Vector3<f64>,
    pub rotation: UnitQuaternion<f64>,
}

impl EgoBox {
    fn corners(&self) -> [Point3<f64>; 8] {
        std::array::from_fn(|i| {
            let sign = |bit: usize| if i & bit == 0 { -1.0 } else { 1.0 };
            let local = Vector3::new(
                sign(1) * self.half_size.x,
                sign(2) * self.half_size.y,
                sign(4) * self.half_size.z,
            );
            self.centre + self.rotation * local
        })
    }
}

/// The box's visible wireframe in `camera`'s image: line strips in pixels,
/// empty when no part of it is in front of the camera and on the image.
pub fn wireframe(camera: &RigCamera, ego_box: &EgoBox) -> Vec<Vec<[f32; 2]>> {
    let camera_from_ego = camera.camera_from_ego();
    let corners = ego_box.corners().map(|p| camera_from_ego * p);
    let model = camera.model();
    let mut strips = Vec::new();
    let mut on_image = false;
    for (a, b) in EDGES {
        let Some((from, to)) = clip_to_front(corners[a], corners[b]) else {
            continue;
        };
        let mut strip: Vec<[f32; 2]> = Vec::with_capacity(SAMPLES_PER_EDGE + 1);
        for step in 0..=SAMPLES_PER_EDGE {
            let t = step as f64 / SAMPLES_PER_EDGE as f64;
            let point = from + (to - from) * t;
            match model.project(&point) {
                Some(pixel) => {
                    on_image |= model.contains(&pixel);
                    strip.push([pixel.x as f32, pixel.y as f32]);
                }
                // Past the lens's fold: the edge is broken there.
                None => flush(&mut strip, &mut strips),
            }
        }
        flush(&mut strip, &mut strips);
    }
    if on_image { strips } else { Vec::new() }
}

fn flush(strip: &mut Vec<[f32; 2]>, strips: &mut Vec<Vec<[f32; 2]>>) {
    if strip.len() >= 2 {
        strips.push(std::mem::take(strip));
    } else {
        strip.clear();
    }
}

/// The part of the segment in front of the near plane (camera frame, z
/// forward), or `None` when all of it is behind.
fn clip_to_front(a: Point3<f64>, b: Point3<f64>) -> Option<(Point3<f64>, Point3<f64>)> {
    match (a.z >= NEAR_M, b.z >= NEAR_M) {
        (true, true) => Some((a, b)),
        (false, false) => None,
        (a_in, _) => {
            let t = (NEAR_M - a.z) / (b.z - a.z);
            let cut = a + (b - a) * t;
            Some(if a_in { (a, cut) } else { (cut, b) })
        }
    }
}

#[cfg(test)]
mod tests {
    use heptaview_calibration::argoverse2_rig;

    use super::*;

    fn front_center() -> RigCamera {
        let rig = argoverse2_rig().unwrap();
        rig.cameras()
            .iter()
            .find(|c| c.name() == "ring_front_center")
            .unwrap()
            .clone()
    }

    fn car_at(x: f64, y: f64) -> EgoBox {
        EgoBox {
            centre: Point3::new(x, y, 0.75),
            half_size: Vector3::new(2.25, 0.9, 0.75),
            rotation: UnitQuaternion::identity(),
        }
    }

    #[test]
    fn a_car_ahead_is_twelve_whole_edges_whose_corners_are_the_projected_corners() {
        let camera = front_center();
        let car = car_at(15.0, 0.0);
        let strips = wireframe(&camera, &car);
        assert_eq!(strips.len(), 12);
        assert!(strips.iter().all(|s| s.len() == SAMPLES_PER_EDGE + 1));
        // Each edge starts and ends where its corners project.
        let corner_pixels: Vec<[f32; 2]> = car
            .corners()
            .iter()
            .map(|p| {
                let pixel = camera.project_ego_point(p).unwrap();
                [pixel.x as f32, pixel.y as f32]
            })
            .collect();
        for (strip, (a, b)) in strips.iter().zip(EDGES) {
            let close = |p: [f32; 2], q: [f32; 2]| (p[0] - q[0]).hypot(p[1] - q[1]) < 1e-2;
            assert!(close(strip[0], corner_pixels[a]), "{strip:?}");
            assert!(
                close(strip[SAMPLES_PER_EDGE], corner_pixels[b]),
                "{strip:?}"
            );
        }
    }

    #[test]
    fn a_car_behind_the_front_camera_is_not_drawn_in_it() {
        assert!(wireframe(&front_center(), &car_at(-10.0, 0.0)).is_empty());
    }

    #[test]
    fn a_car_beside_the_camera_is_cut_at_the_camera_plane_not_smeared_over_the_image() {
        let camera = front_center();
        // Half in front of the camera, half behind it, just to the left.
        let car = car_at(1.6, 1.2);
        let strips = wireframe(&camera, &car);
        assert!(!strips.is_empty());
        for point in strips.iter().flatten() {
            assert!(point.iter().all(|v| v.is_finite()), "{point:?}");
        }
        // Every drawn point is in front of the near plane, so it projects
        // from a ray inside the camera's half-space: u grows to the right,
        // and a box on the left never lands right of the principal point.
        let cx = camera.model().intrinsics().cx_px as f32;
        assert!(strips.iter().flatten().all(|p| p[0] < cx), "{strips:?}");
    }

    #[test]
    fn a_box_far_off_to_the_side_is_not_drawn() {
        // In front of the camera plane but 80 degrees off its axis: no pixel
        // on the image.
        assert!(wireframe(&front_center(), &car_at(3.0, 20.0)).is_empty());
    }
}
