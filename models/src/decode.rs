//! Raw detector outputs → candidate boxes (model-input pixels), and NMS.

/// A detection candidate in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub class_id: usize,
    pub score: f32,
    /// x1, y1, x2, y2.
    pub bbox: [f32; 4],
}

/// NanoDet's GFL head at one stride: `scores` is `[cells, classes]` (already
/// sigmoid), `distributions` is `[cells, 4 * bins]` (left, top, right, bottom),
/// cells row-major over a `grid` x `grid` map. Every (cell, class) scoring at
/// least `threshold` (and allowed) becomes a candidate.
#[allow(clippy::too_many_arguments)]
pub fn decode_nanodet_level(
    scores: &[f32],
    distributions: &[f32],
    classes: usize,
    bins: usize,
    stride: usize,
    grid: usize,
    threshold: f32,
    allowed: &dyn Fn(usize) -> bool,
    out: &mut Vec<Candidate>,
) {
    let cells = (scores.len() / classes).min(distributions.len() / (4 * bins));
    for cell in 0..cells {
        let cell_scores = &scores[cell * classes..(cell + 1) * classes];
        let mut sides: Option<[f32; 4]> = None;
        for (class_id, &score) in cell_scores.iter().enumerate() {
            if score < threshold || !allowed(class_id) {
                continue;
            }
            let [left, top, right, bottom] = *sides.get_or_insert_with(|| {
                let d = &distributions[cell * 4 * bins..(cell + 1) * 4 * bins];
                [0, 1, 2, 3]
                    .map(|side| expected_bin(&d[side * bins..(side + 1) * bins]) * stride as f32)
            });
            let (row, col) = (cell / grid, cell % grid);
            let cx = (col as f32 + 0.5) * stride as f32;
            let cy = (row as f32 + 0.5) * stride as f32;
            out.push(Candidate {
                class_id,
                score,
                bbox: [cx - left, cy - top, cx + right, cy + bottom],
            });
        }
    }
}

/// Softmax over the bins, then the expected bin index.
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    let mut weighted = 0.0;
    for (k, &logit) in logits.iter().enumerate() {
        let e = (logit - max).exp();
        total += e;
        weighted += e * k as f32;
    }
    weighted / total
}

/// Ultralytics YOLOv8 output `[4 + classes, anchors]` (batch 1): rows cx, cy,
/// w, h, then one score row per class. Each anchor's best class, if at
/// least `threshold` and allowed, becomes a candidate.
pub fn decode_yolov8(
    predictions: &[f32],
    classes: usize,
    threshold: f32,
    allowed: &dyn Fn(usize) -> bool,
    out: &mut Vec<Candidate>,
) {
    let rows = 4 + classes;
    if !predictions.len().is_multiple_of(rows) {
        return;
    }
    let anchors = predictions.len() / rows;
    let at = |row: usize, anchor: usize| predictions[row * anchors + anchor];
    for anchor in 0..anchors {
        let best = (0..classes)
            .filter(|&c| allowed(c))
            .map(|c| (c, at(4 + c, anchor)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((class_id, score)) = best else {
            continue;
        };
        if score < threshold {
            continue;
        }
        let (cx, cy, w, h) = (at(0, anchor), at(1, anchor), at(2, anchor), at(3, anchor));
        out.push(Candidate {
            class_id,
            score,
            bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
        });
    }
}

/// Intersection over union of two boxes `[x1, y1, x2, y2]` (0 when both are empty).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Greedy per-class non-maximum suppression: highest score first, drop
/// same-class boxes overlapping a kept one by more than `iou_threshold`.
/// Keeps at most `max_detections`, best first. Ties break by position so the
/// result does not depend on the input order.
pub fn nms_per_class(
    mut candidates: Vec<Candidate>,
    iou_threshold: f32,
    max_detections: usize,
) -> Vec<Candidate> {
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.class_id.cmp(&b.class_id))
            .then(a.bbox[0].total_cmp(&b.bbox[0]))
            .then(a.bbox[1].total_cmp(&b.bbox[1]))
    });
    let mut kept: Vec<Candidate> = Vec::new();
    for candidate in candidates {
        if kept.len() >= max_detections {
            break;
        }
        let suppressed = kept.iter().any(|k| {
            k.class_id == candidate.class_id && iou(&k.bbox, &candidate.bbox) > iou_threshold
        });
        if !suppressed {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_bin_of_a_peaked_distribution_is_its_peak() {
        let mut logits = [0.0f32; 11];
        logits[4] = 30.0;
        assert!((expected_bin(&logits) - 4.0).abs() < 1e-5);
        assert!((expected_bin(&[0.0; 11]) - 5.0).abs() < 1e-5);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let c = |class_id, score, x| Candidate {
            class_id,
            score,
            bbox: [x, 0.0, x + 10.0, 10.0],
        };
        let kept = nms_per_class(
            vec![
                c(0, 0.5, 1.0),
                c(0, 0.9, 0.0),
                c(1, 0.6, 0.0),
                c(0, 0.4, 30.0),
            ],
            0.5,
            10,
        );
        assert_eq!(kept, vec![c(0, 0.9, 0.0), c(1, 0.6, 0.0), c(0, 0.4, 30.0)]);
        assert_eq!(
            nms_per_class(vec![c(0, 0.9, 0.0), c(0, 0.8, 50.0)], 0.5, 1).len(),
            1
        );
    }

    #[test]
    fn iou_of_half_overlapping_squares() {
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
    }
}
