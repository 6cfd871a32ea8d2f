#!/usr/bin/env python3
"""An INT8 model against its FP32 source: faithfulness on real photos, and speed.

  faithful  Runs both detectors on held-out real photographs (default: the four
            fixture photos, tests/fixtures/images, none of which is in the
            calibration set of scripts/quantize_models.py) and decodes them with
            the Python reference of heptaview's decoder (scripts/reference_models.py:
            letterbox, GFL decoding, per-class NMS at IoU 0.5). Every FP32
            detection with score >= --threshold must have an INT8 detection of
            the same class with IoU >= --min-iou and |score difference| <=
            --max-score-delta, and every INT8 detection >= --threshold one in
            the FP32 list (one-to-one). The other side is decoded at threshold
            - max-score-delta, so that a 0.36 vs 0.34 pair counts as the match
            it is (lowering the threshold only adds candidates below every
            kept box: the boxes kept above it do not change).
            With --classifier-int8, also the classifier on the FP32 detector's
            vehicle crops of the same photos (the crops
            scripts/calibrate_subtypes.py uses): top-1 agreement, and the largest
            difference in the probability of FP32's top-1 class, and the vehicle
            subtype heptaview derives (models/src/taxonomy.rs, as
            scripts/calibrate_subtypes.py mirrors it) with its probability mass.
            Exit status 1 when a detection has no match.

  bench     FP32 and INT8 sessions of one model, intra_op_num_threads 1 and 2,
            batch 1 at the model's input size, run interleaved (FP32, INT8,
            FP32, ...) so that whatever else the machine is doing at the time
            (other builds) weighs on both alike; median and p90 ms and their
            ratio.

Usage:
  compare_quantized.py faithful --int8 models/nanodet_int8.onnx [--all-classes]
  compare_quantized.py bench --int8 models/nanodet_int8.onnx [--runs 60]
"""

import argparse
import json
import os
import statistics
import sys
import time

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate_subtypes as cs  # noqa: E402
import reference_models as rm  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PHOTOS = [os.path.join(ROOT, "tests", "fixtures", "images", n) for n in ["bus.jpg", "zidane.jpg", "darknet_dog.jpg", "ocv_scenetext01.jpg"]]
VEHICLES = ["car", "truck", "bus", "motorcycle", "bicycle"]


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # One inference at a time, as heptaview's detect stage runs each session.
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def manifest(name):
    return rm.load(name)[0]


def match(reference, candidates, min_iou, max_delta, threshold):
    """Pairs each reference detection >= threshold with its best unused candidate."""
    used = set()
    pairs, missing = [], []
    for r in sorted(reference, key=lambda d: -d["score"]):
        if r["score"] < threshold:
            continue
        best = None
        for i, c in enumerate(candidates):
            if i in used or c["class_id"] != r["class_id"]:
                continue
            overlap = rm.iou(r["box"], c["box"])
            if overlap >= min_iou and abs(c["score"] - r["score"]) <= max_delta and (best is None or overlap > best[1]):
                best = (i, overlap)
        if best is None:
            near = [(rm.iou(r["box"], c["box"]), c["score"]) for c in candidates if c["class_id"] == r["class_id"]]
            missing.append((r, max(near, default=None)))
        else:
            used.add(best[0])
            pairs.append((r, candidates[best[0]], best[1]))
    return pairs, missing


def faithful(args):
    det = manifest("nanodet")
    labels = rm.load("nanodet")[2]
    allowed = [args.all_classes or label in rm.DRIVING for label in labels]
    fp32 = session(os.path.join(rm.MODELS, det["file"]), 2)
    int8 = session(args.int8, 2)
    low = args.threshold - args.max_score_delta
    failures = 0
    ious, deltas, count = [], [], 0
    vehicle_crops = []
    for path in args.images:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            sys.exit(f"cannot read {path}")
        a = rm.detect(bgr, det, fp32, labels, low, allowed)
        b = rm.detect(bgr, det, int8, labels, low, allowed)
        name = os.path.basename(path)
        for direction, ref, cand in [("FP32->INT8", a, b), ("INT8->FP32", b, a)]:
            pairs, missing = match(ref, cand, args.min_iou, args.max_score_delta, args.threshold)
            for r, c, overlap in pairs:
                ious.append(overlap)
                deltas.append(abs(c["score"] - r["score"]))
                if args.verbose:
                    print(f"  {name} {direction} {r['class']} {r['score']:.3f} -> {c['score']:.3f} IoU {overlap:.3f}")
            if direction == "FP32->INT8":
                count += len(pairs) + len(missing)
            for r, near in missing:
                failures += 1
                print(f"NO MATCH {name} {direction}: {r['class']} {r['score']:.3f} {[round(v) for v in r['box']]}; nearest same-class (IoU, score): {near}")
        vehicle_crops += [(bgr, d) for d in a if d["score"] >= args.threshold and d["class"] in VEHICLES]
    result = {
        "images": len(args.images),
        "fp32_detections": count,
        "unmatched": failures,
        "min_iou": round(min(ious), 4) if ious else None,
        "max_score_delta": round(max(deltas), 4) if deltas else None,
        "mean_score_delta": round(float(np.mean(deltas)), 4) if deltas else None,
    }
    if args.classifier_int8:
        result["classifier"] = classifier_agreement(vehicle_crops, args.classifier_int8)
    print(json.dumps(result))
    return 1 if failures else 0


def subtype(probabilities, groups, min_score):
    """heptaview's vehicle subtype of one crop: the group with the most mass, if >= min_score."""
    mass = {name: float(probabilities[ids].sum()) for name, ids in groups.items()}
    best = max(mass, key=mass.get)
    return (best if mass[best] >= min_score else "unknown"), mass[best]


