//! Tracking over time: one constant-velocity Kalman filter per object, in a
//! world frame (the city frame when the log has ego poses, so the car's own
//! motion is compensated; the ego frame otherwise), gated association, and
//! rules for birth, confirmation and deletion. Cameras that were not
//! detected on this frame set (non-key frames) do not count as misses: their
//! objects coast on their velocity.

use nalgebra::{Isometry3, Matrix2, Matrix2x4, Matrix4, Point2, Point3, Vector2, Vector4};

use crate::config::TrackerConfig;
use crate::types::FusedObject;
use crate::types::{CameraId, Track};
use heptaview_models::classes::same_object_kind;

#[derive(Debug, Clone)]
struct Filter {
    id: u64,
    class: String,
    subtype: Option<&'static str>,
    /// px, py, vx, vy in the world frame.
    state: Vector4<f64>,
    covariance: Matrix4<f64>,
    hits: u32,
    born_ns: u64,
    updated_ns: u64,
    predicted_ns: u64,
    /// The last time a camera that saw it was detected (or it was updated,
    /// or its cameras were absent).
    looked_ns: u64,
    /// Time a camera that saw it was looking without finding it.
    unseen_ns: u64,
    cameras: Vec<CameraId>,
}

/// What became of a camera's frame in a frame set, as the tracker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraView {
    /// The detector looked at it.
    Detected,
    /// A non-key frame: the detector did not look.
    Skipped,
    /// No usable frame (missing, dropped, camera down).
    Absent,
}

const OBSERVE: Matrix2x4<f64> = Matrix2x4::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0);

impl Filter {
    fn predict(&mut self, t_ns: u64, acceleration_sigma: f64) {
        let dt = t_ns.saturating_sub(self.predicted_ns) as f64 / 1e9;
        if dt <= 0.0 {
            return;
        }
        let f = Matrix4::new(
            1.0, 0.0, dt, 0.0, //
            0.0, 1.0, 0.0, dt, //
            0.0, 0.0, 1.0, 0.0, //
            0.0, 0.0, 0.0, 1.0,
        );
        let q = acceleration_sigma * acceleration_sigma;
        let (dt2, dt3, dt4) = (dt * dt, dt * dt * dt / 2.0, dt * dt * dt * dt / 4.0);
        let noise = Matrix4::new(
            dt4, 0.0, dt3, 0.0, //
            0.0, dt4, 0.0, dt3, //
            dt3, 0.0, dt2, 0.0, //
            0.0, dt3, 0.0, dt2,
        ) * q;
        self.state = f * self.state;
        self.covariance = f * self.covariance * f.transpose() + noise;
        self.predicted_ns = t_ns;
    }

    fn innovation(&self, position: &Point2<f64>, sigma_m: f64) -> (Vector2<f64>, Matrix2<f64>) {
        let residual = position.coords - OBSERVE * self.state;
        let s = OBSERVE * self.covariance * OBSERVE.transpose()
            + Matrix2::identity() * sigma_m * sigma_m;
        (residual, s)
    }

    fn mahalanobis2(&self, position: &Point2<f64>, sigma_m: f64) -> f64 {
        let (residual, s) = self.innovation(position, sigma_m);
        s.try_inverse().map_or(f64::INFINITY, |inverse| {
            (residual.transpose() * inverse * residual)[(0, 0)]
        })
    }

    fn update(&mut self, position: &Point2<f64>, sigma_m: f64) {
        let (residual, s) = self.innovation(position, sigma_m);
        let Some(inverse) = s.try_inverse() else {
            return;
        };
        let gain = self.covariance * OBSERVE.transpose() * inverse;
        self.state += gain * residual;
        self.covariance = (Matrix4::identity() - gain * OBSERVE) * self.covariance;
    }
}

