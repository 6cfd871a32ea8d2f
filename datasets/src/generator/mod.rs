//! The scenario generator: seven-camera drives in the AV2 layout, with ground
//! truth, rendered through the rig's own cameras with real-photo objects.

mod expectations;
mod render;
mod scenarios;
mod sprites;
mod texture;
mod world;

use std::path::{Path, PathBuf};

use heptaview_calibration::{Rig, argoverse2_rig};
use nalgebra::{Isometry3, Vector3};
use opencv::core::Vector;
use opencv::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

pub use expectations::{ScenarioExpectations, read_expectations};
pub use render::Rendered;
pub use scenarios::{Expectation, SCENARIOS};
pub use world::ObjectKind;

use crate::av2::{Av2LogWriter, Cuboid};
use crate::error::DatasetError;
use render::{Billboard, CameraRenderer, Snapshot};
use world::{city_from_road, road_pose};

/// The file beside the AV2 tables that describes a generated drive.
pub const SCENARIO_FILE: &str = "scenario.toml";
/// Start of sensor time in generated logs (an AV2-like epoch, in 2020).
const BASE_TIMESTAMP_NS: u64 = 315_969_629_000_000_000;
/// Objects further than this from the ego vehicle are not annotated.
const ANNOTATION_RANGE_M: f64 = 120.0;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub scenario: String,
    pub out: PathBuf,
    /// Width of the widest camera image (the rig is scaled to it).
    pub width_px: u32,
    pub fps: f64,
    /// Length of the drive; the scenario's own default when `None`.
    pub seconds: Option<f64>,
    pub seed: u64,
    pub jpeg_quality: i32,
    /// The cameras to render through; Argoverse 2's seven ring cameras when
    /// `None`. Scaled so that the widest image is `width_px` wide.
    pub rig: Option<Rig>,
}

impl GenerateOptions {
    pub fn new(scenario: &str, out: &Path) -> Self {
        Self {
            scenario: scenario.to_owned(),
            out: out.to_path_buf(),
            width_px: 640,
            fps: 10.0,
            seconds: None,
            seed: 1,
            jpeg_quality: 90,
            rig: None,
        }
    }
}

/// What a generation wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSummary {
    pub scenario: String,
    pub framesets: usize,
    pub images: usize,
    pub annotations: usize,
    pub seconds: f64,
    pub image_bytes: u64,
}

/// One instant of the drive rendered by all cameras, with its ground truth.
#[derive(Debug, Clone)]
pub struct RenderedFrameSet {
    /// The instant's reference (annotation) time.
    pub timestamp_ns: u64,
    /// Per camera, in rig order: its exposure time and image.
    pub cameras: Vec<(String, u64, Rendered)>,
    /// The annotated objects, each with the billboard instance drawn for it.
    pub cuboids: Vec<(u16, Cuboid)>,
    pub city_from_ego: Isometry3<f64>,
}

/// A scenario ready to render frame by frame.
#[derive(Debug)]
pub struct Generator {
    options: GenerateOptions,
    scenario: scenarios::Scenario,
    sprites: Vec<sprites::Sprite>,
    rig: Rig,
    renderers: Vec<CameraRenderer>,
    /// Fixed per-camera exposure offsets from the reference (annotation)
    /// time, ns: the rig's declared trigger timing, as on a real AV2 car.
    camera_offsets_ns: Vec<i64>,
    seconds: f64,
    frames: usize,
}

