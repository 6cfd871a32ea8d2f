//! Cut-outs of real photographs (see `datasets/assets/NOTICE`), embedded in
//! the binary so that generation needs nothing but the executable.

use opencv::core::Vector;
use opencv::prelude::*;
use serde::Deserialize;

use super::texture::Bgr;
use super::world::ObjectKind;
use crate::error::DatasetError;

/// The sprite catalogue written by `assets/make_sprites.py`.
const CATALOGUE: &str = include_str!("../../assets/sprites.toml");

macro_rules! embedded_sprites {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_bytes!(concat!("../../assets/", $file)) as &[u8])),*]
    };
}

/// Every PNG listed in the catalogue, by file name.
const FILES: &[(&str, &[u8])] = embedded_sprites!(
    "pedestrian_vtest_1.png",
    "pedestrian_vtest_2.png",
    "pedestrian_vtest_3.png",
    "pedestrian_vtest_4.png",
    "van_vtest.png",
    "car_scenetext.png",
    "bicycle_darknet.png",
    "pickup_darknet.png",
    "bus_ultralytics.png",
);

#[derive(Debug, Deserialize)]
struct Catalogue {
    sprite: Vec<CatalogueEntry>,
}

#[derive(Debug, Deserialize)]
struct CatalogueEntry {
    file: String,
    kind: String,
    facing: String,
}

/// A photo cut-out: BGRA texels, alpha 0 off the object.
#[derive(Debug, Clone)]
pub struct Sprite {
    pub file: String,
    pub kind: ObjectKind,
    /// Which side of the object the photo shows (front, rear, side_left, ...).
    pub facing: String,
    width: usize,
    height: usize,
    texels: Vec<[u8; 4]>,
}

impl Sprite {
    /// Width over height of the picture.
    pub fn aspect(&self) -> f64 {
        self.width as f64 / self.height as f64
    }

    /// Bilinear sample at (x, y) in 0..1 (y down), with premultiplied alpha so
    /// that the transparent surround does not bleed into the edge colour.
    pub fn sample(&self, x: f32, y: f32) -> Option<(Bgr, f32)> {
        if self.width == 0 || self.height == 0 {
            return None;
        }
        let fx = (x * self.width as f32 - 0.5).clamp(0.0, (self.width - 1) as f32);
        let fy = (y * self.height as f32 - 0.5).clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let mut premultiplied = [0.0f32; 3];
        let mut alpha = 0.0f32;
        for (px, py, weight) in [
            (x0, y0, (1.0 - tx) * (1.0 - ty)),
            (x1, y0, tx * (1.0 - ty)),
            (x0, y1, (1.0 - tx) * ty),
            (x1, y1, tx * ty),
        ] {
            let texel = self.texels[py * self.width + px];
            let a = f32::from(texel[3]) / 255.0 * weight;
            for (channel, sum) in premultiplied.iter_mut().enumerate() {
                *sum += f32::from(texel[channel]) * a;
            }
            alpha += a;
        }
        if alpha <= 1e-6 {
            return Some(([0.0; 3], 0.0));
        }
        Some((premultiplied.map(|c| c / alpha), alpha))
    }

    fn decode(
        file: &str,
        bytes: &[u8],
        kind: ObjectKind,
        facing: String,
    ) -> Result<Self, DatasetError> {
        let invalid = |message: String| DatasetError::Image {
            path: format!("datasets/assets/{file}").into(),
            message,
        };
        let image = opencv::imgcodecs::imdecode(
            &Vector::<u8>::from_slice(bytes),
            opencv::imgcodecs::IMREAD_UNCHANGED,
        )?;
        if image.channels() != 4 || image.depth() != opencv::core::CV_8U {
            return Err(invalid("not an 8-bit BGRA PNG".to_owned()));
        }
        let (width, height) = (image.cols() as usize, image.rows() as usize);
        let continuous = if image.is_continuous() {
            image
        } else {
            image.try_clone()?
        };
        let data = continuous.data_bytes()?;
        let texels = data
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect::<Vec<_>>();
        if texels.len() != width * height {
            return Err(invalid(format!("expected {width}x{height} texels")));
        }
        Ok(Self {
            file: file.to_owned(),
            kind,
            facing,
            width,
            height,
            texels,
        })
    }
}

fn kind_from_name(name: &str) -> Option<ObjectKind> {
    Some(match name {
        "pedestrian" => ObjectKind::Pedestrian,
        "car" => ObjectKind::Car,
        "van" => ObjectKind::Van,
        "pickup" => ObjectKind::Pickup,
        "bus" => ObjectKind::Bus,
        "bicycle" => ObjectKind::Bicycle,
        _ => return None,
    })
}

/// All embedded sprites, in catalogue order.
pub fn load_all() -> Result<Vec<Sprite>, DatasetError> {
    let catalogue: Catalogue = toml::from_str(CATALOGUE).map_err(|e| DatasetError::Image {
        path: "datasets/assets/sprites.toml".into(),
        message: e.to_string(),
    })?;
    catalogue
        .sprite
        .into_iter()
        .map(|entry| {
            let bytes = FILES
                .iter()
                .find(|(file, _)| *file == entry.file)
                .map(|(_, bytes)| *bytes)
                .ok_or_else(|| DatasetError::Image {
                    path: format!("datasets/assets/{}", entry.file).into(),
                    message: "listed in sprites.toml but not embedded".to_owned(),
                })?;
            let kind = kind_from_name(&entry.kind).ok_or_else(|| DatasetError::Image {
                path: "datasets/assets/sprites.toml".into(),
                message: format!("unknown kind `{}`", entry.kind),
            })?;
            Sprite::decode(&entry.file, bytes, kind, entry.facing)
        })
        .collect()
}
