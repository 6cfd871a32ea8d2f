//! Renders one camera's image of the world through that camera's own model:
//! every pixel's ray (from `unproject`, so distortion included) is followed
//! into the road frame and meets the ground, a facade, the sky or an object's
//! billboard.

use heptaview_calibration::RigCamera;
use nalgebra::{Isometry3, Matrix3, Point2, Point3, Vector3};

use super::sprites::Sprite;
use super::texture::{Bgr, facade, hash, haze, sky};
use super::world::{Crosswalk, ground, layout};

/// An upright, camera-facing picture of an object, standing on the ground.
#[derive(Debug, Clone)]
pub struct Billboard<'a> {
    /// 1-based; 0 in the instance buffer means background.
    pub instance: u16,
    /// Centre of the bottom edge, road frame.
    pub bottom_centre: Point3<f64>,
    /// Unit horizontal vector along the picture's width (left to right as seen).
    pub right: Vector3<f64>,
    pub width_m: f64,
    pub height_m: f64,
    pub sprite: &'a Sprite,
}

/// Everything that varies between instants.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub road_from_ego: Isometry3<f64>,
    pub crosswalk: Option<Crosswalk>,
    pub billboards: Vec<Billboard<'a>>,
}

/// One rendered camera image.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub width: usize,
    pub height: usize,
    /// Interleaved BGR.
    pub bgr: Vec<u8>,
    /// Per pixel: the billboard instance drawn there, or 0.
    pub instance: Vec<u16>,
}

/// A camera with its per-pixel rays computed once.
#[derive(Debug)]
pub struct CameraRenderer {
    camera: RigCamera,
    width: usize,
    height: usize,
    /// Unit rays in the camera frame; NaN where the lens model has no ray.
    rays: Vec<[f32; 3]>,
}

impl CameraRenderer {
    pub fn new(camera: &RigCamera) -> Self {
        let width = camera.model().width_px() as usize;
        let height = camera.model().height_px() as usize;
        let mut rays = Vec::with_capacity(width * height);
        for v in 0..height {
            for u in 0..width {
                let ray = camera.model().unproject(&Point2::new(u as f64, v as f64));
                rays.push(ray.map_or([f32::NAN; 3], |r| [r.x as f32, r.y as f32, r.z as f32]));
            }
        }
        Self {
            camera: camera.clone(),
            width,
            height,
            rays,
        }
    }

    /// Renders the snapshot. `seed` fixes the world's textures, `noise_key`
    /// the sensor noise of this one exposure.
    pub fn render(&self, snapshot: &Snapshot<'_>, seed: u32, noise_key: u32) -> Rendered {
        let road_from_camera = snapshot.road_from_ego * self.camera.ego_from_camera();
        let rotation: Matrix3<f32> = road_from_camera
            .rotation
            .to_rotation_matrix()
            .matrix()
            .cast();
        let origin: Vector3<f32> = road_from_camera.translation.vector.cast();
        let mut bgr = vec![0u8; self.width * self.height * 3];
        let mut instance = vec![0u16; self.width * self.height];

        for (index, ray) in self.rays.iter().enumerate() {
            let colour = if ray[0].is_nan() {
                [0.0; 3]
            } else {
                let direction = rotation * Vector3::new(ray[0], ray[1], ray[2]);
                background(seed, &origin, &direction, snapshot.crosswalk)
            };
            write_pixel(&mut bgr, index, colour, seed ^ noise_key);
        }

        let mut billboards: Vec<&Billboard<'_>> = snapshot.billboards.iter().collect();
        let camera_position = Point3::from(road_from_camera.translation.vector);
        billboards.sort_by(|a, b| {
            let da = (a.bottom_centre - camera_position).norm();
            let db = (b.bottom_centre - camera_position).norm();
            db.total_cmp(&da)
        });
        let camera_from_road = road_from_camera.inverse();
        for billboard in billboards {
            let Some((u0, v0, u1, v1)) = self.footprint(billboard, &camera_from_road) else {
                continue;
            };
            let normal = billboard.right.cross(&Vector3::z());
            for v in v0..v1 {
                for u in u0..u1 {
                    let index = v * self.width + u;
                    let ray = self.rays[index];
                    if ray[0].is_nan() {
                        continue;
                    }
                    let direction = road_from_camera.rotation
                        * Vector3::new(f64::from(ray[0]), f64::from(ray[1]), f64::from(ray[2]));
                    let facing = normal.dot(&direction);
                    if facing.abs() < 1e-9 {
                        continue;
                    }
                    let distance =
                        normal.dot(&(billboard.bottom_centre - camera_position)) / facing;
                    if distance <= 0.0 {
                        continue;
                    }
                    let hit = camera_position + direction * distance;
                    let offset = hit - billboard.bottom_centre;
                    let across = offset.dot(&billboard.right) / billboard.width_m + 0.5;
                    let up = offset.z / billboard.height_m;
                    if !(0.0..1.0).contains(&across) || !(0.0..1.0).contains(&up) {
                        continue;
                    }
                    let Some((texel, alpha)) =
                        billboard.sprite.sample(across as f32, 1.0 - up as f32)
                    else {
                        continue;
                    };
                    if alpha <= 0.0 {
                        continue;
                    }
                    let texel = haze(texel, distance as f32);
                    let under = read_pixel(&bgr, index);
                    let colour = [
                        under[0] + (texel[0] - under[0]) * alpha,
                        under[1] + (texel[1] - under[1]) * alpha,
                        under[2] + (texel[2] - under[2]) * alpha,
                    ];
                    write_pixel(&mut bgr, index, colour, seed ^ noise_key);
                    if alpha >= 0.5 {
                        instance[index] = billboard.instance;
                    }
                }
            }
        }
        Rendered {
            width: self.width,
            height: self.height,
            bgr,
            instance,
        }
    }

