//! Propagation: a frame the detector skipped gets the detections of its
//! camera's last key frame, moved by the image motion between the two.
//!
//! Points on a grid inside each box are followed by pyramidal Lucas–Kanade
//! optical flow from the key frame to the skipped one, and back again; points
//! that do not come back to where they started are dropped. The box moves by
//! the median displacement of the points left and scales by the median change
//! of their pairwise distances: the estimate of the Median Flow tracker
//! (Kalal et al., 2010). A box whose points are lost stays where it was.
//! Always measured from the key frame, never chained, so errors do not add up.

use opencv::core::{Mat, Point2f, Size, TermCriteria, TermCriteria_Type, Vector};
use opencv::prelude::*;
use opencv::video;

use crate::config::PipelineConfig;
use crate::error::PipelineError;
use crate::stage_context::{SetStage, StageContext};
use crate::types::{Detection, FrameSet, SlotStatus};
use heptaview_runtime::stage::{Output, Stage};

/// Grid points per box side.
const GRID: usize = 6;
/// Points are taken from the inner part of a box, away from the background.
const GRID_MARGIN: f32 = 0.1;
/// Fewer good points than this: the box stays where it was.
const MIN_POINTS: usize = 4;
/// A point whose forward-backward error is under this (grey pixels) is good
/// even when it is above the box's median.
const FORWARD_BACKWARD_PX: f32 = 0.5;
const WINDOW_PX: i32 = 15;
const PYRAMID_LEVELS: i32 = 3;

/// A camera's last key frame: its grey image and what was detected on it.
struct KeyView {
    grey: Mat,
    /// Grey pixels per native pixel, along x and y.
    scale: (f32, f32),
    native_size: (f32, f32),
    detections: Vec<Detection>,
}

#[derive(Default)]
pub struct Propagator {
    keys: Vec<Option<KeyView>>,
}

impl Propagator {
    pub fn new(cameras: usize) -> Self {
        Self {
            keys: (0..cameras).map(|_| None).collect(),
        }
    }
}

impl Stage for Propagator {
    type In = FrameSet;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "propagate"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        for (camera, slot) in set.slots.iter_mut().enumerate() {
            let Some(frame) = &mut slot.frame else {
                continue;
            };
            // The grey image is not needed past here.
            let Some(grey) = frame.grey.take() else {
                continue;
            };
            let Some(key) = self.keys.get_mut(camera) else {
                continue;
            };
            let Some((width, height)) = frame.native_size.filter(|(w, h)| *w > 0 && *h > 0) else {
                continue;
            };
            match slot.status {
                SlotStatus::Processed => {
                    *key = Some(KeyView {
                        scale: (
                            grey.cols() as f32 / width as f32,
                            grey.rows() as f32 / height as f32,
                        ),
                        native_size: (width as f32, height as f32),
                        grey,
                        detections: slot.detections.clone(),
                    });
                }
                SlotStatus::SkippedKeyframe => {
                    if let Some(key) = key
                        && key.grey.size().ok() == grey.size().ok()
                    {
                        slot.detections = propagate(key, &grey)?;
                    }
                }
                _ => {}
            }
        }
        Ok(out.send(set)?)
    }
}

