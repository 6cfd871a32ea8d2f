//! Image → input tensor: letterbox (bilinear resize keeping the aspect ratio, pad the
//! rest with the mean colour, i.e. 0 after normalisation), colour order and
//! per-channel normalisation, written into a buffer reused from call to call.

use opencv::core::{Mat, Rect, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::error::ModelError;
use crate::manifest::{ColourOrder, InputSpec};

/// Where the source image sits inside the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
    pub source_width: f32,
    pub source_height: f32,
}

impl Letterbox {
    pub fn new(
        source_width: usize,
        source_height: usize,
        input_width: usize,
        input_height: usize,
    ) -> Self {
        let scale = (input_width as f32 / source_width as f32)
            .min(input_height as f32 / source_height as f32);
        let (resized_w, resized_h) = resized_size(source_width, source_height, scale);
        Self {
            scale,
            pad_x: ((input_width - resized_w) / 2) as f32,
            pad_y: ((input_height - resized_h) / 2) as f32,
            source_width: source_width as f32,
            source_height: source_height as f32,
        }
    }

    /// A box in model-input pixels → source pixels, clipped to the image.
    pub fn to_source(&self, [x1, y1, x2, y2]: [f32; 4]) -> [f32; 4] {
        let x = |v: f32| ((v - self.pad_x) / self.scale).clamp(0.0, self.source_width);
        let y = |v: f32| ((v - self.pad_y) / self.scale).clamp(0.0, self.source_height);
        [x(x1), y(y1), x(x2), y(y2)]
    }
}

fn resized_size(width: usize, height: usize, scale: f32) -> (usize, usize) {
    (
        ((width as f32 * scale).round() as usize).max(1),
        ((height as f32 * scale).round() as usize).max(1),
    )
}

/// Checks that an image is 8-bit BGR, as OpenCV decodes JPEGs.
pub fn check_bgr(image: &Mat) -> Result<(), ModelError> {
    if image.empty() {
        return Err(ModelError::Image("the image is empty".to_owned()));
    }
    if image.typ() != opencv::core::CV_8UC3 {
        return Err(ModelError::Image(format!(
            "expected an 8-bit 3-channel BGR image, got OpenCV type {}",
            image.typ()
        )));
    }
    Ok(())
}

/// Normalises a BGR image region that is already the target size into one
/// NCHW slot of `tensor` (3 planes of `plane` floats), at offset (x0, y0) in
/// a plane `plane_width` wide.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_planes(
    resized: &Mat,
    tensor: &mut [f32],
    plane_width: usize,
    plane: usize,
    x0: usize,
    y0: usize,
    spec: &InputSpec,
) -> Result<(), ModelError> {
    let rows = resized.rows() as usize;
    let cols = resized.cols() as usize;
    // Channel c of the tensor reads this channel of the BGR pixel.
    let source_channel = match spec.colour_order {
        ColourOrder::Bgr => [0, 1, 2],
        ColourOrder::Rgb => [2, 1, 0],
    };
    let scale = spec.std.map(|s| 1.0 / s);
    for y in 0..rows {
        let row: &[opencv::core::Vec3b] = resized.at_row(y as i32)?;
        let offset = (y0 + y) * plane_width + x0;
        for c in 0..3 {
            let (mean, k, from) = (spec.mean[c], scale[c], source_channel[c]);
            let out = &mut tensor[c * plane + offset..c * plane + offset + cols];
            for (value, pixel) in out.iter_mut().zip(row) {
                *value = (f32::from(pixel[from]) - mean) * k;
            }
        }
    }
    Ok(())
}

/// Letterboxes images into a reused input tensor.
#[derive(Debug)]
pub struct Preprocessor {
    spec: InputSpec,
    resized: Mat,
    tensor: Vec<f32>,
}

impl Preprocessor {
    pub fn new(spec: &InputSpec) -> Self {
        Self {
            spec: spec.clone(),
            resized: Mat::default(),
            tensor: vec![0.0; 3 * spec.width() * spec.height()],
        }
    }

    /// Fills the tensor from `image` (8-bit BGR) and says where it was placed.
    pub fn letterbox(&mut self, image: &Mat) -> Result<Letterbox, ModelError> {
        check_bgr(image)?;
        let (width, height) = (self.spec.width(), self.spec.height());
        let (source_w, source_h) = (image.cols() as usize, image.rows() as usize);
        let letterbox = Letterbox::new(source_w, source_h, width, height);
        let (resized_w, resized_h) = resized_size(source_w, source_h, letterbox.scale);
        // Bilinear even when shrinking: INTER_AREA costs ~15x more (6 ms for
        // an 810x1080 photo, a sixth of an inference); the pipeline decodes
        // JPEGs at a reduced DCT scale first, which does the anti-aliasing.
        let interpolation = imgproc::INTER_LINEAR;
        self.tensor.fill(0.0);
        let placed = if (resized_w, resized_h) == (source_w, source_h) {
            image
        } else {
            imgproc::resize(
                image,
                &mut self.resized,
                Size::new(resized_w as i32, resized_h as i32),
                0.0,
                0.0,
                interpolation,
            )?;
            &self.resized
        };
        write_planes(
            placed,
            &mut self.tensor,
            width,
            width * height,
            letterbox.pad_x as usize,
            letterbox.pad_y as usize,
            &self.spec,
        )?;
        Ok(letterbox)
    }

    pub fn tensor(&self) -> &[f32] {
        &self.tensor
    }

    pub fn shape(&self) -> [usize; 4] {
        [1, 3, self.spec.height(), self.spec.width()]
    }
}

/// The pixel rectangle of a box, clipped to the image; `None` when empty.
pub fn crop_rect(image: &Mat, [x1, y1, x2, y2]: [f32; 4]) -> Option<Rect> {
    let (w, h) = (image.cols(), image.rows());
    let left = (x1.floor() as i32).clamp(0, w);
    let top = (y1.floor() as i32).clamp(0, h);
    let right = (x2.ceil() as i32).clamp(0, w);
    let bottom = (y2.ceil() as i32).clamp(0, h);
    (right > left && bottom > top).then(|| Rect::new(left, top, right - left, bottom - top))
}
