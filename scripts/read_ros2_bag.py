#!/usr/bin/env python3
"""Summarise a ROS 2 bag (MCAP) with the official reader (mcap-ros2-support),
as an independent check of what heptaview's ROS 2 writer wrote.

    read_ros2_bag.py BAG --summary-json

Prints one JSON object: per topic its schema, message count, first/last and
all header stamps (ns), and for images the formats and each image's SHA-256;
per CameraInfo topic the first message's frame, size, model, K, D, P; the
/tf_static links; every /tf transform.
"""

import argparse
import hashlib
import json

from mcap_ros2.reader import read_ros2_messages


def stamp_ns(header):
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def transform(t):
    tr, rot = t.transform.translation, t.transform.rotation
    return {
        "stamp_ns": stamp_ns(t.header),
        "parent": t.header.frame_id,
        "child": t.child_frame_id,
        "translation": [tr.x, tr.y, tr.z],
        "rotation_xyzw": [rot.x, rot.y, rot.z, rot.w],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bag")
    parser.add_argument("--summary-json", action="store_true", required=True)
    args = parser.parse_args()

    topics, camera_info, tf_static, tf = {}, {}, [], []
    for m in read_ros2_messages(args.bag):
        topic, msg = m.channel.topic, m.ros_msg
        entry = topics.setdefault(topic, {
            "schema": m.schema.name, "encoding": m.channel.message_encoding,
            "count": 0, "stamps_ns": [], "log_times_ns": [],
        })
        entry["count"] += 1
        entry["log_times_ns"].append(m.log_time_ns)
        if hasattr(msg, "header"):
            entry["stamps_ns"].append(stamp_ns(msg.header))
        if m.schema.name == "sensor_msgs/msg/CompressedImage":
            entry.setdefault("formats", [])
            if msg.format not in entry["formats"]:
                entry["formats"].append(msg.format)
            entry.setdefault("sha256", []).append(hashlib.sha256(bytes(msg.data)).hexdigest())
        elif m.schema.name == "sensor_msgs/msg/CameraInfo" and topic not in camera_info:
            camera_info[topic] = {
                "frame_id": msg.header.frame_id,
                "width": msg.width,
                "height": msg.height,
                "distortion_model": msg.distortion_model,
                "k": list(msg.k),
                "d": list(msg.d),
                "p": list(msg.p),
            }
        elif topic == "/tf_static":
            tf_static.extend(transform(t) for t in msg.transforms)
        elif topic == "/tf":
            tf.extend(transform(t) for t in msg.transforms)
    for entry in topics.values():
        stamps = entry["stamps_ns"]
        entry["first_stamp_ns"] = min(stamps) if stamps else None
        entry["last_stamp_ns"] = max(stamps) if stamps else None
    print(json.dumps({"topics": topics, "camera_info": camera_info,
                      "tf_static": tf_static, "tf": tf}))


if __name__ == "__main__":
    main()
