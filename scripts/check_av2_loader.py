#!/usr/bin/env python3
"""Manual check: load a heptaview-written log with the official Argoverse 2 loader.

Usage: python scripts/check_av2_loader.py LOG_DIR

Needs the PyPI package `av2` (torch is not needed for this loader):
    pip install --no-deps av2
    pip install numpy pandas pyarrow scipy universal-pathlib opencv-python-headless matplotlib numba

Not used by the test suite. Exits non-zero with a message on the first failure.
"""

import sys
from pathlib import Path

import numpy as np
import pyarrow.feather as feather

from av2.datasets.sensor.av2_sensor_dataloader import AV2SensorDataLoader
from av2.datasets.sensor.constants import AnnotationCategories
from av2.utils.io import read_img

RING_CAMERAS = [
    "ring_front_center",
    "ring_front_left",
    "ring_front_right",
    "ring_side_left",
    "ring_side_right",
    "ring_rear_left",
    "ring_rear_right",
]


def fail(msg: str) -> None:
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: check_av2_loader.py LOG_DIR")
    log_dir = Path(sys.argv[1]).resolve()
    if not log_dir.is_dir():
        fail(f"{log_dir} is not a directory")
    log_id = log_dir.name

    loader = AV2SensorDataLoader(data_dir=log_dir.parent, labels_dir=log_dir.parent)
    log_ids = loader.get_log_ids()
    shown = log_ids if len(log_ids) <= 10 else log_ids[:10] + ["..."]
    print(f"log ids found under {log_dir.parent} ({len(log_ids)}): {shown}")
    if log_id not in log_ids:
        fail(f"log id {log_id!r} not found by the loader")

    cams = {}
    first_image_ns = {}
    for cam in RING_CAMERAS:
        fpaths = loader.get_ordered_log_cam_fpaths(log_id, cam)
        if not fpaths:
            fail(f"{cam}: no images")
        first_image_ns[cam] = int(fpaths[0].stem)
        pc = loader.get_log_pinhole_camera(log_id, cam)
        cams[cam] = pc
        k = pc.intrinsics
        t = pc.ego_SE3_cam.translation
        yaw = np.degrees(np.arctan2(pc.ego_SE3_cam.rotation[1, 2], pc.ego_SE3_cam.rotation[0, 2]))
        print(
            f"{cam:18s} images={len(fpaths):3d} "
            f"fx={k.fx_px:.1f} fy={k.fy_px:.1f} cx={k.cx_px:.1f} cy={k.cy_px:.1f} "
            f"{pc.width_px}x{pc.height_px} ego_t_cam=({t[0]:.3f}, {t[1]:.3f}, {t[2]:.3f}) "
            f"optical-axis yaw={yaw:.1f} deg"
        )
        if not np.allclose(pc.ego_SE3_cam.rotation @ pc.ego_SE3_cam.rotation.T, np.eye(3), atol=1e-6):
            fail(f"{cam}: ego_SE3_cam rotation is not orthonormal")
        img = read_img(fpaths[0], channel_order="RGB")
        if img.shape[:2] != (pc.height_px, pc.width_px):
            fail(f"{cam}: image {fpaths[0].name} is {img.shape}, intrinsics say {pc.height_px}x{pc.width_px}")
        for fp in fpaths:
            try:
                loader.get_city_SE3_ego(log_id, int(fp.stem))
            except Exception as e:  # noqa: BLE001
                fail(f"{cam}: get_city_SE3_ego({fp.stem}) failed: {e}")
    print("city_SE3_ego found for every image timestamp of every camera")

    ann_ts = np.unique(feather.read_table(log_dir / "annotations.feather").column("timestamp_ns").to_numpy())
    print(f"annotation timestamps: {len(ann_ts)} ({ann_ts[0]} .. {ann_ts[-1]})")
    first = None
    counts = []
    for ts in ann_ts:
        ts = int(ts)
        cuboids = loader.get_labels_at_lidar_timestamp(log_id, ts)
        if len(cuboids) == 0:
            fail(f"no cuboids at annotation timestamp {ts}")
        bad = {c.category for c in cuboids.cuboids} - {c.value for c in AnnotationCategories}
        if bad:
            fail(f"unknown categories at {ts}: {sorted(bad)}")
        loader.get_city_SE3_ego(log_id, ts)
        for cam in RING_CAMERAS:
            # AV2 triggers the ring cameras in turn, up to 39.6 ms after the
            # sweep: a camera whose first image comes after the log's first
            # sweep has none for it yet.
            if ts < first_image_ns[cam]:
                continue
            if loader.get_closest_img_fpath(log_id, cam, ts) is None:
                fail(f"{cam}: no image synchronised with annotation timestamp {ts}")
        counts.append(len(cuboids))
        if first is None:
            first = (ts, cuboids)
    print(f"cuboids per annotation timestamp: min={min(counts)} max={max(counts)} total={sum(counts)}")

    ts, cuboids = first
    print(f"first annotation timestamp {ts}: {len(cuboids)} cuboids, categories {sorted(set(cuboids.categories))}")
    c0 = cuboids.cuboids[0]
    centre = c0.xyz_center_m.reshape(1, 3)
    print(f"first cuboid: {c0.category} centre (ego) = {np.round(centre[0], 2).tolist()}")
    for cam, pc in cams.items():
        uv, _, valid = pc.project_ego_to_img(centre)
        print(f"  {cam:18s} -> u={uv[0, 0]:8.1f} v={uv[0, 1]:8.1f} {'in view' if valid[0] else 'not in view'}")

    print(f"OK: {log_id} loads in av2 AV2SensorDataLoader")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # any loader error is a failure; show what av2 said
        fail(f"{type(e).__name__}: {e}")
