#!/usr/bin/env python3
"""Convert a drive `heptaview generate` wrote (Argoverse 2 layout) into a ROS 2
bag in MCAP, with the official writer (mcap-ros2-support), as an independent
source of bags for heptaview's ROS 2 reader.

    write_ros2_bag.py SRC OUT.mcap [--lens plumb_bob|rational_polynomial|equidistant]
                      [--drop-camera-info CAM] [--format png] [--tf-chain map-odom|map]
                      [--folder]

Per camera: /<cam>/image_raw/compressed (the JPEG files as they are, stamped
with their file's timestamp, logged 2 ms later so that a reader using the log
time instead of header.stamp is caught) and /<cam>/camera_info with each image.
/tf_static: base_link -> <cam>_mount -> <cam>_optical_frame, the mount turned
so that the chain, not one link, carries the camera's pose. /tf: the ego poses
as map -> odom (a fixed offset, published at a fifth of the rate) -> base_link,
or directly map -> base_link with --tf-chain map.

--lens picks the CameraInfo distortion: plumb_bob [k1 k2 0 0 k3] (the drive's
own), rational_polynomial [k1 k2 0 0 k3 0.001 0 0], equidistant
EQUIDISTANT_D (fixed: the drive has no fisheye). --folder writes OUT as a
rosbag2 folder (metadata.yaml and OUT/<name>_0.mcap).
"""

import argparse
import math
import os
import sys

import numpy as np
import pyarrow.feather as feather
from mcap_ros2.writer import Writer

LOG_DELAY_NS = 2_000_000
EQUIDISTANT_D = [0.05, -0.01, 0.002, -0.0005]
RATIONAL_K4 = 0.001
# map -> odom: an arbitrary fixed offset, so that composing it matters.
MAP_FROM_ODOM = ((100.0, -50.0, 0.5), (0.0, 0.0, math.sin(0.15), math.cos(0.15)))  # xyz, xyzw
# REP 103: a camera body frame (x forward, y left, z up) to its optical frame
# (z forward, x right, y down); mount_from_optical.
MOUNT_FROM_OPTICAL_XYZW = (-0.5, 0.5, -0.5, 0.5)

SEP = "=" * 80
TIME = "int32 sec\nuint32 nanosec\n"
HEADER = "builtin_interfaces/Time stamp\nstring frame_id\n"
DEFS = {
    "sensor_msgs/msg/CompressedImage": "std_msgs/Header header\nstring format\nuint8[] data\n"
    + f"{SEP}\nMSG: std_msgs/Header\n{HEADER}{SEP}\nMSG: builtin_interfaces/Time\n{TIME}",
    "sensor_msgs/msg/CameraInfo": "std_msgs/Header header\nuint32 height\nuint32 width\n"
    "string distortion_model\nfloat64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\n"
    "uint32 binning_x\nuint32 binning_y\nRegionOfInterest roi\n"
    + f"{SEP}\nMSG: std_msgs/Header\n{HEADER}{SEP}\nMSG: builtin_interfaces/Time\n{TIME}"
    + f"{SEP}\nMSG: sensor_msgs/RegionOfInterest\n"
    "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n",
    "tf2_msgs/msg/TFMessage": "geometry_msgs/TransformStamped[] transforms\n"
    + f"{SEP}\nMSG: geometry_msgs/TransformStamped\n"
    "std_msgs/Header header\nstring child_frame_id\nTransform transform\n"
    + f"{SEP}\nMSG: std_msgs/Header\n{HEADER}{SEP}\nMSG: builtin_interfaces/Time\n{TIME}"
    + f"{SEP}\nMSG: geometry_msgs/Transform\nVector3 translation\nQuaternion rotation\n"
    + f"{SEP}\nMSG: geometry_msgs/Vector3\nfloat64 x\nfloat64 y\nfloat64 z\n"
    + f"{SEP}\nMSG: geometry_msgs/Quaternion\nfloat64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n",
}


