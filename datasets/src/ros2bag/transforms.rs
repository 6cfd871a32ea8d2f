//! The frames of a bag: the static tree of `/tf_static` (where each camera
//! is on the vehicle) and the moving links of `/tf` (where the vehicle is).
//! A TF tree stores each link as `parent_from_child`; any two frames under
//! one root are related through it.

use std::collections::HashMap;

use heptaview_calibration::EgoPoses;
use nalgebra::Isometry3;

use super::messages::TransformStamped;

/// ROS 1 frames (and some ROS 2 bridges) start with `/`; tf2 does not.
pub fn frame_name(frame: &str) -> &str {
    frame.trim_start_matches('/')
}

/// Links that do not change: `child → (parent, parent_from_child)`.
#[derive(Debug, Clone, Default)]
pub struct StaticTree {
    links: HashMap<String, (String, Isometry3<f64>)>,
}

impl StaticTree {
    /// Adds a link. A frame has one parent in TF; a later message for the
    /// same child replaces the earlier one, as tf2's buffer does.
    pub fn insert(&mut self, transform: &TransformStamped) {
        self.links.insert(
            frame_name(&transform.child_frame_id).to_owned(),
            (
                frame_name(&transform.header.frame_id).to_owned(),
                transform.parent_from_child,
            ),
        );
    }

    pub fn parent(&self, frame: &str) -> Option<(&str, &Isometry3<f64>)> {
        self.links
            .get(frame)
            .map(|(parent, transform)| (parent.as_str(), transform))
    }

    /// The root above `frame` and `root_from_frame`. A loop in the links
    /// (a broken bag) ends the walk where it would repeat.
    fn root_of(&self, frame: &str) -> (String, Isometry3<f64>) {
        let mut current = frame;
        let mut root_from_frame = Isometry3::identity();
        for _ in 0..=self.links.len() {
            match self.parent(current) {
                Some((parent, parent_from_current)) => {
                    root_from_frame = parent_from_current * root_from_frame;
                    current = parent;
                }
                None => break,
            }
        }
        (current.to_owned(), root_from_frame)
    }

    /// `target_from_source` through the tree, or why there is none (the
    /// frames hang from different roots).
    pub fn transform(&self, target: &str, source: &str) -> Result<Isometry3<f64>, String> {
        let (target_root, root_from_target) = self.root_of(target);
        let (source_root, root_from_source) = self.root_of(source);
        if target_root != source_root {
            return Err(format!(
                "no /tf_static path from {target} to {source} ({target} is under {target_root}, {source} under {source_root})"
            ));
        }
        Ok(root_from_target.inverse() * root_from_source)
    }
}

/// One link's `parent_from_child` at the times it was published.
type Samples = Vec<(u64, Isometry3<f64>)>;

/// Links that move, each sampled over time: `child → (parent, samples)`.
#[derive(Debug, Clone, Default)]
pub struct DynamicLinks {
    links: HashMap<String, (String, Samples)>,
}

impl DynamicLinks {
    pub fn insert(&mut self, stamp_ns: u64, transform: &TransformStamped) {
        let child = frame_name(&transform.child_frame_id).to_owned();
        let parent = frame_name(&transform.header.frame_id);
        let entry = self
            .links
            .entry(child)
            .or_insert_with(|| (parent.to_owned(), Vec::new()));
        // A re-parented frame keeps its latest parent, as tf2 does.
        if entry.0 != parent {
            *entry = (parent.to_owned(), Vec::new());
        }
        entry.1.push((stamp_ns, transform.parent_from_child));
    }
}

/// One link on the way from the world frame down to the ego frame.
enum Link {
    Fixed(Isometry3<f64>),
    Moving(EgoPoses),
}

impl Link {
    fn at(&self, timestamp_ns: u64) -> Option<Isometry3<f64>> {
        match self {
            Link::Fixed(transform) => Some(*transform),
            // Links published more slowly than the ego's (map→odom at 1 Hz
            // beside odom→base_link at 50 Hz) are held at their ends rather
            // than leaving the first and last ego poses out.
            Link::Moving(samples) => {
                let times = samples.timestamps_ns();
                let (first, last) = (*times.first()?, *times.last()?);
                samples.at(timestamp_ns.clamp(first, last))
            }
        }
    }
}