/// The key frame's detections moved onto `grey`; boxes that left the image
/// entirely are gone.
fn propagate(key: &KeyView, grey: &Mat) -> Result<Vec<Detection>, PipelineError> {
    if key.detections.is_empty() {
        return Ok(Vec::new());
    }
    let (sx, sy) = key.scale;
    let mut from = Vector::<Point2f>::new();
    for detection in &key.detections {
        let [x1, y1, x2, y2] = detection.detection.bbox;
        let (x1, y1, x2, y2) = (x1 * sx, y1 * sy, x2 * sx, y2 * sy);
        let (w, h) = (x2 - x1, y2 - y1);
        for i in 0..GRID {
            for j in 0..GRID {
                let fx = GRID_MARGIN + (1.0 - 2.0 * GRID_MARGIN) * i as f32 / (GRID - 1) as f32;
                let fy = GRID_MARGIN + (1.0 - 2.0 * GRID_MARGIN) * j as f32 / (GRID - 1) as f32;
                from.push(Point2f::new(x1 + fx * w, y1 + fy * h));
            }
        }
    }
    let to = flow(&key.grey, grey, &from)?;
    let back = flow(grey, &key.grey, &to.points)?;

    let mut moved = Vec::with_capacity(key.detections.len());
    for (index, detection) in key.detections.iter().enumerate() {
        let range = index * GRID * GRID..(index + 1) * GRID * GRID;
        let mut tracked: Vec<(Point2f, Point2f, f32)> = Vec::new();
        for k in range {
            let (Ok(a), Ok(b), Ok(c)) = (from.get(k), to.points.get(k), back.points.get(k)) else {
                continue;
            };
            let found =
                to.status.get(k).is_ok_and(|s| s == 1) && back.status.get(k).is_ok_and(|s| s == 1);
            if found {
                tracked.push((a, b, distance(a, c)));
            }
        }
        let mut errors: Vec<f32> = tracked.iter().map(|t| t.2).collect();
        let limit = median(&mut errors).unwrap_or(0.0).max(FORWARD_BACKWARD_PX);
        tracked.retain(|t| t.2 <= limit);

        let [x1, y1, x2, y2] = detection.detection.bbox;
        let mut bbox = [x1, y1, x2, y2];
        if tracked.len() >= MIN_POINTS {
            let mut dx: Vec<f32> = tracked.iter().map(|(a, b, _)| (b.x - a.x) / sx).collect();
            let mut dy: Vec<f32> = tracked.iter().map(|(a, b, _)| (b.y - a.y) / sy).collect();
            let mut ratios = Vec::new();
            for (i, (a1, b1, _)) in tracked.iter().enumerate() {
                for (a2, b2, _) in &tracked[i + 1..] {
                    let before = distance(*a1, *a2);
                    if before > 1.0 {
                        ratios.push(distance(*b1, *b2) / before);
                    }
                }
            }
            let (dx, dy) = (
                median(&mut dx).unwrap_or(0.0),
                median(&mut dy).unwrap_or(0.0),
            );
            let scale = median(&mut ratios).unwrap_or(1.0);
            let (cx, cy) = ((x1 + x2) / 2.0 + dx, (y1 + y2) / 2.0 + dy);
            let (hw, hh) = ((x2 - x1) * scale / 2.0, (y2 - y1) * scale / 2.0);
            bbox = [cx - hw, cy - hh, cx + hw, cy + hh];
        }
        let (width, height) = key.native_size;
        let clipped = [
            bbox[0].clamp(0.0, width),
            bbox[1].clamp(0.0, height),
            bbox[2].clamp(0.0, width),
            bbox[3].clamp(0.0, height),
        ];
        if clipped[2] - clipped[0] < 1.0 || clipped[3] - clipped[1] < 1.0 {
            continue;
        }
        let mut detection = detection.clone();
        detection.detection.bbox = clipped;
        detection.propagated = true;
        detection.track_id = None;
        moved.push(detection);
    }
    Ok(moved)
}

struct Flow {
    points: Vector<Point2f>,
    status: Vector<u8>,
}

fn flow(from_image: &Mat, to_image: &Mat, points: &Vector<Point2f>) -> Result<Flow, PipelineError> {
    let error = |e| PipelineError::stage("propagate", e);
    let mut result = Flow {
        points: Vector::new(),
        status: Vector::new(),
    };
    let mut errors = Vector::<f32>::new();
    let criteria = TermCriteria::new(
        TermCriteria_Type::COUNT as i32 + TermCriteria_Type::EPS as i32,
        30,
        0.01,
    )
    .map_err(error)?;
    video::calc_optical_flow_pyr_lk(
        from_image,
        to_image,
        points,
        &mut result.points,
        &mut result.status,
        &mut errors,
        Size::new(WINDOW_PX, WINDOW_PX),
        PYRAMID_LEVELS,
        criteria,
        0,
        1e-4,
    )
    .map_err(error)?;
    Ok(result)
}

fn distance(a: Point2f, b: Point2f) -> f32 {
    (a.x - b.x).hypot(a.y - b.y)
}