def q_mul(a, b):
    """Hamilton product of (x, y, z, w) quaternions."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def q_conj(q):
    return (-q[0], -q[1], -q[2], q[3])


def q_rotate(q, v):
    x, y, z, _ = q_mul(q_mul(q, (v[0], v[1], v[2], 0.0)), q_conj(q))
    return (x, y, z)


def compose(a, b):
    """a * b for (translation, quaternion) transforms."""
    ta, qa = a
    tb, qb = b
    rotated = q_rotate(qa, tb)
    return (tuple(ta[i] + rotated[i] for i in range(3)), q_mul(qa, qb))


def inverse(a):
    t, q = a
    qi = q_conj(q)
    ti = q_rotate(qi, t)
    return ((-ti[0], -ti[1], -ti[2]), qi)


def stamp(t_ns):
    return {"sec": int(t_ns // 1_000_000_000), "nanosec": int(t_ns % 1_000_000_000)}


def transform_msg(t_ns, parent, child, transform):
    (x, y, z), (qx, qy, qz, qw) = transform
    return {
        "header": {"stamp": stamp(t_ns), "frame_id": parent},
        "child_frame_id": child,
        "transform": {
            "translation": {"x": x, "y": y, "z": z},
            "rotation": {"x": qx, "y": qy, "z": qz, "w": qw},
        },
    }


def distortion(lens, row):
    k1, k2, k3 = row["k1"], row["k2"], row["k3"]
    if lens == "plumb_bob":
        return [k1, k2, 0.0, 0.0, k3]
    if lens == "rational_polynomial":
        return [k1, k2, 0.0, 0.0, k3, RATIONAL_K4, 0.0, 0.0]
    return list(EQUIDISTANT_D)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src")
    parser.add_argument("out")
    parser.add_argument("--lens", default="plumb_bob",
                        choices=["plumb_bob", "rational_polynomial", "equidistant"])
    parser.add_argument("--drop-camera-info", metavar="CAM", default=None)
    parser.add_argument("--format", default="jpeg")
    parser.add_argument("--tf-chain", default="map-odom", choices=["map-odom", "map"])
    parser.add_argument("--folder", action="store_true")
    args = parser.parse_args()

    intrinsics = feather.read_table(os.path.join(args.src, "calibration/intrinsics.feather")).to_pylist()
    extrinsics = {r["sensor_name"]: r for r in feather.read_table(
        os.path.join(args.src, "calibration/egovehicle_SE3_sensor.feather")).to_pylist()}
    poses = feather.read_table(os.path.join(args.src, "city_SE3_egovehicle.feather")).to_pylist()
    cameras_dir = os.path.join(args.src, "sensors/cameras")

    out = args.out
    if args.folder:
        os.makedirs(out, exist_ok=False)
        name = os.path.basename(os.path.normpath(out))
        out = os.path.join(out, f"{name}_0.mcap")

    # (log_time, topic, schema, message) for every message, written in log order.
    messages = []
    static_links = []
    for row in intrinsics:
        cam = row["sensor_name"]
        if not os.path.isdir(os.path.join(cameras_dir, cam)):
            continue
        e = extrinsics[cam]
        ego_from_camera = ((e["tx_m"], e["ty_m"], e["tz_m"]), (e["qx"], e["qy"], e["qz"], e["qw"]))
        mount_from_optical = ((0.0, 0.0, 0.0), MOUNT_FROM_OPTICAL_XYZW)
        ego_from_mount = compose(ego_from_camera, inverse(mount_from_optical))
        static_links.append(("base_link", f"{cam}_mount", ego_from_mount))
        static_links.append((f"{cam}_mount", f"{cam}_optical_frame", mount_from_optical))

        fx, fy, cx, cy = row["fx_px"], row["fy_px"], row["cx_px"], row["cy_px"]
        info = {
            "header": {"stamp": stamp(0), "frame_id": f"{cam}_optical_frame"},
            "height": int(row["height_px"]),
            "width": int(row["width_px"]),
            "distortion_model": args.lens,
            "d": distortion(args.lens, row),
            "k": [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
            "r": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            "p": [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
            "binning_x": 0,
            "binning_y": 0,
            "roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": False},
        }
        names = sorted(os.listdir(os.path.join(cameras_dir, cam)))
        for file_name in names:
            t_ns = int(file_name[: -len(".jpg")])
            with open(os.path.join(cameras_dir, cam, file_name), "rb") as f:
                data = f.read()
            if cam != args.drop_camera_info:
                msg = dict(info, header={"stamp": stamp(t_ns), "frame_id": info["header"]["frame_id"]})
                messages.append((t_ns + LOG_DELAY_NS, f"/{cam}/camera_info", "sensor_msgs/msg/CameraInfo", msg))
            image = {
                "header": {"stamp": stamp(t_ns), "frame_id": f"{cam}_optical_frame"},
                "format": args.format,
                "data": data,
            }
            messages.append((t_ns + LOG_DELAY_NS, f"/{cam}/image_raw/compressed",
                             "sensor_msgs/msg/CompressedImage", image))

    map_from_odom = (MAP_FROM_ODOM[0], MAP_FROM_ODOM[1])
    odom_from_map = inverse(map_from_odom)
    for i, p in enumerate(poses):
        t_ns = int(p["timestamp_ns"])
        city_from_ego = ((p["tx_m"], p["ty_m"], p["tz_m"]), (p["qx"], p["qy"], p["qz"], p["qw"]))
        links = []
        if args.tf_chain == "map":
            links.append(transform_msg(t_ns, "map", "base_link", city_from_ego))
        else:
            links.append(transform_msg(t_ns, "odom", "base_link", compose(odom_from_map, city_from_ego)))
            if i % 5 == 0 or i == len(poses) - 1:
                links.append(transform_msg(t_ns, "map", "odom", map_from_odom))
        messages.append((t_ns, "/tf", "tf2_msgs/msg/TFMessage", {"transforms": links}))

    messages.sort(key=lambda m: m[0])
    first = messages[0][0] if messages else 0
    with open(out, "wb") as f:
        writer = Writer(f)
        schemas = {name: writer.register_msgdef(name, text) for name, text in DEFS.items()}
        tf_static = {"transforms": [transform_msg(first, parent, child, t) for parent, child, t in static_links]}
        writer.write_message("/tf_static", schemas["tf2_msgs/msg/TFMessage"], tf_static,
                             log_time=first, publish_time=first)
        for log_time, topic, schema, msg in messages:
            writer.write_message(topic, schemas[schema], msg, log_time=log_time, publish_time=log_time)
        writer.finish()

    if args.folder:
        with open(os.path.join(args.out, "metadata.yaml"), "w") as f:
            f.write("rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: mcap\n"
                    f"  relative_file_paths:\n    - {os.path.basename(out)}\n")
    print(f"wrote {len(messages) + 1} messages to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