/// The multi-object tracker.
#[derive(Debug, Default)]
pub struct Tracker {
    config: TrackerConfig,
    filters: Vec<Filter>,
    next_id: u64,
    /// Per object of the last step: the confirmed track it went into.
    assignments: Vec<Option<u64>>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            filters: Vec::new(),
            next_id: 1,
            assignments: Vec::new(),
        }
    }

    /// Per object given to the last `step`: the confirmed track it went into.
    pub fn assignments(&self) -> &[Option<u64>] {
        &self.assignments
    }

    /// One frame set: `objects` in the ego frame at `t_ns`, `world_from_ego`
    /// the ego pose then, `view(camera)` what became of that camera's frame
    /// in this set. Returns the confirmed tracks in the ego frame.
    pub fn step(
        &mut self,
        t_ns: u64,
        world_from_ego: &Isometry3<f64>,
        objects: &[FusedObject],
        view: &dyn Fn(CameraId) -> CameraView,
    ) -> Vec<Track> {
        for filter in &mut self.filters {
            filter.predict(t_ns, self.config.acceleration_sigma.get());
        }
        let world: Vec<Point2<f64>> = objects
            .iter()
            .map(|o| (world_from_ego * Point3::new(o.position.x, o.position.y, 0.0)).xy())
            .collect();

        // Gated pairs, closest (in Mahalanobis distance) first.
        let mut pairs = Vec::new();
        for (f, filter) in self.filters.iter().enumerate() {
            for (o, object) in objects.iter().enumerate() {
                if !same_object_kind(&filter.class, &object.class) {
                    continue;
                }
                let d2 = filter.mahalanobis2(&world[o], object.sigma_m);
                if d2 <= self.config.gate_chi2.get() {
                    pairs.push((d2, f, o));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut filter_taken = vec![false; self.filters.len()];
        let mut assignments: Vec<Option<u64>> = vec![None; objects.len()];
        let mut object_taken = vec![false; objects.len()];
        for (_, f, o) in pairs {
            if filter_taken[f] || object_taken[o] {
                continue;
            }
            filter_taken[f] = true;
            object_taken[o] = true;
            let filter = &mut self.filters[f];
            assignments[o] = Some(filter.id);
            filter.update(&world[o], objects[o].sigma_m);
            filter.hits += 1;
            filter.updated_ns = t_ns;
            filter.cameras = objects[o].cameras.clone();
            if objects[o].score > 0.0 {
                filter.class = objects[o].class.clone();
            }
            if objects[o].subtype.is_some() {
                filter.subtype = objects[o].subtype;
            }
        }

        // Births, from objects seen whole: a box cut by the image's side
        // places only a part of its object (possibly beside it, in free space),
        // so it may update a track but not start one.
        for (o, object) in objects.iter().enumerate() {
            if object_taken[o] || object.partial {
                continue;
            }
            let sigma2 = object.sigma_m * object.sigma_m;
            let speed_prior = 10.0 * 10.0;
            self.filters.push(Filter {
                id: self.next_id,
                class: object.class.clone(),
                subtype: object.subtype,
                state: Vector4::new(world[o].x, world[o].y, 0.0, 0.0),
                covariance: Matrix4::from_diagonal(&Vector4::new(
                    sigma2,
                    sigma2,
                    speed_prior,
                    speed_prior,
                )),
                hits: 1,
                born_ns: t_ns,
                updated_ns: t_ns,
                predicted_ns: t_ns,
                looked_ns: t_ns,
                unseen_ns: 0,
                cameras: object.cameras.clone(),
            });
            assignments[o] = Some(self.next_id);
            self.next_id += 1;
        }

        // Deaths: unseen too long. When a camera that saw it looks again
        // without finding it, the time since the last look counts, non-key
        // frames in between included (their detections were not looked for);
        // time in which its cameras were absent does not.
        let max_unseen_ns = (self.config.max_unseen_s.get() * 1e9) as u64;
        let confirm = self.config.confirm_hits;
        self.filters.retain_mut(|filter| {
            if filter.updated_ns == t_ns {
                filter.unseen_ns = 0;
                filter.looked_ns = t_ns;
                return true;
            }
            let views: Vec<CameraView> = filter.cameras.iter().map(|c| view(*c)).collect();
            if views.contains(&CameraView::Detected) {
                filter.unseen_ns += t_ns.saturating_sub(filter.looked_ns);
                filter.looked_ns = t_ns;
                filter.hits >= confirm && filter.unseen_ns <= max_unseen_ns
            } else {
                if !views.contains(&CameraView::Skipped) {
                    filter.looked_ns = t_ns;
                }
                true
            }
        });

        // Only confirmed tracks are reported, so only they are named.
        let confirmed = |id: u64| {
            self.filters
                .iter()
                .any(|f| f.id == id && f.hits >= self.config.confirm_hits)
        };
        self.assignments = assignments
            .into_iter()
            .map(|a| a.filter(|id| confirmed(*id)))
            .collect();

        let ego_from_world = world_from_ego.inverse();
        self.filters
            .iter()
            .filter(|f| f.hits >= confirm)
            .map(|f| {
                let position = ego_from_world * Point3::new(f.state[0], f.state[1], 0.0);
                let velocity =
                    ego_from_world.rotation * nalgebra::Vector3::new(f.state[2], f.state[3], 0.0);
                Track {
                    id: f.id,
                    class: f.class.clone(),
                    subtype: f.subtype,
                    position_m: [position.x, position.y],
                    velocity_mps: [velocity.x, velocity.y],
                    cameras: f.cameras.clone(),
                    age_s: t_ns.saturating_sub(f.born_ns) as f64 / 1e9,
                    sigma_m: f.covariance[(0, 0)].max(f.covariance[(1, 1)]).sqrt(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(x: f64, y: f64, class: &str) -> FusedObject {
        FusedObject {
            class: class.to_owned(),
            subtype: None,
            partial: false,
            detections: Vec::new(),
            score: 0.8,
            position: Point2::new(x, y),
            sigma_m: 0.3,
            cameras: vec![CameraId(0)],
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_steady_object_gets_its_velocity_and_is_confirmed_on_the_second_hit() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let identity = Isometry3::identity();
        let mut tracks = Vec::new();
        for k in 0..20u64 {
            let t = k as f64 * 0.1;
            tracks = tracker.step(
                k * S / 10,
                &identity,
                &[object(20.0 + 5.0 * t, 3.0 - 1.0 * t, "car")],
                &|_| CameraView::Detected,
            );
            if k == 0 {
                assert!(tracks.is_empty(), "tentative after one hit");
                assert_eq!(
                    tracker.assignments(),
                    [None],
                    "a tentative track is not named"
                );
            }
            if k == 1 {
                assert_eq!(tracks.len(), 1);
                assert_eq!(tracker.assignments(), [Some(tracks[0].id)]);
            }
        }
        let track = &tracks[0];
        assert!(
            (track.velocity_mps[0] - 5.0).abs() < 0.3 && (track.velocity_mps[1] + 1.0).abs() < 0.3,
            "{track:?}"
        );
        assert!((track.position_m[0] - 29.5).abs() < 0.3, "{track:?}");
        assert_eq!(track.id, 1);
    }

    #[test]
    fn a_track_keeps_the_subtype_the_classifier_last_gave_it() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let identity = Isometry3::identity();
        let pickup = FusedObject {
            subtype: Some("pickup"),
            ..object(15.0, -3.0, "truck")
        };
        tracker.step(0, &identity, std::slice::from_ref(&pickup), &|_| {
            CameraView::Detected
        });
        // Later frames without a classifier verdict (e.g. the crop was too small).
        let tracks = tracker.step(S / 10, &identity, &[object(15.0, -3.0, "truck")], &|_| {
            CameraView::Detected
        });
        assert_eq!(tracks[0].subtype, Some("pickup"));
    }

    #[test]
    fn an_object_seen_only_cut_by_an_image_side_updates_a_track_but_starts_none() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let identity = Isometry3::identity();
        let cut = |x: f64| FusedObject {
            partial: true,
            sigma_m: 2.0,
            ..object(x, -2.0, "car")
        };
        for k in 0..3 {
            let tracks = tracker.step(k * S / 10, &identity, &[cut(8.0)], &|_| {
                CameraView::Detected
            });
            assert!(tracks.is_empty(), "{tracks:?}");
        }
        // Seen whole, the object gets a track, which a cut view then keeps up.
        tracker.step(3 * S / 10, &identity, &[object(8.0, -3.0, "car")], &|_| {
            CameraView::Detected
        });
        tracker.step(4 * S / 10, &identity, &[object(8.0, -3.0, "car")], &|_| {
            CameraView::Detected
        });
        let tracks = tracker.step(5 * S / 10, &identity, &[cut(8.5)], &|_| {
            CameraView::Detected
        });
        assert_eq!(tracks.len(), 1, "{tracks:?}");
    }

    #[test]
    fn ego_motion_is_compensated_with_world_poses() {
        // A parked car 20 m ahead while the ego drives at 10 m/s: relative
        // position shrinks, world velocity is zero.
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut tracks = Vec::new();
        for k in 0..15u64 {
            let ego_x = k as f64;
            let pose = Isometry3::translation(ego_x, 0.0, 0.0);
            tracks = tracker.step(
                k * S / 10,
                &pose,
                &[object(20.0 - ego_x, 0.0, "car")],
                &|_| CameraView::Detected,
            );
        }
        let track = &tracks[0];
        assert!(track.velocity_mps[0].abs() < 0.3, "{track:?}");
        assert!((track.position_m[0] - 6.0).abs() < 0.3, "{track:?}");
    }

    #[test]
    fn objects_coast_through_non_key_frames_and_die_when_really_unseen() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let identity = Isometry3::identity();
        for k in 0..5u64 {
            tracker.step(
                k * S / 10,
                &identity,
                &[object(10.0 + k as f64, 0.0, "person")],
                &|_| CameraView::Detected,
            );
        }
        // Three seconds of non-key frames for camera 0: the track stays and moves on.
        let mut coasting = Vec::new();
        for k in 5..35u64 {
            coasting = tracker.step(k * S / 10, &identity, &[], &|_| CameraView::Skipped);
        }
        assert_eq!(coasting.len(), 1);
        assert!(coasting[0].position_m[0] > 30.0, "{:?}", coasting[0]);
        // Now the camera looks and sees nothing: gone after max_unseen_s.
        let mut seen_empty = coasting;
        for k in 35..60u64 {
            seen_empty = tracker.step(k * S / 10, &identity, &[], &|_| CameraView::Detected);
        }
        assert!(seen_empty.is_empty());
    }

    #[test]
    fn time_between_key_frames_counts_when_the_camera_looks_and_misses() {
        let config = TrackerConfig::default();
        let mut tracker = Tracker::new(config.clone());
        let identity = Isometry3::identity();
        let ms = S / 1000;
        for k in 0..4u64 {
            tracker.step(k * 50 * ms, &identity, &[object(10.0, 0.0, "car")], &|_| {
                CameraView::Detected
            });
        }
        // From 150 ms on, the car is gone; its camera is detected on every
        // other set (a key frame every 100 ms) and sees nothing.
        let last_seen_ms = 150;
        let mut died_ms = None;
        for k in 4..100u64 {
            let view = if k % 2 == 0 {
                CameraView::Detected
            } else {
                CameraView::Skipped
            };
            let tracks = tracker.step(k * 50 * ms, &identity, &[], &|_| view);
            if tracks.is_empty() {
                died_ms = Some(k * 50);
                break;
            }
        }
        let died_ms = died_ms.expect("the track never died");
        let unseen_ms = (died_ms - last_seen_ms) as f64;
        assert!(
            (unseen_ms - config.max_unseen_s.get() * 1e3).abs() <= 100.0,
            "died {unseen_ms} ms after it was last seen"
        );
    }

    #[test]
    fn absent_cameras_do_not_count_against_a_track() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let identity = Isometry3::identity();
        for k in 0..4u64 {
            tracker.step(k * S / 10, &identity, &[object(10.0, 0.0, "car")], &|_| {
                CameraView::Detected
            });
        }
        // Its camera is down for two seconds, then misses it once.
        for k in 4..24u64 {
            tracker.step(k * S / 10, &identity, &[], &|_| CameraView::Absent);
        }
        let tracks = tracker.step(24 * S / 10, &identity, &[], &|_| CameraView::Detected);
        assert_eq!(tracks.len(), 1, "one miss after an outage is not a death");
    }

    #[test]
    fn two_objects_keep_their_identities() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let identity = Isometry3::identity();
        let mut tracks = Vec::new();
        for k in 0..10u64 {
            let t = k as f64 * 0.1;
            tracks = tracker.step(
                k * S / 10,
                &identity,
                &[
                    object(15.0, -3.0 + t, "person"),
                    object(30.0 - 8.0 * t, 3.5, "car"),
                ],
                &|_| CameraView::Detected,
            );
        }
        tracks.sort_by_key(|t| t.id);
        assert_eq!(tracks.len(), 2);
        assert_eq!(
            (tracks[0].class.as_str(), tracks[1].class.as_str()),
            ("person", "car")
        );
        assert!(
            (tracks[1].velocity_mps[0] + 8.0).abs() < 0.5,
            "{:?}",
            tracks[1]
        );
    }
}