fn median(values: &mut [f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let middle = values.len() / 2;
    let (_, value, _) = values.select_nth_unstable_by(middle, f32::total_cmp);
    Some(*value)
}

/// One propagator per run, over its cameras.
pub fn build(context: &StageContext, _config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    Ok(Box::new(Propagator::new(context.rig.cameras().len())))
}

#[cfg(test)]
mod tests {
    use heptaview_models::detector::Detection as ModelDetection;
    use opencv::core::{BORDER_REFLECT, Point2f, Scalar};
    use opencv::imgcodecs;
    use opencv::imgproc;

    use super::*;
    use crate::types::CameraId;

    /// A real photograph in grey, 640 px wide (native size 1280x720).
    fn photo_grey() -> Mat {
        let path = format!(
            "{}/../tests/fixtures/images/zidane.jpg",
            env!("CARGO_MANIFEST_DIR")
        );
        imgcodecs::imread(&path, imgcodecs::IMREAD_REDUCED_GRAYSCALE_2).unwrap()
    }

    /// `image` zoomed by `scale` about `centre` and then shifted by `shift` (grey px).
    fn warped(image: &Mat, centre: (f32, f32), scale: f64, shift: (f64, f64)) -> Mat {
        let mut matrix =
            imgproc::get_rotation_matrix_2d(Point2f::new(centre.0, centre.1), 0.0, scale).unwrap();
        *matrix.at_2d_mut::<f64>(0, 2).unwrap() += shift.0;
        *matrix.at_2d_mut::<f64>(1, 2).unwrap() += shift.1;
        let mut out = Mat::default();
        imgproc::warp_affine(
            image,
            &mut out,
            &matrix,
            image.size().unwrap(),
            imgproc::INTER_LINEAR,
            BORDER_REFLECT,
            Scalar::default(),
        )
        .unwrap();
        out
    }

    fn key_with(grey: Mat, boxes: &[[f32; 4]]) -> KeyView {
        KeyView {
            grey,
            scale: (0.5, 0.5),
            native_size: (1280.0, 720.0),
            detections: boxes
                .iter()
                .map(|bbox| Detection {
                    camera: CameraId(0),
                    detection: ModelDetection {
                        class_id: 0,
                        class: "person".to_owned(),
                        score: 0.9,
                        bbox: *bbox,
                    },
                    attributes: Default::default(),
                    track_id: Some(7),
                    propagated: false,
                })
                .collect(),
        }
    }

    // The two people of the photo, in native pixels.
    const PEOPLE: [[f32; 4]; 2] = [[120.0, 190.0, 1120.0, 720.0], [740.0, 40.0, 1150.0, 710.0]];
    const FACE: [f32; 4] = [820.0, 90.0, 1000.0, 300.0];

    #[test]
    fn a_shifted_image_moves_the_boxes_by_the_shift() {
        let grey = photo_grey();
        // 6 and -4 grey pixels: 12 and -8 native pixels.
        let moved_image = warped(&grey, (0.0, 0.0), 1.0, (6.0, -4.0));
        let key = key_with(grey, &[FACE]);
        let moved = propagate(&key, &moved_image).unwrap();
        assert_eq!(moved.len(), 1);
        let expected = [FACE[0] + 12.0, FACE[1] - 8.0, FACE[2] + 12.0, FACE[3] - 8.0];
        for (got, want) in moved[0].detection.bbox.iter().zip(expected) {
            assert!(
                (got - want).abs() < 2.0,
                "{:?} vs {expected:?}",
                moved[0].detection.bbox
            );
        }
        assert!(moved[0].propagated);
        assert_eq!(moved[0].track_id, None, "the track is fusion's to assign");
        assert_eq!(moved[0].detection.class, "person");
    }

    #[test]
    fn a_zoomed_image_scales_the_box_about_the_zoom_centre() {
        let grey = photo_grey();
        let [x1, y1, x2, y2] = FACE;
        let centre = ((x1 + x2) / 4.0, (y1 + y2) / 4.0);
        let zoomed = warped(&grey, centre, 1.1, (0.0, 0.0));
        let key = key_with(grey, &[FACE]);
        let moved = propagate(&key, &zoomed).unwrap();
        let [a1, b1, a2, b2] = moved[0].detection.bbox;
        let width_ratio = (a2 - a1) / (x2 - x1);
        let height_ratio = (b2 - b1) / (y2 - y1);
        assert!((width_ratio - 1.1).abs() < 0.03, "{width_ratio}");
        assert!((height_ratio - 1.1).abs() < 0.03, "{height_ratio}");
        assert!(((a1 + a2) / 2.0 - (x1 + x2) / 2.0).abs() < 2.0);
    }

    #[test]
    fn boxes_stay_in_the_image_and_every_box_is_carried() {
        let grey = photo_grey();
        let moved_image = warped(&grey, (0.0, 0.0), 1.0, (10.0, 0.0));
        let key = key_with(grey, &PEOPLE);
        let moved = propagate(&key, &moved_image).unwrap();
        assert_eq!(moved.len(), 2);
        for detection in &moved {
            let [x1, y1, x2, y2] = detection.detection.bbox;
            assert!(
                x1 >= 0.0 && y1 >= 0.0 && x2 <= 1280.0 && y2 <= 720.0,
                "{x1} {y1} {x2} {y2}"
            );
        }
    }

    #[test]
    fn a_key_frame_without_detections_propagates_nothing() {
        let grey = photo_grey();
        let key = key_with(grey.clone(), &[]);
        assert!(propagate(&key, &grey).unwrap().is_empty());
    }
}
