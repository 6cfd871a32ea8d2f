#!/usr/bin/env python3
"""Converts a drive that `heptaview generate` wrote (Argoverse 2 layout) into a
nuScenes dataset of one scene that the official nuscenes-devkit loads, so that
heptaview's nuScenes reader can be tested on real files and checked against the
devkit (scripts/check_nuscenes.py).

    write_nuscenes_log.py SRC OUT [--scene-name NAME] [--sample-hz 2]
                          [--version v1.0-mini] [--vehicle NAME]

SRC is read with pyarrow:
    sensors/cameras/<camera>/<t_ns>.jpg
    calibration/intrinsics.feather, calibration/egovehicle_SE3_sensor.feather
    city_SE3_egovehicle.feather, annotations.feather

OUT gets:
    <version>/*.json        the 13 tables NuScenes() loads
    samples/<camera>/*.jpg  each sample's key frame per camera (the image nearest
                            the sample in time), sweeps/<camera>/*.jpg the rest
    samples/LIDAR_TOP/*.pcd.bin  one empty point cloud per sample: nuScenes
                            defines a sample's instant and its annotations' ego
                            frame by the LIDAR_TOP key frame, so one is written
    maps/<token>.png        a blank map mask (NuScenes() opens every map's file)

Camera folder names become channel names unchanged: generate with
calibration/rigs/nuscenes.toml to get CAM_FRONT ... CAM_BACK.

nuScenes images are rectified pinholes, so a camera with radial distortion
(k1, k2 or k3 not zero) is refused rather than written with a calibration that
does not match its pixels.

Conventions written (nuScenes schema): timestamps in microseconds (nanoseconds
floor-divided by 1000), quaternions [w, x, y, z]; calibrated_sensor holds
ego_from_sensor, ego_pose global_from_ego (AV2's city frame) at each
sample_data's own time, sample_annotation the box in the global frame with
size [width, length, height]. Samples are annotation timestamps at least
1/sample_hz apart. Sweeps carry the token of the sample nearest in time.
Every token is the md5 of a description, so output is reproducible.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import struct
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.feather as feather

#: AV2 category -> nuScenes category; None: no nuScenes counterpart (left out).
AV2_TO_NUSCENES = {
    "REGULAR_VEHICLE": "vehicle.car",
    "PEDESTRIAN": "human.pedestrian.adult",
    "OFFICIAL_SIGNALER": "human.pedestrian.police_officer",
    "BICYCLE": "vehicle.bicycle",
    "BICYCLIST": "vehicle.bicycle",
    "MOTORCYCLE": "vehicle.motorcycle",
    "MOTORCYCLIST": "vehicle.motorcycle",
    "BUS": "vehicle.bus.rigid",
    "SCHOOL_BUS": "vehicle.bus.rigid",
    "ARTICULATED_BUS": "vehicle.bus.bendy",
    "BOX_TRUCK": "vehicle.truck",
    "TRUCK": "vehicle.truck",
    "TRUCK_CAB": "vehicle.truck",
    "LARGE_VEHICLE": "vehicle.construction",
    "VEHICULAR_TRAILER": "vehicle.trailer",
    "STROLLER": "human.pedestrian.stroller",
    "WHEELCHAIR": "human.pedestrian.wheelchair",
    "WHEELED_DEVICE": "human.pedestrian.personal_mobility",
    "WHEELED_RIDER": "human.pedestrian.personal_mobility",
    "DOG": "animal",
    "ANIMAL": "animal",
    "CONSTRUCTION_CONE": "movable_object.trafficcone",
    "CONSTRUCTION_BARREL": "movable_object.barrier",
    "BOLLARD": "movable_object.barrier",
}

#: The 23 nuScenes categories (the devkit needs only the ones used; all are written).
NUSCENES_CATEGORIES = [
    "human.pedestrian.adult", "human.pedestrian.child", "human.pedestrian.wheelchair",
    "human.pedestrian.stroller", "human.pedestrian.personal_mobility",
    "human.pedestrian.police_officer", "human.pedestrian.construction_worker", "animal",
    "vehicle.car", "vehicle.motorcycle", "vehicle.bicycle", "vehicle.bus.bendy",
    "vehicle.bus.rigid", "vehicle.truck", "vehicle.construction", "vehicle.emergency.ambulance",
    "vehicle.emergency.police", "vehicle.trailer", "movable_object.barrier",
    "movable_object.trafficcone", "movable_object.pushable_pullable", "movable_object.debris",
    "static_object.bicycle_rack",
]

#: nuScenes' visibility levels; tokens "1".."4" as in the dataset. Generated
#: drives have no visibility level: every box gets "4".
VISIBILITY = [("1", "v0-40"), ("2", "v40-60"), ("3", "v60-80"), ("4", "v80-100")]

LIDAR = "LIDAR_TOP"
#: LIDAR_TOP's mounting on a nuScenes car (roof, centre); only its key frames'
#: times and ego poses matter here.
LIDAR_TRANSLATION = [0.943713, 0.0, 1.84023]


class ConversionError(Exception):
    """The source cannot be written as nuScenes; the message says why."""


def token(*parts) -> str:
    return hashlib.md5("/".join(["heptaview-nuscenes", *map(str, parts)]).encode()).hexdigest()


def micros(ns: int) -> int:
    return int(ns) // 1000


def unit_wxyz(q) -> list[float]:
    """A unit quaternion [w, x, y, z] with w >= 0 (the same rotation)."""
    q = np.asarray(q, dtype=float)
    q = q / np.linalg.norm(q)
    return [float(v) for v in (-q if q[0] < 0 else q)]


def rotation_matrix(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=float) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def quaternion_product(a, b) -> np.ndarray:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ])


def pose_of(row: dict) -> tuple[np.ndarray, np.ndarray]:
    """(q [w, x, y, z], t) of a feather row with qw qx qy qz tx_m ty_m tz_m."""
    return (np.array([row["qw"], row["qx"], row["qy"], row["qz"]], dtype=float),
            np.array([row["tx_m"], row["ty_m"], row["tz_m"]], dtype=float))


def compose(a, b):
    """a * b for poses (q, t): apply b, then a."""
    return quaternion_product(a[0], b[0]), rotation_matrix(a[0]) @ b[1] + a[1]


def blank_png(size: int = 8) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\x00" + bytes(size) for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def link(records: list[dict]) -> None:
    """Sets prev/next of records already in time order."""
    for i, record in enumerate(records):
        record["prev"] = records[i - 1]["token"] if i > 0 else ""
        record["next"] = records[i + 1]["token"] if i + 1 < len(records) else ""


def read_drive(src: Path) -> dict:
    def rows(name: str) -> list[dict]:
        path = src / name
        if not path.is_file():
            raise ConversionError(f"{path}: missing (not a drive `heptaview generate` wrote?)")
        return feather.read_table(path).to_pylist()

    intrinsics = {r["sensor_name"]: r for r in rows("calibration/intrinsics.feather")}
    extrinsics = {r["sensor_name"]: pose_of(r)
                  for r in rows("calibration/egovehicle_SE3_sensor.feather")}
    poses = {int(r["timestamp_ns"]): pose_of(r) for r in rows("city_SE3_egovehicle.feather")}
    annotations = rows("annotations.feather")
    cameras_dir = src / "sensors" / "cameras"
    if not cameras_dir.is_dir():
        raise ConversionError(f"{cameras_dir}: missing")
    images = {}
    for camera in sorted(os.listdir(cameras_dir)):
        names = os.listdir(cameras_dir / camera)
        images[camera] = sorted(int(n[:-4]) for n in names if n.endswith(".jpg"))
        if camera not in intrinsics or camera not in extrinsics:
            raise ConversionError(f"{src}: camera {camera} has no calibration")
        k = intrinsics[camera]
        distortion = {c: k[c] for c in ("k1", "k2", "k3")}
        if any(v != 0 for v in distortion.values()):
            raise ConversionError(
                f"{src}: camera {camera} has lens distortion {distortion}; nuScenes images are "
                "undistorted pinholes (generate the drive with an undistorted rig, e.g. "
                "--rig calibration/rigs/nuscenes.toml)")
    return {"intrinsics": intrinsics, "extrinsics": extrinsics, "poses": poses,
            "annotations": annotations, "images": images}


def pose_at(drive: dict, t_ns: int):
    """global_from_ego at exactly t_ns: the generator writes a pose at every image
    and annotation time, so nothing is interpolated here."""
    try:
        return drive["poses"][t_ns]
    except KeyError:
        raise ConversionError(f"no ego pose at {t_ns} ns in city_SE3_egovehicle.feather") from None


def sample_times(annotation_ns: list[int], sample_hz: float) -> list[int]:
    """Annotation timestamps at least 1/sample_hz apart (less 1 ms, for jitter)."""
    period_ns = int(1e9 / sample_hz) - 1_000_000
    chosen = []
    for t in annotation_ns:
        if not chosen or t - chosen[-1] >= period_ns:
            chosen.append(t)
    return chosen


def convert(src: Path, out: Path, scene_name: str, sample_hz: float, version: str,
            vehicle: str) -> dict:
    drive = read_drive(src)
    tables: dict[str, list[dict]] = defaultdict(list)
    log_token = token("log", scene_name)
    scene_token = token("scene", scene_name)

    category_token = {name: token("category", name) for name in NUSCENES_CATEGORIES}
    tables["category"] = [{"token": category_token[n], "name": n, "description": n}
                          for n in NUSCENES_CATEGORIES]
    tables["attribute"] = []
    tables["visibility"] = [{"token": t, "level": level, "description": level}
                            for t, level in VISIBILITY]
    first_ns = min(min(ts) for ts in drive["images"].values() if ts)
    date = datetime.datetime.fromtimestamp(first_ns / 1e9, datetime.timezone.utc)
    tables["log"] = [{"token": log_token, "logfile": src.name, "vehicle": vehicle,
                      "date_captured": date.strftime("%Y-%m-%d"), "location": "heptaview"}]
    map_token = token("map", scene_name)
    map_file = f"maps/{map_token}.png"
    (out / "maps").mkdir(parents=True, exist_ok=True)
    (out / map_file).write_bytes(blank_png())
    tables["map"] = [{"token": map_token, "log_tokens": [log_token],
                      "category": "semantic_prior", "filename": map_file}]

    annotation_ns = sorted({int(r["timestamp_ns"]) for r in drive["annotations"]})
    if not annotation_ns:
        raise ConversionError(f"{src}: no annotations, so no samples")
    chosen = sample_times(annotation_ns, sample_hz)
    samples = [{"token": token("sample", scene_name, t), "timestamp": micros(t),
                "scene_token": scene_token} for t in chosen]
    link(samples)
    tables["sample"] = samples
    tables["scene"] = [{"token": scene_token, "log_token": log_token, "name": scene_name,
                        "nbr_samples": len(samples), "description": f"converted from {src.name}",
                        "first_sample_token": samples[0]["token"],
                        "last_sample_token": samples[-1]["token"]}]
    sample_us = np.array([s["timestamp"] for s in samples], dtype=np.int64)

    def add_sample_data(channel: str, calibrated: str, t_ns: int, sample: dict, is_key: bool,
                        filename: str, width: int, height: int, fileformat: str) -> dict:
        q, t = pose_at(drive, t_ns)
        pose_token = token("ego_pose", channel, t_ns)
        tables["ego_pose"].append({"token": pose_token, "timestamp": micros(t_ns),
                                   "rotation": unit_wxyz(q), "translation": t.tolist()})
        return {"token": token("sample_data", channel, t_ns), "sample_token": sample["token"],
                "ego_pose_token": pose_token, "calibrated_sensor_token": calibrated,
                "timestamp": micros(t_ns), "fileformat": fileformat, "is_key_frame": is_key,
                "height": height, "width": width, "filename": filename}

    # The lidar: a key frame at each sample, whose ego pose places the annotations.
    lidar_sensor = token("sensor", LIDAR)
    lidar_calibrated = token("calibrated_sensor", scene_name, LIDAR)
    tables["sensor"].append({"token": lidar_sensor, "channel": LIDAR, "modality": "lidar"})
    tables["calibrated_sensor"].append({"token": lidar_calibrated, "sensor_token": lidar_sensor,
                                        "translation": LIDAR_TRANSLATION,
                                        "rotation": [1.0, 0.0, 0.0, 0.0],
                                        "camera_intrinsic": []})
    (out / "samples" / LIDAR).mkdir(parents=True, exist_ok=True)
    lidar_records = []
    for t_ns, sample in zip(chosen, samples):
        filename = f"samples/{LIDAR}/{scene_name}__{LIDAR}__{micros(t_ns)}.pcd.bin"
        (out / filename).write_bytes(b"")  # zero points (x y z intensity ring, float32)
        lidar_records.append(add_sample_data(LIDAR, lidar_calibrated, t_ns, sample, True,
                                             filename, 0, 0, "pcd"))
    link(lidar_records)
    tables["sample_data"].extend(lidar_records)

    for camera, stamps in drive["images"].items():
        if not stamps:
            continue
        k = drive["intrinsics"][camera]
        q, t = drive["extrinsics"][camera]
        sensor = token("sensor", camera)
        calibrated = token("calibrated_sensor", scene_name, camera)
        tables["sensor"].append({"token": sensor, "channel": camera, "modality": "camera"})
        tables["calibrated_sensor"].append({
            "token": calibrated, "sensor_token": sensor, "translation": t.tolist(),
            "rotation": unit_wxyz(q),
            "camera_intrinsic": [[float(k["fx_px"]), 0.0, float(k["cx_px"])],
                                 [0.0, float(k["fy_px"]), float(k["cy_px"])],
                                 [0.0, 0.0, 1.0]]})
        stamps_us = np.array([micros(s) for s in stamps], dtype=np.int64)
        key_of = {}
        for index, sample in enumerate(samples):
            nearest = int(np.argmin(np.abs(stamps_us - sample["timestamp"])))
            # Half a sample period: a camera that missed the sample has no key frame.
            if abs(int(stamps_us[nearest]) - sample["timestamp"]) * sample_hz < 500_000:
                if stamps[nearest] in key_of:
                    raise ConversionError(f"{camera}: image {stamps[nearest]} is nearest to two "
                                          "samples (lower --sample-hz)")
                key_of[stamps[nearest]] = index
        for kind in ("samples", "sweeps"):
            (out / kind / camera).mkdir(parents=True, exist_ok=True)
        records = []
        for t_ns in stamps:
            is_key = t_ns in key_of
            index = key_of[t_ns] if is_key else int(np.argmin(np.abs(sample_us - micros(t_ns))))
            filename = (f"{'samples' if is_key else 'sweeps'}/{camera}/"
                        f"{scene_name}__{camera}__{micros(t_ns)}.jpg")
            shutil.copyfile(src / "sensors" / "cameras" / camera / f"{t_ns}.jpg", out / filename)
            records.append(add_sample_data(camera, calibrated, t_ns, samples[index], is_key,
                                           filename, int(k["width_px"]), int(k["height_px"]),
                                           "jpg"))
        link(records)
        tables["sample_data"].extend(records)

    by_instance: dict[str, list[dict]] = defaultdict(list)
    category_of: dict[str, str] = {}
    left_out: dict[str, int] = defaultdict(int)
    sample_at = dict(zip(chosen, samples))
    for row in sorted(drive["annotations"], key=lambda r: (r["timestamp_ns"], r["track_uuid"])):
        t_ns = int(row["timestamp_ns"])
        if t_ns not in sample_at:
            continue
        category = AV2_TO_NUSCENES.get(row["category"])
        if category is None:
            left_out[row["category"]] += 1
            continue
        q, t = compose(pose_at(drive, t_ns), pose_of(row))
        instance = token("instance", scene_name, row["track_uuid"])
        category_of[instance] = category
        by_instance[instance].append({
            "token": token("sample_annotation", scene_name, row["track_uuid"], t_ns),
            "sample_token": sample_at[t_ns]["token"], "instance_token": instance,
            "visibility_token": "4", "attribute_tokens": [],
            "translation": t.tolist(),
            "size": [float(row["width_m"]), float(row["length_m"]), float(row["height_m"])],
            "rotation": unit_wxyz(q),
            "num_lidar_pts": int(row["num_interior_pts"]), "num_radar_pts": 0})
    for instance, annotations in by_instance.items():
        link(annotations)
        tables["sample_annotation"].extend(annotations)
        tables["instance"].append({
            "token": instance, "category_token": category_token[category_of[instance]],
            "nbr_annotations": len(annotations),
            "first_annotation_token": annotations[0]["token"],
            "last_annotation_token": annotations[-1]["token"]})
    for category, count in sorted(left_out.items()):
        print(f"note: {count} {category} annotations left out (no nuScenes category)",
              file=sys.stderr)

    table_dir = out / version
    table_dir.mkdir(parents=True, exist_ok=True)
    for name in ("category", "attribute", "visibility", "instance", "sensor",
                 "calibrated_sensor", "ego_pose", "log", "scene", "sample", "sample_data",
                 "sample_annotation", "map"):
        (table_dir / f"{name}.json").write_text(json.dumps(tables[name], indent=1))
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="a drive heptaview generate wrote")
    parser.add_argument("out", type=Path, help="the nuScenes dataset root to write")
    parser.add_argument("--scene-name", default=None, help="default: scene-<SRC folder name>")
    parser.add_argument("--sample-hz", type=float, default=2.0,
                        help="samples (annotated key frames) per second, as nuScenes: 2")
    parser.add_argument("--version", default="v1.0-mini")
    parser.add_argument("--vehicle", default="heptaview", help="log.vehicle")
    args = parser.parse_args(argv)
    if args.sample_hz <= 0:
        parser.error("--sample-hz must be positive")
    if not args.version.startswith("v1.0-"):
        parser.error("--version must start with v1.0- (the devkit's naming)")
    scene_name = args.scene_name or f"scene-{args.src.resolve().name}"
    try:
        tables = convert(args.src, args.out, scene_name, args.sample_hz, args.version,
                         args.vehicle)
    except ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    keys = sum(r["is_key_frame"] and r["fileformat"] == "jpg" for r in tables["sample_data"])
    images = sum(r["fileformat"] == "jpg" for r in tables["sample_data"])
    print(f"{scene_name}: {len(tables['sample'])} samples, {images} images ({keys} key frames), "
          f"{len(tables['sample_annotation'])} annotations -> {args.out / args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
