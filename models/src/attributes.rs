//! What the classifier stage adds to detections: a vehicle subtype for
//! vehicles (one batched classifier run per image) and a lamp state for
//! traffic lights (from colour).

use opencv::core::Mat;
use serde::Serialize;

use crate::classes::ObjectClass;
use crate::classifier::{Classification, Classifier, LabelScore};
use crate::detector::Detection;
use crate::error::ModelError;
use crate::preprocess::crop_rect;
use crate::taxonomy::VehicleSubtype;
use crate::traffic_light::{LightState, light_state};

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Attributes {
    pub subtype: Option<VehicleSubtype>,
    pub subtype_score: Option<f32>,
    pub state: Option<LightState>,
    /// The classifier's best ImageNet labels for the crop (vehicles only).
    pub top: Vec<LabelScore>,
}

/// Whether a detection's class gets a subtype from the classifier.
pub fn wants_subtype(detection: &Detection) -> bool {
    ObjectClass::from_label(&detection.class).is_some_and(ObjectClass::has_subtype)
}

impl Attributes {
    /// The subtype fields of a vehicle's classification (no lamp state).
    pub fn from_classification(classification: Classification) -> Self {
        Self {
            subtype: classification.subtype.map(|(s, _)| s),
            subtype_score: classification.subtype.map(|(_, p)| p),
            state: None,
            top: classification.top,
        }
    }
}

/// `bbox` (x1, y1, x2, y2) scaled by `box_to_image` (x, y).
pub fn scaled_box(bbox: [f32; 4], [sx, sy]: [f32; 2]) -> [f32; 4] {
    let [x1, y1, x2, y2] = bbox;
    [x1 * sx, y1 * sy, x2 * sx, y2 * sy]
}

/// The lamp state of a traffic light (from the colour of its crop);
/// `None` for every other class.
pub fn light_state_of(
    image: &Mat,
    detection: &Detection,
    box_to_image: [f32; 2],
) -> Result<Option<LightState>, ModelError> {
    if ObjectClass::from_label(&detection.class) != Some(ObjectClass::TrafficLight) {
        return Ok(None);
    }
    Ok(Some(
        match crop_rect(image, scaled_box(detection.bbox, box_to_image)) {
            Some(rect) => light_state(&Mat::roi(image, rect)?)?,
            None => LightState::Unknown,
        },
    ))
}

/// Attributes for each detection, in order. Runs the classifier once, on the
/// vehicle crops only. `box_to_image` scales box coordinates (x, y) into
/// `image` pixels: `[1.0, 1.0]` when the boxes are already in them, less when
/// they are in a larger native image than the one decoded.
pub fn attributes<D: AsRef<Detection>>(
    classifier: &mut Classifier,
    image: &Mat,
    detections: &[D],
    box_to_image: [f32; 2],
) -> Result<Vec<Attributes>, ModelError> {
    let vehicles: Vec<usize> = detections
        .iter()
        .enumerate()
        .filter(|(_, d)| wants_subtype(d.as_ref()))
        .map(|(i, _)| i)
        .collect();
    let boxes: Vec<[f32; 4]> = vehicles
        .iter()
        .map(|&i| scaled_box(detections[i].as_ref().bbox, box_to_image))
        .collect();
    let mut classified = if boxes.is_empty() {
        Vec::new()
    } else {
        classifier.classify(image, &boxes)?
    }
    .into_iter();
    let mut result = vec![Attributes::default(); detections.len()];
    for &i in &vehicles {
        if let Some(classification) = classified.next() {
            result[i] = Attributes::from_classification(classification);
        }
    }
    for (i, detection) in detections.iter().map(AsRef::as_ref).enumerate() {
        result[i].state = light_state_of(image, detection, box_to_image)?;
    }
    Ok(result)
}