def classifier_agreement(crops, int8_path):
    cls = manifest("efficientnet_lite0")
    labels = rm.load("efficientnet_lite0")[2]
    first_names = [label.split(",")[0].strip() for label in labels]
    groups = {name: [first_names.index(n) for n in members] for name, members in cs.SUBTYPES.items()}
    spec = cls["input"]
    sessions = [session(os.path.join(rm.MODELS, cls["file"]), 2), session(int8_path, 2)]
    agree, deltas, subtype_agree, mass_deltas = 0, [], 0, []
    for bgr, d in crops:
        h, w = bgr.shape[:2]
        x1, y1, x2, y2 = d["box"]
        left, top = int(np.clip(np.floor(x1), 0, w)), int(np.clip(np.floor(y1), 0, h))
        right, bottom = int(np.clip(np.ceil(x2), 0, w)), int(np.clip(np.ceil(y2), 0, h))
        crop = cv2.resize(bgr[top:bottom, left:right], (spec["shape"][3], spec["shape"][2]), interpolation=cv2.INTER_LINEAR)
        feed = {spec["name"]: rm.normalise(crop, spec)[None]}
        a, b = [s.run(None, feed)[0][0] for s in sessions]
        a, b = [np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in (a, b)]
        top1 = int(np.argmax(a))
        agree += top1 == int(np.argmax(b))
        deltas.append(abs(float(a[top1] - b[top1])))
        (sa, ma), (sb, mb) = subtype(a, groups, cls["subtype_min_score"]), subtype(b, groups, cls["subtype_min_score"])
        subtype_agree += sa == sb
        mass_deltas.append(abs(ma - mb))
        print(f"  crop {d['class']} {[round(v) for v in d['box']]}: FP32 {labels[top1].split(',')[0]} {a[top1]:.3f} / subtype {sa} {ma:.3f}; "
              f"INT8 {labels[int(np.argmax(b))].split(',')[0]} {b[top1]:.3f} / subtype {sb} {mb:.3f}")
    return {
        "crops": len(crops), "top1_agree": agree,
        "max_top1_prob_delta": round(max(deltas), 4) if deltas else None,
        "subtype_agree": subtype_agree, "max_subtype_mass_delta": round(max(mass_deltas), 4) if mass_deltas else None,
    }


def bench(args):
    name = args.model
    spec = manifest(name)["input"]
    fp32_path = os.path.join(rm.MODELS, manifest(name)["file"])
    shape = [1 if s < 0 else s for s in spec["shape"]]
    # A real frame letterboxed, not noise: activations then span the ranges
    # the model was calibrated on.
    bgr = cv2.imread(PHOTOS[0], cv2.IMREAD_COLOR)
    if name == "nanodet":
        tensor = rm.letterbox(bgr, spec)[0]
    else:
        tensor = rm.normalise(cv2.resize(bgr, (shape[3], shape[2]), interpolation=cv2.INTER_LINEAR), spec)[None]
    feed = {spec["name"]: np.ascontiguousarray(tensor, np.float32)}
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, input {list(tensor.shape)}, "
          f"{args.warmup} warm-up + {args.runs} runs each, interleaved")
    rows = []
    for threads in args.threads:
        sessions = {"fp32": session(fp32_path, threads), "int8": session(args.int8, threads)}
        for s in sessions.values():
            for _ in range(args.warmup):
                s.run(None, feed)
        times = {"fp32": [], "int8": []}
        for _ in range(args.runs):
            for key in ("fp32", "int8"):
                start = time.perf_counter()
                sessions[key].run(None, feed)
                times[key].append((time.perf_counter() - start) * 1000)
        stats = {}
        for key, values in times.items():
            values.sort()
            stats[key] = (statistics.median(values), values[int(0.9 * (len(values) - 1))])
        row = {
            "threads": threads,
            "fp32_median_ms": round(stats["fp32"][0], 2), "fp32_p90_ms": round(stats["fp32"][1], 2),
            "int8_median_ms": round(stats["int8"][0], 2), "int8_p90_ms": round(stats["int8"][1], 2),
            "speedup_median": round(stats["fp32"][0] / stats["int8"][0], 2),
            "speedup_p90": round(stats["fp32"][1] / stats["int8"][1], 2),
        }
        rows.append(row)
        print(json.dumps(row))
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("faithful", help="detections FP32 vs INT8 on held-out real photos")
    f.add_argument("--int8", required=True, help="the INT8 detector (.onnx)")
    f.add_argument("--classifier-int8", help="also compare this INT8 classifier on the vehicle crops")
    f.add_argument("--threshold", type=float, default=0.35)
    f.add_argument("--min-iou", type=float, default=0.9)
    f.add_argument("--max-score-delta", type=float, default=0.05)
    f.add_argument("--all-classes", action="store_true", help="all 80 COCO classes, not only the driving ones")
    f.add_argument("--verbose", action="store_true", help="print every matched pair")
    f.add_argument("images", nargs="*", default=PHOTOS, help="default: the four fixture photos")
    b = sub.add_parser("bench", help="FP32 vs INT8 latency, interleaved")
    b.add_argument("--int8", required=True)
    b.add_argument("--model", choices=["nanodet", "efficientnet_lite0"], default="nanodet", help="the FP32 source")
    b.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    b.add_argument("--runs", type=int, default=60)
    b.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    sys.exit(faithful(args) if args.command == "faithful" else bench(args))


if __name__ == "__main__":
    main()
