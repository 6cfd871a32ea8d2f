//! Cross-camera association: observations of one object by cameras whose
//! fields of view overlap become one fused object.

use heptaview_models::classes::same_object_kind;
use nalgebra::Point2;

use super::ground::GroundObservation;
use crate::types::FusedObject;

/// Two boxes of one camera this close on the ground are one object.
const SAME_OBJECT_M: f64 = 1.5;

/// Same-object gate: three standard deviations of the difference, within
/// sensible bounds (an object is a few metres across at most).
fn gate_m(a: f64, b: f64) -> f64 {
    (3.0 * (a * a + b * b).sqrt()).clamp(1.0, 4.0)
}

/// Greedy association, most confident observations first: each joins the
/// nearest fused object of its family within the gate that no observation
/// of its own camera has joined yet (one camera sees an object once) —
/// unless it lies within `SAME_OBJECT_M` of it: the detector sometimes boxes
/// one vehicle twice, as car and as truck — or starts a new one. Positions
/// combine by inverse-variance weighting.
pub fn fuse(mut observations: Vec<GroundObservation>) -> Vec<FusedObject> {
    observations.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.camera.cmp(&b.camera)));
    let mut fused: Vec<(FusedObject, f64)> = Vec::new();
    for observation in observations {
        let candidate = fused
            .iter_mut()
            .filter(|(object, _)| same_object_kind(&object.class, &observation.class))
            .map(|entry| {
                let distance = (entry.0.position - observation.position).norm();
                (distance, entry)
            })
            .filter(|(distance, (object, _))| {
                let same_camera = object.cameras.contains(&observation.camera);
                if same_camera {
                    *distance <= SAME_OBJECT_M
                } else {
                    *distance <= gate_m(object.sigma_m, observation.sigma_m)
                }
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match candidate {
            Some((_, (object, weight_sum))) => {
                let weight = 1.0 / (observation.sigma_m * observation.sigma_m);
                let total = *weight_sum + weight;
                object.position = Point2::from(
                    (object.position.coords * *weight_sum + observation.position.coords * weight)
                        / total,
                );
                object.sigma_m = (1.0 / total).sqrt();
                *weight_sum = total;
                object.partial &= observation.cut_one_side;
                object
                    .detections
                    .push((observation.camera, observation.detection));
                if !object.cameras.contains(&observation.camera) {
                    object.cameras.push(observation.camera);
                }
                if object.subtype.is_none() {
                    object.subtype = observation.subtype;
                }
                if observation.score > object.score {
                    object.score = observation.score;
                    object.class = observation.class;
                }
            }
            None => {
                let weight = 1.0 / (observation.sigma_m * observation.sigma_m);
                fused.push((
                    FusedObject {
                        class: observation.class,
                        subtype: observation.subtype,
                        score: observation.score,
                        position: observation.position,
                        sigma_m: observation.sigma_m,
                        cameras: vec![observation.camera],
                        partial: observation.cut_one_side,
                        detections: vec![(observation.camera, observation.detection)],
                    },
                    weight,
                ));
            }
        }
    }
    fused.into_iter().map(|(object, _)| object).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::ground::Method;
    use crate::types::CameraId;

    fn obs(
        camera: usize,
        class: &str,
        x: f64,
        y: f64,
        sigma: f64,
        score: f32,
    ) -> GroundObservation {
        GroundObservation {
            camera: CameraId(camera),
            detection: 0,
            class: class.to_owned(),
            subtype: None,
            score,
            position: Point2::new(x, y),
            sigma_m: sigma,
            method: Method::GroundContact,
            truncated: false,
            cut_one_side: false,
        }
    }

    #[test]
    fn one_object_seen_by_two_cameras_becomes_one() {
        let fused = fuse(vec![
            obs(0, "car", 10.0, 2.0, 0.5, 0.8),
            obs(1, "truck", 10.6, 2.2, 0.5, 0.6),
        ]);
        assert_eq!(fused.len(), 1);
        let object = &fused[0];
        assert_eq!(object.class, "car");
        assert_eq!(object.cameras, [CameraId(0), CameraId(1)]);
        assert!((object.position - Point2::new(10.3, 2.1)).norm() < 1e-9);
        assert!((object.sigma_m - 0.5 / 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn the_more_certain_observation_weighs_more() {
        let fused = fuse(vec![
            obs(0, "person", 20.0, 0.0, 0.3, 0.9),
            obs(1, "person", 21.2, 0.0, 0.9, 0.5),
        ]);
        assert_eq!(fused.len(), 1);
        assert!(
            (fused[0].position.x
                - (20.0 * 1.0 / 0.09 + 21.2 * 1.0 / 0.81) / (1.0 / 0.09 + 1.0 / 0.81))
                .abs()
                < 1e-9
        );
    }

    #[test]
    fn different_classes_far_apart_or_from_the_same_camera_stay_apart() {
        assert_eq!(
            fuse(vec![
                obs(0, "car", 10.0, 0.0, 0.5, 0.8),
                obs(1, "person", 10.2, 0.0, 0.5, 0.8)
            ])
            .len(),
            2
        );
        assert_eq!(
            fuse(vec![
                obs(0, "car", 10.0, 0.0, 0.5, 0.8),
                obs(1, "car", 16.0, 0.0, 0.5, 0.8)
            ])
            .len(),
            2
        );
        assert_eq!(
            fuse(vec![
                obs(0, "car", 10.0, 0.0, 0.5, 0.8),
                obs(0, "car", 12.5, 0.0, 0.5, 0.7)
            ])
            .len(),
            2
        );
        // One vehicle boxed twice by one camera (as car and as truck) is one object.
        let twice = fuse(vec![
            obs(0, "car", 10.0, 0.0, 0.5, 0.8),
            obs(0, "truck", 10.3, 0.1, 0.5, 0.6),
        ]);
        assert_eq!(twice.len(), 1);
        assert_eq!(twice[0].cameras, [CameraId(0)]);
    }
}