    /// The pixel rectangle a billboard can cover (from its outline projected
    /// through the lens), or `None` when it is wholly out of view. When part
    /// of the outline cannot be projected (behind the camera), the whole image.
    fn footprint(
        &self,
        billboard: &Billboard<'_>,
        camera_from_road: &Isometry3<f64>,
    ) -> Option<(usize, usize, usize, usize)> {
        const SAMPLES: usize = 8;
        let model = self.camera.model();
        let (mut u0, mut v0, mut u1, mut v1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let mut projected = 0;
        let mut total = 0;
        for i in 0..=SAMPLES {
            for j in 0..=SAMPLES {
                let across = i as f64 / SAMPLES as f64 - 0.5;
                let up = j as f64 / SAMPLES as f64;
                let point = billboard.bottom_centre
                    + billboard.right * (across * billboard.width_m)
                    + Vector3::z() * (up * billboard.height_m);
                total += 1;
                if let Some(pixel) = model.project(&(camera_from_road * point)) {
                    projected += 1;
                    u0 = u0.min(pixel.x);
                    v0 = v0.min(pixel.y);
                    u1 = u1.max(pixel.x);
                    v1 = v1.max(pixel.y);
                }
            }
        }
        if projected == 0 {
            return None;
        }
        if projected < total {
            return Some((0, 0, self.width, self.height));
        }
        // The outline is sampled; widen by a few pixels for what lies between samples.
        let margin = 3.0;
        let clamp_u = |x: f64| x.clamp(0.0, self.width as f64) as usize;
        let clamp_v = |y: f64| y.clamp(0.0, self.height as f64) as usize;
        let rect = (
            clamp_u(u0 - margin),
            clamp_v(v0 - margin),
            clamp_u(u1 + margin + 1.0),
            clamp_v(v1 + margin + 1.0),
        );
        (rect.0 < rect.2 && rect.1 < rect.3).then_some(rect)
    }
}

fn background(
    seed: u32,
    origin: &Vector3<f32>,
    direction: &Vector3<f32>,
    crosswalk: Option<Crosswalk>,
) -> Bgr {
    let ground_distance = if direction.z < -1e-6 {
        -origin.z / direction.z
    } else {
        f32::INFINITY
    };
    for building_line in [
        layout::RIGHT_BUILDINGS as f32,
        layout::LEFT_BUILDINGS as f32,
    ] {
        if direction.y.abs() < 1e-6 {
            continue;
        }
        let distance = (building_line - origin.y) / direction.y;
        if distance > 0.0 && distance < ground_distance {
            let height = origin.z + distance * direction.z;
            if (0.0..layout::BUILDING_HEIGHT as f32).contains(&height) {
                let along = origin.x + distance * direction.x;
                return haze(facade(seed, along, height), distance);
            }
        }
    }
    if ground_distance.is_finite() {
        let s = origin.x + ground_distance * direction.x;
        let d = origin.y + ground_distance * direction.y;
        return haze(ground(seed, s, d, crosswalk), ground_distance);
    }
    let horizontal = (direction.x * direction.x + direction.y * direction.y).sqrt();
    sky(direction.z / horizontal.max(1e-6))
}

fn read_pixel(bgr: &[u8], index: usize) -> Bgr {
    let i = index * 3;
    [
        f32::from(bgr[i]),
        f32::from(bgr[i + 1]),
        f32::from(bgr[i + 2]),
    ]
}

/// Stores a colour with a little sensor noise (±3 levels), so that no two
/// exposures are identical, as with a real camera.
fn write_pixel(bgr: &mut [u8], index: usize, colour: Bgr, noise_seed: u32) {
    let noise = hash(noise_seed ^ hash(index as u32));
    let i = index * 3;
    for (channel, value) in colour.iter().enumerate() {
        let jitter = ((noise >> (channel * 8)) & 0x7) as f32 - 3.0;
        bgr[i + channel] = (value + jitter).round().clamp(0.0, 255.0) as u8;
    }
}
