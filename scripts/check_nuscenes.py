#!/usr/bin/env python3
"""Checks heptaview's nuScenes reader against the official nuscenes-devkit:
the boxes heptaview places in each camera key frame must be the devkit's, and
their corners must project to the same pixels.

    check_nuscenes.py ROOT --version v1.0-mini --scene NAME --projections FILE.jsonl

FILE.jsonl (written by heptaview's test, datasets/tests/nuscenes.rs) has one
line per camera image heptaview has ground truth for:

    {"camera": "CAM_FRONT", "timestamp_ns": 1531883530412470000,
     "boxes": [{"instance": "<instance_token>", "category": "vehicle.car",
                "corners_cam_m": [[x, y, z] x 8], "corners_px": [[u, v] or null x 8]}]}

with corners in heptaview's order (`Cuboid::corners_ego`), moved to the camera
frame and projected by heptaview. For every camera key frame of the scene, the
devkit gives its boxes (`get_sample_data`, global -> ego at the image's pose ->
camera) and `view_points(box.corners(), K, normalize=True)`. The check fails
(exit 1) when a key frame has no heptaview line, when the two sets of boxes
differ, when no box is visible in any key frame (nothing was compared), or when
a corner in front of the camera projects 0.5 px or more apart (or a corner
in the camera frame is 1 µm or more apart). Sweeps are not
compared: the devkit interpolates boxes between samples, heptaview carries the
sample's boxes rigidly to the image's ego pose.

Only the devkit and numpy are used for the reference; nothing of heptaview is
imported.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from nuscenes.nuscenes import NuScenes
from nuscenes.utils.data_classes import Box
from nuscenes.utils.geometry_utils import BoxVisibility, view_points
from pyquaternion import Quaternion

MAX_PIXEL_ERROR = 0.5
#: Both sides compute the corners in double precision from the same numbers.
MAX_CORNER_ERROR_M = 1e-6
#: Corners this close to the camera plane (or behind it) are not compared in
#: pixels: their projection is unstable and meaningless (the devkit's own
#: `box_in_image` threshold for "in front").
MIN_DEPTH_M = 0.1

#: heptaview's corner order as (sign of x along length, y along width, z up),
#: copied from datasets/src/av2/annotations.rs (`Cuboid::corners_ego`).
HEPTAVIEW_CORNER_SIGNS = [
    (1, 1, 1), (1, -1, 1), (-1, -1, 1), (-1, 1, 1),
    (1, 1, -1), (1, -1, -1), (-1, -1, -1), (-1, 1, -1),
]


def devkit_from_heptaview() -> list[int]:
    """For each devkit corner, the index of the same corner in heptaview's order,
    derived from the devkit's own `Box.corners` of a 2 m cube at the origin."""
    cube = Box([0.0, 0.0, 0.0], [2.0, 2.0, 2.0], Quaternion())
    signs = [tuple(int(round(v)) for v in corner) for corner in cube.corners().T]
    return [HEPTAVIEW_CORNER_SIGNS.index(s) for s in signs]


def key_frames(nusc: NuScenes, scene: dict) -> list[dict]:
    """The scene's camera key frames, sample by sample."""
    frames = []
    token = scene["first_sample_token"]
    while token:
        sample = nusc.get("sample", token)
        for channel in sorted(sample["data"]):
            data = nusc.get("sample_data", sample["data"][channel])
            if data["sensor_modality"] == "camera":
                frames.append(data)
        token = sample["next"]
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="the dataset root (the devkit's dataroot)")
    parser.add_argument("--version", default="v1.0-mini")
    parser.add_argument("--scene", required=True, help="scene name, e.g. scene-0061")
    parser.add_argument("--projections", required=True, help="heptaview's JSON lines")
    args = parser.parse_args(argv)

    nusc = NuScenes(version=args.version, dataroot=args.root, verbose=False)
    scenes = [s for s in nusc.scene if s["name"] == args.scene]
    if not scenes:
        print(f"error: no scene {args.scene!r}; have {[s['name'] for s in nusc.scene]}",
              file=sys.stderr)
        return 2
    heptaview = {}
    with open(args.projections) as lines:
        for line in lines:
            record = json.loads(line)
            heptaview[(record["camera"], record["timestamp_ns"] // 1000)] = {
                box["instance"]: box for box in record["boxes"]}
    order = devkit_from_heptaview()

    problems = []
    frames = key_frames(nusc, scenes[0])
    compared_boxes = compared_corners = 0
    max_px = max_m = 0.0
    for data in frames:
        where = f"{data['channel']} at {data['timestamp']} us"
        ours = heptaview.get((data["channel"], data["timestamp"]))
        if ours is None:
            problems.append(f"{where}: heptaview has no ground truth for this key frame")
            continue
        _, all_boxes, _ = nusc.get_sample_data(data["token"], box_vis_level=BoxVisibility.NONE)
        instance_of = {b.token: nusc.get("sample_annotation", b.token)["instance_token"]
                       for b in all_boxes}
        theirs = {instance_of[b.token] for b in all_boxes}
        if theirs != set(ours):
            problems.append(f"{where}: boxes differ: devkit only {sorted(theirs - set(ours))}, "
                            f"heptaview only {sorted(set(ours) - theirs)}")
            continue
        _, boxes, K = nusc.get_sample_data(data["token"], box_vis_level=BoxVisibility.ANY)
        for box in boxes:
            mine = ours[instance_of[box.token]]
            if mine["category"] != box.name:
                problems.append(f"{where}: {box.token} is {box.name}, heptaview says "
                                f"{mine['category']}")
            corners = box.corners()  # 3 x 8, camera frame, devkit order
            pixels = view_points(corners, K, normalize=True)[:2, :]
            for i, j in enumerate(order):
                max_m = max(max_m, float(np.linalg.norm(
                    np.asarray(mine["corners_cam_m"][j]) - corners[:, i])))
                if corners[2, i] <= MIN_DEPTH_M:
                    continue
                if mine["corners_px"][j] is None:
                    problems.append(f"{where}: corner {i} of {box.token} is in front of the "
                                    "camera but heptaview did not project it")
                    continue
                error = float(np.linalg.norm(np.asarray(mine["corners_px"][j]) - pixels[:, i]))
                max_px = max(max_px, error)
                compared_corners += 1
            compared_boxes += 1

    print(f"{args.scene}: {len(frames)} camera key frames, {compared_boxes} visible boxes, "
          f"{compared_corners} corners compared with the devkit: max error {max_px:.3g} px, "
          f"{max_m:.3g} m in the camera frame")
    if compared_boxes == 0:
        problems.append("no box is visible in any key frame: nothing was compared")
    if max_px >= MAX_PIXEL_ERROR:
        problems.append(f"max projection error {max_px:.3g} px >= {MAX_PIXEL_ERROR} px")
    if max_m >= MAX_CORNER_ERROR_M:
        problems.append(f"max corner error {max_m:.3g} m >= {MAX_CORNER_ERROR_M} m")
    for problem in problems[:20]:
        print(f"error: {problem}", file=sys.stderr)
    if len(problems) > 20:
        print(f"error: ... and {len(problems) - 20} more", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
