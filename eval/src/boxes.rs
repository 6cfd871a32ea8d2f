//! Axis-aligned image boxes and their overlap.

/// x1, y1, x2, y2 in pixels.
pub type ImageBox = [f64; 4];

pub fn area(b: &ImageBox) -> f64 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

pub fn intersection(a: &ImageBox, b: &ImageBox) -> f64 {
    area(&[
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ])
}

pub fn iou(a: &ImageBox, b: &ImageBox) -> f64 {
    let overlap = intersection(a, b);
    let union = area(a) + area(b) - overlap;
    if union <= 0.0 { 0.0 } else { overlap / union }
}

pub fn height(b: &ImageBox) -> f64 {
    b[3] - b[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_disjoint_and_half_shifted_boxes() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(iou(&a, &[20.0, 0.0, 30.0, 10.0]), 0.0);
        // Shifted by half its width: overlap 50, union 150.
        assert!((iou(&a, &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-12);
    }
}