impl Generator {
    pub fn new(options: GenerateOptions) -> Result<Self, DatasetError> {
        validate(&options)?;
        let sprites = sprites::load_all()?;
        let scenario =
            scenarios::build(&options.scenario, options.seed, options.seconds, &sprites)?;
        let seconds = options.seconds.unwrap_or(scenario.default_seconds);
        let frames = ((seconds * options.fps).round() as usize).max(1);
        let (full_size, rig_source) = match &options.rig {
            Some(rig) => (Ok(rig.clone()), format!("rig `{}`", rig.name())),
            None => (
                argoverse2_rig(),
                "calibration/rigs/argoverse2.toml".to_owned(),
            ),
        };
        let rig = full_size
            .and_then(|rig| rig.scaled_to_width(options.width_px))
            .map_err(|source| DatasetError::Calibration {
                path: rig_source.into(),
                source,
            })?;
        let renderers = std::thread::scope(|scope| {
            let handles: Vec<_> = rig
                .cameras()
                .iter()
                .map(|camera| scope.spawn(move || CameraRenderer::new(camera)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join())
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|_| DatasetError::Scenario {
            message: "a camera's ray table could not be built".to_owned(),
        })?;
        let camera_offsets_ns = exposure_offsets_ns(&rig, options.fps);
        Ok(Self {
            options,
            scenario,
            sprites,
            rig,
            renderers,
            camera_offsets_ns,
            seconds,
            frames,
        })
    }

    pub fn rig(&self) -> &Rig {
        &self.rig
    }

    pub fn frame_count(&self) -> usize {
        self.frames
    }

    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    pub fn expectations(&self) -> Vec<Expectation> {
        self.scenario
            .expectations
            .iter()
            .map(|e| Expectation {
                to_s: e.to_s.min(self.seconds),
                ..e.clone()
            })
            .collect()
    }

    fn base_timestamp_ns(&self) -> u64 {
        BASE_TIMESTAMP_NS + self.options.seed % 1_000_000 * 1_000_000_000
    }

    fn time_of(&self, timestamp_ns: u64) -> f64 {
        (timestamp_ns as f64 - self.base_timestamp_ns() as f64) / 1e9
    }

    /// The ego pose in road coordinates at scenario time `t`.
    fn road_from_ego(&self, t: f64) -> Isometry3<f64> {
        road_pose(
            self.scenario.ego.distance(t),
            world::layout::EGO_LANE,
            0.0,
            0.0,
        )
    }

    pub fn city_from_ego(&self, t: f64) -> Isometry3<f64> {
        city_from_road() * self.road_from_ego(t)
    }

    /// Every object at time `t`, as a billboard facing the ego vehicle.
    fn billboards(&self, t: f64) -> Vec<Billboard<'_>> {
        let ego_centre = self.road_from_ego(t) * nalgebra::Point3::new(1.4, 0.0, 0.0);
        self.scenario
            .objects
            .iter()
            .enumerate()
            .map(|(i, object)| {
                let (s, d) = object.path.position(t);
                let bottom_centre = world::road_point(s, d);
                let towards_ego = ego_centre - bottom_centre;
                let horizontal = Vector3::new(towards_ego.x, towards_ego.y, 0.0);
                let view = if horizontal.norm() > 1e-6 {
                    -horizontal.normalize()
                } else {
                    Vector3::x()
                };
                let sprite = &self.sprites[object.sprite];
                let (_, _, height) = object.kind.size_m();
                Billboard {
                    instance: (i + 1) as u16,
                    bottom_centre,
                    right: view.cross(&Vector3::z()),
                    width_m: height * sprite.aspect(),
                    height_m: height,
                    sprite,
                }
            })
            .collect()
    }

    /// Every object within annotation range as it is at sensor time
    /// `timestamp_ns`, in the ego frame of that instant (what an annotation
    /// taken then would say; the log annotates each frame's reference time).
    pub fn cuboids_at(&self, timestamp_ns: u64) -> Vec<(u16, Cuboid)> {
        self.cuboids(self.time_of(timestamp_ns))
    }

    fn cuboids(&self, t: f64) -> Vec<(u16, Cuboid)> {
        let ego_from_road = self.road_from_ego(t).inverse();
        self.scenario
            .objects
            .iter()
            .enumerate()
            .filter_map(|(i, object)| {
                let (s, d) = object.path.position(t);
                let (length, width, height) = object.kind.size_m();
                let road_from_object = road_pose(s, d, height / 2.0, object.path.heading(t));
                let ego_from_object = ego_from_road * road_from_object;
                (ego_from_object.translation.vector.xy().norm() <= ANNOTATION_RANGE_M).then(|| {
                    let cuboid = Cuboid {
                        track_uuid: object.track_uuid.clone(),
                        category: object.kind.category().to_owned(),
                        length_m: length,
                        width_m: width,
                        height_m: height,
                        ego_from_object,
                        num_interior_pts: 0,
                    };
                    ((i + 1) as u16, cuboid)
                })
            })
            .collect()
    }

    /// Renders frame `index` (0-based) with all cameras, in parallel.
    pub fn render_frame(&self, index: usize) -> Result<RenderedFrameSet, DatasetError> {
        let reference_ns =
            self.base_timestamp_ns() + (index as f64 / self.options.fps * 1e9).round() as u64;
        let seed = self.options.seed as u32 ^ (self.options.seed >> 32) as u32;
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.options.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let exposures: Vec<u64> = self
            .camera_offsets_ns
            .iter()
            .map(|offset| {
                let jitter = rng.random_range(-500_000i64..500_000);
                reference_ns.saturating_add_signed(offset + jitter)
            })
            .collect();
        let rendered = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .renderers
                .iter()
                .zip(&exposures)
                .enumerate()
                .map(|(camera_index, (renderer, &exposure_ns))| {
                    scope.spawn(move || {
                        let t = self.time_of(exposure_ns);
                        let snapshot = Snapshot {
                            road_from_ego: self.road_from_ego(t),
                            crosswalk: self.scenario.crosswalk,
                            billboards: self.billboards(t),
                        };
                        let noise_key = world_noise_key(index, camera_index);
                        renderer.render(&snapshot, seed, noise_key)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join())
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|_| DatasetError::Scenario {
            message: format!("rendering frame {index} failed"),
        })?;
        let t = self.time_of(reference_ns);
        let mut cuboids = self.cuboids(t);
        // Visibility in place of lidar points (no lidar here): rendered pixels.
        for (instance, cuboid) in &mut cuboids {
            cuboid.num_interior_pts = rendered
                .iter()
                .map(|r| r.instance.iter().filter(|&&i| i == *instance).count() as i64)
                .sum();
        }
        let cameras = self
            .rig
            .camera_names()
            .map(str::to_owned)
            .zip(exposures)
            .zip(rendered)
            .map(|((name, exposure), image)| (name, exposure, image))
            .collect();
        Ok(RenderedFrameSet {
            timestamp_ns: reference_ns,
            cameras,
            cuboids,
            city_from_ego: self.city_from_ego(t),
        })
    }

    /// Writes the whole drive to `options.out`, reporting progress as
    /// (frames done, frames in all). The log appears only when complete.
    pub fn write(
        &self,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<GenerateSummary, DatasetError> {
        let out = &self.options.out;
        if out.exists() {
            return Err(DatasetError::Scenario {
                message: format!(
                    "{} already exists; remove it or choose another --out",
                    out.display()
                ),
            });
        }
        let partial = out.with_file_name(format!(
            ".{}.partial",
            out.file_name()
                .map_or_else(|| "log".into(), |n| n.to_string_lossy())
        ));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|source| DatasetError::Write {
                path: partial.clone(),
                source,
            })?;
        }
        let mut writer = Av2LogWriter::create(&partial, &self.rig)?;
        let mut summary = GenerateSummary {
            scenario: self.scenario.name.to_owned(),
            framesets: 0,
            images: 0,
            annotations: 0,
            seconds: self.seconds,
            image_bytes: 0,
        };
        progress(0, self.frames);
        for index in 0..self.frames {
            let frame = self.render_frame(index)?;
            for (camera, exposure_ns, image) in &frame.cameras {
                let jpeg = encode_jpeg(image, self.options.jpeg_quality)?;
                writer.write_jpeg(camera, *exposure_ns, &jpeg)?;
                writer.add_pose(*exposure_ns, self.city_from_ego(self.time_of(*exposure_ns)));
                summary.images += 1;
                summary.image_bytes += jpeg.len() as u64;
            }
            writer.add_pose(frame.timestamp_ns, frame.city_from_ego);
            for (_, cuboid) in frame.cuboids {
                writer.add_annotation(frame.timestamp_ns, cuboid);
                summary.annotations += 1;
            }
            summary.framesets += 1;
            progress(index + 1, self.frames);
        }
        writer.finish()?;
        self.write_scenario_file(&partial)?;
        std::fs::rename(&partial, out).map_err(|source| DatasetError::Write {
            path: out.clone(),
            source,
        })?;
        Ok(summary)
    }

    fn write_scenario_file(&self, log: &Path) -> Result<(), DatasetError> {
        #[derive(Serialize)]
        struct ObjectEntry<'a> {
            track_uuid: &'a str,
            kind: &'static str,
            category: &'static str,
            sprite: &'a str,
            sprite_facing: &'a str,
        }
        #[derive(Serialize)]
        struct ScenarioFile<'a> {
            scenario: &'a str,
            description: &'a str,
            generator: String,
            seed: u64,
            fps: f64,
            seconds: f64,
            width_px: u32,
            start_timestamp_ns: u64,
            note: &'static str,
            expected: Vec<Expectation>,
            object: Vec<ObjectEntry<'a>>,
        }
        let file = ScenarioFile {
            scenario: self.scenario.name,
            description: self.scenario.description,
            generator: format!("heptaview-datasets {}", env!("CARGO_PKG_VERSION")),
            seed: self.options.seed,
            fps: self.options.fps,
            seconds: self.seconds,
            width_px: self.options.width_px,
            start_timestamp_ns: self.base_timestamp_ns(),
            note: "Generated drive: objects are real-photo billboards. num_interior_pts counts \
                   rendered camera pixels (there is no lidar). Expected decisions: from_s/to_s \
                   are seconds after start_timestamp_ns.",
            expected: self.expectations(),
            object: self
                .scenario
                .objects
                .iter()
                .map(|o| ObjectEntry {
                    track_uuid: &o.track_uuid,
                    kind: o.kind.name(),
                    category: o.kind.category(),
                    sprite: &self.sprites[o.sprite].file,
                    sprite_facing: &self.sprites[o.sprite].facing,
                })
                .collect(),
        };
        let text = toml::to_string_pretty(&file).map_err(|e| DatasetError::Scenario {
            message: format!("cannot serialise {SCENARIO_FILE}: {e}"),
        })?;
        let path = log.join(SCENARIO_FILE);
        std::fs::write(&path, text).map_err(|source| DatasetError::Write { path, source })
    }
}

