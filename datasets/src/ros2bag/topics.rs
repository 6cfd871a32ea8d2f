//! Which topics are which cameras: a user's topic map (TOML), or names
//! derived from the image topics themselves.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::DatasetError;

/// The frame cameras are placed in unless a map says otherwise (REP 105).
pub const DEFAULT_EGO_FRAME: &str = "base_link";

/// One camera: what heptaview calls it, where its images and calibration are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraTopics {
    pub name: String,
    /// A `sensor_msgs/msg/CompressedImage` topic.
    pub image: String,
    /// A `sensor_msgs/msg/CameraInfo` topic.
    pub info: String,
}

/// What a topic map file says; `None`/empty fields take the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicMap {
    pub ego_frame: Option<String>,
    /// The frame poses are given in; by default the root of `/tf` above the
    /// ego frame.
    pub world_frame: Option<String>,
    /// A `nav_msgs/msg/Odometry` topic to take poses from instead of `/tf`.
    pub odometry: Option<String>,
    /// The cameras in the file's order; empty means every image topic.
    pub cameras: Vec<CameraTopics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    ego_frame: Option<String>,
    world_frame: Option<String>,
    odometry: Option<String>,
    #[serde(default)]
    cameras: BTreeMap<String, toml::Spanned<CameraEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraEntry {
    image: String,
    info: Option<String>,
}

impl TopicMap {
    pub fn read(path: &Path) -> Result<Self, DatasetError> {
        let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| DatasetError::Layout {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: MapFile =
            toml::from_str(text).map_err(|e| format!("not a valid topic map: {e}"))?;
        // A TOML table has no order of its own; the cameras keep the order
        // the user wrote them in, which is the order the run reports them.
        let mut entries: Vec<(String, toml::Spanned<CameraEntry>)> =
            file.cameras.into_iter().collect();
        entries.sort_by_key(|(_, entry)| entry.span().start);
        let cameras = entries
            .into_iter()
            .map(|(name, entry)| {
                let entry = entry.into_inner();
                let info = match entry.info {
                    Some(info) => info,
                    None => info_topic(&entry.image),
                };
                CameraTopics {
                    name,
                    image: entry.image,
                    info,
                }
            })
            .collect();
        Ok(Self {
            ego_frame: file.ego_frame,
            world_frame: file.world_frame,
            odometry: file.odometry,
            cameras,
        })
    }

    pub fn ego_frame(&self) -> &str {
        self.ego_frame.as_deref().unwrap_or(DEFAULT_EGO_FRAME)
    }
}

/// The image topic without its image_transport and image-kind suffixes
/// (`/cam_front/image_raw/compressed` → `/cam_front`): the camera's
/// namespace.
fn camera_namespace(image_topic: &str) -> &str {
    let topic = image_topic
        .strip_suffix("/compressed")
        .unwrap_or(image_topic);
    match topic.rsplit_once('/') {
        Some((parent, last))
            if last == "image"
                || last == "image_raw"
                || last == "image_color"
                || last.starts_with("image_rect") =>
        {
            parent
        }
        _ => topic,
    }
}

/// The camera name heptaview gives an image topic: its namespace without the
/// leading `/`, other `/` as `_` (`/cam/front/image_raw/compressed` →
/// `cam_front`); `None` when nothing is left.
pub fn camera_name(image_topic: &str) -> Option<String> {
    let namespace = camera_namespace(image_topic).trim_start_matches('/');
    (!namespace.is_empty()).then(|| namespace.replace('/', "_"))
}

/// The `camera_info` topic next to an image topic, where image_transport
/// publishers put it.
pub fn info_topic(image_topic: &str) -> String {
    format!("{}/camera_info", camera_namespace(image_topic))
}

/// Every image topic as a camera, ordered by topic, named from the topic.
pub fn derive_cameras(image_topics: &[&str]) -> Result<Vec<CameraTopics>, String> {
    let mut topics = image_topics.to_vec();
    topics.sort_unstable();
    let mut cameras: Vec<CameraTopics> = Vec::with_capacity(topics.len());
    for topic in topics {
        let name = camera_name(topic).ok_or_else(|| {
            format!("topic {topic}: no camera name can be made from it; name it in a topic map")
        })?;
        if let Some(other) = cameras.iter().find(|c| c.name == name) {
            return Err(format!(
                "topics {} and {topic} both make camera name `{name}`; name them in a topic map",
                other.image
            ));
        }
        cameras.push(CameraTopics {
            name,
            image: topic.to_owned(),
            info: info_topic(topic),
        });
    }
    Ok(cameras)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_info_topics_come_from_the_namespace() {
        for (topic, name, info) in [
            (
                "/cam_front/image_raw/compressed",
                "cam_front",
                "/cam_front/camera_info",
            ),
            (
                "/sensors/left/image_rect_color/compressed",
                "sensors_left",
                "/sensors/left/camera_info",
            ),
            ("/rear/image/compressed", "rear", "/rear/camera_info"),
            ("/rear/compressed", "rear", "/rear/camera_info"),
        ] {
            assert_eq!(camera_name(topic).as_deref(), Some(name), "{topic}");
            assert_eq!(info_topic(topic), info, "{topic}");
        }
        assert_eq!(camera_name("/image_raw/compressed"), None);
    }

    #[test]
    fn derived_cameras_are_sorted_and_distinct() {
        let cameras = derive_cameras(&["/b/image_raw/compressed", "/a/image/compressed"]).unwrap();
        let names: Vec<_> = cameras.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let err = derive_cameras(&["/a/image/compressed", "/a/image_raw/compressed"]).unwrap_err();
        assert!(err.contains("both make camera name `a`"), "{err}");
    }

    #[test]
    fn a_map_keeps_its_order_and_defaults() {
        let map = TopicMap::parse(
            r#"
            world_frame = "map"
            [cameras.zeta]
            image = "/z/image_raw/compressed"
            [cameras.alpha]
            image = "/a/image_raw/compressed"
            info = "/calib/a"
            "#,
        )
        .unwrap();
        assert_eq!(map.ego_frame(), "base_link");
        assert_eq!(map.world_frame.as_deref(), Some("map"));
        assert_eq!(map.cameras[0].name, "zeta");
        assert_eq!(map.cameras[0].info, "/z/camera_info");
        assert_eq!(map.cameras[1].info, "/calib/a");
        let err = TopicMap::parse("[cameras.a]\nimage = \"/a\"\nimfo = \"/b\"\n").unwrap_err();
        assert!(err.contains("imfo"), "{err}");
    }
}