/// `world_from_ego` over time from `/tf` (with `/tf_static` links on the
/// way), sampled at the times of the moving link nearest the ego frame.
/// `world` `None` takes the root above the ego frame. `Ok(None)` when
/// nothing on the way moves (the bag does not say where the vehicle went).
pub fn ego_poses(
    static_tree: &StaticTree,
    dynamic: &DynamicLinks,
    ego_frame: &str,
    world: Option<&str>,
) -> Result<Option<EgoPoses>, String> {
    let mut path: Vec<Link> = Vec::new(); // from ego upwards
    let mut visited: Vec<String> = vec![ego_frame.to_owned()];
    let mut current = ego_frame.to_owned();
    while world != Some(current.as_str()) {
        let (parent, link) = if let Some((parent, samples)) = dynamic.links.get(&current) {
            (
                parent.clone(),
                Link::Moving(EgoPoses::from_samples(samples.clone())),
            )
        } else if let Some((parent, transform)) = static_tree.parent(&current) {
            (parent.to_owned(), Link::Fixed(*transform))
        } else {
            break;
        };
        if visited.contains(&parent) {
            return Err(format!("/tf has a loop through frame {parent}"));
        }
        visited.push(parent.clone());
        path.push(link);
        current = parent;
    }
    if let Some(world) = world
        && current != world
    {
        return Err(format!(
            "world frame {world} is not above {ego_frame} in /tf (above it: {})",
            visited[1..].join(" → ")
        ));
    }
    let Some(Link::Moving(nearest)) = path.iter().find(|l| matches!(l, Link::Moving(_))) else {
        return Ok(None);
    };
    let mut samples = Vec::with_capacity(nearest.len());
    for t in nearest.timestamps_ns() {
        // world_from_ego = world_from_a * a_from_b * ... * parent_from_ego.
        let world_from_ego = path
            .iter()
            .rev()
            .try_fold(Isometry3::identity(), |acc, link| {
                link.at(*t).map(|l| acc * l)
            });
        if let Some(pose) = world_from_ego {
            samples.push((*t, pose));
        }
    }
    Ok(Some(EgoPoses::from_samples(samples)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros2bag::messages::{Header, Time};
    use nalgebra::{Translation3, UnitQuaternion, Vector3};

    fn link(parent: &str, child: &str, t_ns: u64, transform: Isometry3<f64>) -> TransformStamped {
        TransformStamped {
            header: Header {
                stamp: Time::from_ns(t_ns),
                frame_id: parent.into(),
            },
            child_frame_id: child.into(),
            parent_from_child: transform,
        }
    }

    fn shift(x: f64, y: f64, z: f64) -> Isometry3<f64> {
        Isometry3::from_parts(Translation3::new(x, y, z), UnitQuaternion::identity())
    }

    #[test]
    fn a_chain_composes_parent_to_child() {
        let mut tree = StaticTree::default();
        let turn = Isometry3::from_parts(
            Translation3::new(0.0, 0.0, 0.0),
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 0.5),
        );
        tree.insert(&link("base_link", "mount", 0, shift(1.0, 0.0, 1.5)));
        tree.insert(&link("/mount", "cam_optical", 0, turn));
        let ego_from_camera = tree.transform("base_link", "cam_optical").unwrap();
        let expected = shift(1.0, 0.0, 1.5) * turn;
        assert!((ego_from_camera.to_homogeneous() - expected.to_homogeneous()).norm() < 1e-12);
        // Siblings relate through their common parent.
        tree.insert(&link("base_link", "imu", 0, shift(0.0, 1.0, 0.0)));
        let imu_from_cam = tree.transform("imu", "cam_optical").unwrap();
        assert!(
            (imu_from_cam.to_homogeneous() - (shift(0.0, -1.0, 0.0) * expected).to_homogeneous())
                .norm()
                < 1e-12
        );
        let err = tree.transform("base_link", "lidar").unwrap_err();
        assert!(err.contains("lidar"), "{err}");
    }

    #[test]
    fn poses_compose_moving_and_fixed_links() {
        let tree = StaticTree::default();
        let mut dynamic = DynamicLinks::default();
        dynamic.insert(0, &link("map", "odom", 0, shift(10.0, 0.0, 0.0)));
        dynamic.insert(100, &link("map", "odom", 100, shift(20.0, 0.0, 0.0)));
        for t in [0, 50, 100, 150] {
            dynamic.insert(t, &link("odom", "base_link", t, shift(t as f64, 0.0, 0.0)));
        }
        let poses = ego_poses(&tree, &dynamic, "base_link", None)
            .unwrap()
            .unwrap();
        assert_eq!(poses.timestamps_ns(), &[0, 50, 100, 150]);
        let x: Vec<f64> = poses.samples().map(|(_, p)| p.translation.x).collect();
        assert_eq!(x, [10.0, 65.0, 120.0, 170.0]);
        let err = ego_poses(&tree, &dynamic, "base_link", Some("earth")).unwrap_err();
        assert!(err.contains("odom → map"), "{err}");
        assert!(
            ego_poses(&tree, &DynamicLinks::default(), "base_link", None)
                .unwrap()
                .is_none()
        );
    }
}
