//! What the classifier stage adds to detections: a vehicle subtype for
//! vehicles (one batched classifier run per image) and a lamp state for
//! traffic lights (from colour).

use opencv::core::Mat;
use serde::Serialize;

use crate::classes::ObjectClass;
use crate::classifier::{Classifier, LabelScore};
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
    let [sx, sy] = box_to_image;
    let in_image = |d: &Detection| {
        let [x1, y1, x2, y2] = d.bbox;
        [x1 * sx, y1 * sy, x2 * sx, y2 * sy]
    };
    let vehicles: Vec<usize> = detections
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            ObjectClass::from_label(&d.as_ref().class).is_some_and(ObjectClass::has_subtype)
        })
        .map(|(i, _)| i)
        .collect();
    let boxes: Vec<[f32; 4]> = vehicles
        .iter()
        .map(|&i| in_image(detections[i].as_ref()))
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
            result[i].subtype = classification.subtype.map(|(s, _)| s);
            result[i].subtype_score = classification.subtype.map(|(_, p)| p);
            result[i].top = classification.top;
        }
    }
    for (i, detection) in detections.iter().map(AsRef::as_ref).enumerate() {
        if ObjectClass::from_label(&detection.class) == Some(ObjectClass::TrafficLight) {
            let state = match crop_rect(image, in_image(detection)) {
                Some(rect) => light_state(&Mat::roi(image, rect)?)?,
                None => LightState::Unknown,
            };
            result[i].state = Some(state);
        }
    }
    Ok(result)
}
