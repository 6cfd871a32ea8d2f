//! Procedural surfaces: asphalt, paint, pavement, grass, facades and sky,
//! all functions of world position so that every camera and every frame sees
//! the same world.

/// A 32-bit integer hash (lowbias32); deterministic across platforms.
pub fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

fn lattice(seed: u32, ix: i32, iy: i32) -> f32 {
    let h = hash(seed ^ hash((ix as u32).wrapping_mul(0x9e37_79b9) ^ hash(iy as u32)));
    (h & 0xffff) as f32 / 65535.0
}

/// Smooth value noise in 0..1 with unit cells.
pub fn value_noise(seed: u32, x: f32, y: f32) -> f32 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i32, fy as i32);
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let top = lattice(seed, ix, iy) * (1.0 - sx) + lattice(seed, ix + 1, iy) * sx;
    let bottom = lattice(seed, ix, iy + 1) * (1.0 - sx) + lattice(seed, ix + 1, iy + 1) * sx;
    top * (1.0 - sy) + bottom * sy
}

/// Two octaves of value noise, 0..1.
pub fn fractal_noise(seed: u32, x: f32, y: f32) -> f32 {
    0.65 * value_noise(seed, x, y) + 0.35 * value_noise(seed.wrapping_add(17), x * 3.1, y * 3.1)
}

pub type Bgr = [f32; 3];

pub fn mix(a: Bgr, b: Bgr, t: f32) -> Bgr {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

pub fn scale(c: Bgr, k: f32) -> Bgr {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// Sky colour for a ray with the given upward slope (z / horizontal length).
pub fn sky(slope: f32) -> Bgr {
    let horizon: Bgr = [225.0, 215.0, 200.0];
    let zenith: Bgr = [205.0, 150.0, 95.0];
    mix(horizon, zenith, (slope * 2.5).clamp(0.0, 1.0))
}

/// Haze towards the horizon colour with distance, as air does.
pub fn haze(colour: Bgr, distance_m: f32) -> Bgr {
    let amount = 1.0 - (-distance_m / 180.0).exp();
    mix(colour, sky(0.0), amount * 0.85)
}

/// A building facade: storeys of windows over a plaster colour that changes
/// from building to building.
pub fn facade(seed: u32, along_m: f32, height_m: f32) -> Bgr {
    let building = (along_m / 23.0).floor() as i32;
    let tint = lattice(seed ^ 0x00fa_cade, building, 0);
    let base: Bgr = mix([150.0, 160.0, 175.0], [110.0, 125.0, 150.0], tint);
    let grain = 0.9 + 0.2 * fractal_noise(seed ^ 0x0000_0b1d, along_m * 0.8, height_m * 0.8);
    let bay = along_m.rem_euclid(3.2);
    let storey = height_m.rem_euclid(3.3);
    let in_window = (0.7..2.5).contains(&bay) && (0.9..2.5).contains(&storey) && height_m > 0.6;
    if in_window {
        let glass = 0.6
            + 0.4
                * lattice(
                    seed ^ 0x0000_91a5,
                    (along_m / 3.2) as i32,
                    (height_m / 3.3) as i32,
                );
        scale([95.0, 80.0, 65.0], glass)
    } else {
        scale(base, grain)
    }
}