/// Generates a drive: `Generator::new(options)?.write(progress)`.
pub fn generate(
    options: GenerateOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GenerateSummary, DatasetError> {
    Generator::new(options)?.write(progress)
}

fn world_noise_key(frame: usize, camera: usize) -> u32 {
    texture::hash((frame as u32).wrapping_mul(7919) ^ texture::hash(camera as u32 + 1))
}

/// Each camera's exposure offset from the frame's reference (annotation)
/// time: the rig's declared trigger timing (AV2: -2.9 to +39.6 ms around
/// the lidar sweep), squeezed into the frame period when frames come faster
/// than the rig's cycle; all zero for a rig without declared timing.
fn exposure_offsets_ns(rig: &Rig, fps: f64) -> Vec<i64> {
    let Some(timing) = rig.timing() else {
        return vec![0; rig.cameras().len()];
    };
    let frame_period_ns = 1e9 / fps;
    let squeeze = (frame_period_ns / timing.period_ns() as f64).min(1.0);
    timing
        .offsets_ns()
        .iter()
        .map(|&offset| (offset as f64 * squeeze).round() as i64)
        .collect()
}

fn validate(options: &GenerateOptions) -> Result<(), DatasetError> {
    let bad = |message: String| Err(DatasetError::Scenario { message });
    if !(64..=2048).contains(&options.width_px) {
        return bad(format!(
            "--width must be 64..=2048 pixels, got {}",
            options.width_px
        ));
    }
    if !(options.fps.is_finite() && options.fps > 0.0 && options.fps <= 60.0) {
        return bad(format!("--fps must be in (0, 60], got {}", options.fps));
    }
    if let Some(seconds) = options.seconds
        && !(seconds.is_finite() && seconds > 0.0 && seconds <= 600.0)
    {
        return bad(format!("--seconds must be in (0, 600], got {seconds}"));
    }
    if !(1..=100).contains(&options.jpeg_quality) {
        return bad(format!(
            "JPEG quality must be 1..=100, got {}",
            options.jpeg_quality
        ));
    }
    Ok(())
}

/// JPEG bytes of a rendered image (OpenCV's libjpeg; deterministic).
pub fn encode_jpeg(image: &Rendered, quality: i32) -> Result<Vec<u8>, DatasetError> {
    let flat = Mat::from_slice(&image.bgr)?;
    let bgr = flat.reshape(3, image.height as i32)?;
    let mut buffer = Vector::<u8>::new();
    let params = Vector::<i32>::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, quality]);
    opencv::imgcodecs::imencode(".jpg", &bgr, &mut buffer, &params)?;
    Ok(buffer.to_vec())
}
