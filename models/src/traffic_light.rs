//! Traffic-light state from the colours of a crop (no state model is
//! available): the lit lamp is the saturated, bright region; its hue says
//! which one.

use opencv::core::{Mat, Vec3b};
use opencv::imgproc;
use opencv::prelude::*;
use serde::Serialize;

use crate::error::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LightState {
    Red,
    Yellow,
    Green,
    Unknown,
}

impl LightState {
    pub fn name(self) -> &'static str {
        match self {
            LightState::Red => "red",
            LightState::Yellow => "yellow",
            LightState::Green => "green",
            LightState::Unknown => "unknown",
        }
    }
}

/// Share of the crop's pixels a lamp colour needs to count as lit.
const MIN_LIT_FRACTION: f32 = 0.02;

/// Classifies a BGR crop of a traffic light.
pub fn light_state(
    crop: &(impl MatTraitConst + opencv::core::ToInputArray),
) -> Result<LightState, ModelError> {
    if crop.empty() {
        return Ok(LightState::Unknown);
    }
    let mut hsv = Mat::default();
    imgproc::cvt_color_def(crop, &mut hsv, imgproc::COLOR_BGR2HSV)?;
    let (mut red, mut yellow, mut green, mut total) = (0u32, 0u32, 0u32, 0u32);
    for y in 0..hsv.rows() {
        let row: &[Vec3b] = hsv.at_row(y)?;
        for pixel in row {
            total += 1;
            // OpenCV hue is 0..180; lit lamps are saturated and bright.
            let (h, s, v) = (pixel[0], pixel[1], pixel[2]);
            if s < 100 || v < 150 {
                continue;
            }
            match h {
                0..=9 | 165..=180 => red += 1,
                15..=34 => yellow += 1,
                45..=95 => green += 1,
                _ => {}
            }
        }
    }
    let needed = (total as f32 * MIN_LIT_FRACTION).max(1.0) as u32;
    let (count, state) = [
        (red, LightState::Red),
        (yellow, LightState::Yellow),
        (green, LightState::Green),
    ]
    .into_iter()
    .max_by_key(|(count, _)| *count)
    .unwrap_or((0, LightState::Unknown));
    Ok(if count >= needed {
        state
    } else {
        LightState::Unknown
    })
}
