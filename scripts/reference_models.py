#!/usr/bin/env python3
"""Independent reference for heptaview's detector and classifier.

Runs the shipped ONNX models with ONNX Runtime in Python, with the same
preprocessing and decoding that heptaview implements in Rust, written here
from the model facts (models/*.toml) without sharing any code:

  detector:   letterbox (scale = min(W/w, H/h), rounded size, INTER_LINEAR,
              centred, padding = the mean colour,
              i.e. 0 after normalisation), BGR, (x - mean) / std; NanoDet GFL
              decoding (centre (col + 0.5) * s, softmax-expected side
              distances * s), every (cell, class) >= threshold, greedy
              per-class NMS at IoU 0.5, boxes mapped back and clipped;
  classifier: for each vehicle detection, its box's pixels (floor/ceil,
              clipped) resized to 224x224 (INTER_LINEAR), RGB, (x - 127) / 128,
              one batched run, softmax, top 5.

Usage: reference_models.py [--threshold S] [--all-classes] [--detector NAME] [--classifier NAME] IMAGE...
(NAME: a manifest in models/ without .toml, e.g. nanodet_int8.)
Prints one JSON object per line per image.
"""

import argparse
import json
import os
import sys
import tomllib

import cv2
import numpy as np
import onnxruntime as ort

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
DRIVING = ["person", "bicycle", "car", "motorcycle", "bus", "train", "truck", "traffic light", "stop sign"]
VEHICLES = ["car", "truck", "bus", "motorcycle", "bicycle"]


def load(name):
    with open(os.path.join(MODELS, name + ".toml"), "rb") as f:
        manifest = tomllib.load(f)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(os.path.join(MODELS, manifest["file"]), options, providers=["CPUExecutionProvider"])
    with open(os.path.join(MODELS, manifest["labels"])) as f:
        labels = [line.strip() for line in f.read().splitlines()]
    return manifest, session, labels


def normalise(bgr, spec):
    image = bgr.astype(np.float32)
    if spec["colour_order"] == "RGB":
        image = image[:, :, ::-1]
    image = (image - np.array(spec["mean"], np.float32)) / np.array(spec["std"], np.float32)
    return image.transpose(2, 0, 1)


def letterbox(bgr, spec):
    height, width = spec["shape"][2], spec["shape"][3]
    h, w = bgr.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    if (nw, nh) != (w, h):
        resized = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    else:
        resized = bgr
    pad_x, pad_y = (width - nw) // 2, (height - nh) // 2
    tensor = np.zeros((1, 3, height, width), np.float32)
    tensor[0, :, pad_y:pad_y + nh, pad_x:pad_x + nw] = normalise(resized, spec)
    return tensor, scale, pad_x, pad_y


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detect(bgr, manifest, session, labels, threshold, allowed):
    spec = manifest["input"]
    tensor, scale, pad_x, pad_y = letterbox(bgr, spec)
    names = [o["name"] for o in manifest["output"]]
    values = dict(zip(names, session.run(names, {spec["name"]: tensor})))
    bins = manifest["reg_max"] + 1
    candidates = []
    for scores_spec in [o for o in manifest["output"] if o["role"] == "class_scores"]:
        stride = scores_spec["stride"]
        boxes_spec = [o for o in manifest["output"] if o["role"] == "box_distribution" and o["stride"] == stride][0]
        scores = values[scores_spec["name"]][0]
        dist = values[boxes_spec["name"]][0].reshape(-1, 4, bins)
        probabilities = np.exp(dist - dist.max(axis=2, keepdims=True))
        probabilities /= probabilities.sum(axis=2, keepdims=True)
        sides = (probabilities * np.arange(bins)).sum(axis=2) * stride
        grid = -(-spec["shape"][3] // stride)
        for cell, class_id in zip(*np.nonzero(scores >= threshold)):
            if not allowed[class_id]:
                continue
            row, col = divmod(int(cell), grid)
            cx, cy = (col + 0.5) * stride, (row + 0.5) * stride
            l, t, r, b = sides[cell]
            candidates.append((float(scores[cell, class_id]), int(class_id), [cx - l, cy - t, cx + r, cy + b]))
    candidates.sort(key=lambda c: -c[0])
    kept = []
    for score, class_id, box in candidates:
        if all(k[1] != class_id or iou(k[2], box) <= 0.5 for k in kept):
            kept.append((score, class_id, box))
    h, w = bgr.shape[:2]
    detections = []
    for score, class_id, (x1, y1, x2, y2) in kept[:100]:
        box = [
            float(np.clip((x1 - pad_x) / scale, 0, w)), float(np.clip((y1 - pad_y) / scale, 0, h)),
            float(np.clip((x2 - pad_x) / scale, 0, w)), float(np.clip((y2 - pad_y) / scale, 0, h)),
        ]
        if box[2] > box[0] and box[3] > box[1]:
            detections.append({"class": labels[class_id], "class_id": class_id, "score": score, "box": box})
    return detections


def classify(bgr, boxes, manifest, session, labels):
    spec = manifest["input"]
    h, w = bgr.shape[:2]
    crops = []
    for x1, y1, x2, y2 in boxes:
        left, top = int(np.clip(np.floor(x1), 0, w)), int(np.clip(np.floor(y1), 0, h))
        right, bottom = int(np.clip(np.ceil(x2), 0, w)), int(np.clip(np.ceil(y2), 0, h))
        crop = cv2.resize(bgr[top:bottom, left:right], (spec["shape"][3], spec["shape"][2]), interpolation=cv2.INTER_LINEAR)
        crops.append(normalise(crop, spec))
    if not crops:
        return []
    logits = session.run([manifest["output"][0]["name"]], {spec["name"]: np.stack(crops)})[0]
    results = []
    for row in logits:
        p = np.exp(row - row.max())
        p /= p.sum()
        top = np.argsort(-p, kind="stable")[:5]
        results.append([{"class_id": int(i), "label": labels[i], "score": float(p[i])} for i in top])
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=0.35)
    parser.add_argument("--all-classes", action="store_true")
    parser.add_argument("--detector", default="nanodet", help="detector manifest in models/, without .toml (default nanodet)")
    parser.add_argument("--classifier", default="efficientnet_lite0", help="classifier manifest in models/, without .toml (default efficientnet_lite0)")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    det_manifest, det_session, det_labels = load(args.detector)
    cls_manifest, cls_session, cls_labels = load(args.classifier)
    allowed = [args.all_classes or label in DRIVING for label in det_labels]
    for path in args.images:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            sys.exit(f"cannot read {path}")
        detections = detect(bgr, det_manifest, det_session, det_labels, args.threshold, allowed)
        vehicles = [d for d in detections if d["class"] in VEHICLES]
        for d, top in zip(vehicles, classify(bgr, [d["box"] for d in vehicles], cls_manifest, cls_session, cls_labels)):
            d["top5"] = top
        print(json.dumps({"image": path, "width": bgr.shape[1], "height": bgr.shape[0], "detections": detections}))


if __name__ == "__main__":
    main()
