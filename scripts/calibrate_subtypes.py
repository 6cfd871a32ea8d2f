#!/usr/bin/env python3
"""How far the classifier's vehicle subtype can be trusted, by its score.

heptaview gives a vehicle detection a subtype (car, van, pickup, bus, truck,
emergency_vehicle, two_wheeler) from the ImageNet classifier run on its crop:
the subtype whose ImageNet classes hold the most probability mass, that mass
being its score. On real street photos the mass is often tiny (a car crop
whose top class is "espresso maker" still has some "car" mass), so a subtype
is only given above a threshold (`subtype_min_score` in
models/efficientnet_lite0.toml). This script measures where that threshold
belongs, on real photographs with hand-checked vehicle types:

  1. the detector (NanoDet-m, threshold 0.35, vehicle classes) runs on each
     photo, as in the pipeline (scripts/reference_models.py, ONNX Runtime);
  2. a detection overlapping a labelled vehicle (IoU >= 0.5) is a positive
     with that vehicle's true subtype; one overlapping no labelled object in
     a photo whose vehicles are all labelled is a negative (a false
     detection: it should get no subtype);
  3. each crop is classified and scored as the pipeline does;
  4. for each threshold: the labelled vehicles that keep a subtype, how many
     of those are right, and the negatives that keep one. A vehicle seen in
     several crops (several frames, or a car and a truck box on it) counts
     once, by the mean over its crops.

Sources. Always: the committed fixture photos (tests/fixtures/images), with
the labels below. With --extra DIR, also data unpacked from registry
packages whose licences do not allow (or do not clearly allow) committing it:

  DIR/vtest.avi        Debian opencv-doc 4.6.0 examples/data/vtest.avi
                       (apt-get download opencv-doc; dpkg -x): a van and a car, parked
  DIR/labelme/         PyPI labelme==6.3.1 sdist, examples/ (pip download --no-deps
                       --no-binary :all: labelme==6.3.1): a VOC 2011 street photo with
                       two buses; street video frames with trucks and a car
  DIR/sahi/            PyPI sahi==0.12.8 sdist, demo/demo_data/terrain2.{png,_coco.json}:
                       five off-road cars (Jeeps)
  DIR/MOT17-mini/      PyPI boxmot==16.0.11 sdist, assets/MOT17-mini (MOTChallenge,
                       CC BY-NC-SA 3.0): a car, motorbikes and bicycles (vehicles not
                       labelled exhaustively: positives only)

Usage: calibrate_subtypes.py [--extra DIR] [--json]
"""

import argparse
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models as rm  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
VEHICLES = ["car", "truck", "bus", "motorcycle", "bicycle"]
# ImageNet classes (first name on the label line) of each subtype, as
# models/src/taxonomy.rs maps them.
SUBTYPES = {
    "car": ["beach wagon", "cab", "convertible", "jeep", "limousine", "Model T", "racer", "sports car", "car wheel", "grille"],
    "van": ["minivan", "moving van", "recreational vehicle"],
    "pickup": ["pickup"],
    "bus": ["school bus", "trolleybus", "minibus", "streetcar"],
    "truck": ["trailer truck", "garbage truck", "tow truck"],
    "emergency_vehicle": ["ambulance", "police van", "fire engine"],
    "two_wheeler": ["moped", "motor scooter", "mountain bike", "bicycle-built-for-two", "tricycle", "unicycle"],
}
THRESHOLDS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7]

# Hand-checked vehicles of the committed fixture photos: (box x1 y1 x2 y2, subtype).
FIXTURES = {
    "bus.jpg": [([30, 217, 805, 736], "bus")],
    "darknet_dog.jpg": [([468, 82, 697, 169], "pickup"), ([114, 118, 572, 449], "two_wheeler")],
    "ocv_scenetext01.jpg": [([398, 422, 697, 581], "car")],
}


def iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def samples(extra):
    """(name, BGR image, [(object id, box, subtype)], all vehicles labelled?)"""
    fixtures = os.path.join(ROOT, "tests", "fixtures", "images")
    for name, vehicles in FIXTURES.items():
        labelled = [(f"{name}#{i}", box, subtype) for i, (box, subtype) in enumerate(vehicles)]
        yield name, cv2.imread(os.path.join(fixtures, name)), labelled, True
    if not extra:
        return
    video = os.path.join(extra, "vtest.avi")
    if os.path.exists(video):
        capture, index = cv2.VideoCapture(video), 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % 100 == 0:
                parked = [("vtest#van", [650, 45, 722, 100], "van"), ("vtest#car", [735, 50, 768, 95], "car")]
                yield f"vtest.avi@{index}", frame, parked, True
            index += 1
    voc = os.path.join(extra, "labelme", "bbox_detection", "data_dataset_voc")
    for xml in sorted(glob.glob(os.path.join(voc, "Annotations", "*.xml"))):
        root = ET.parse(xml).getroot()
        name = root.findtext("filename")
        objects = []
        for i, obj in enumerate(root.iter("object")):
            kind = obj.findtext("name")
            box = [float(obj.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
            objects.append((f"{name}#{i}", box, {"bus": "bus", "car": "car"}.get(kind)))
        if any(subtype for _, _, subtype in objects):
            yield name, cv2.imread(os.path.join(voc, "JPEGImages", name)), objects, True
    frames = os.path.join(extra, "labelme", "video_annotation", "data_annotated")
    for path in sorted(glob.glob(os.path.join(frames, "*.json"))):
        shapes = json.load(open(path))["shapes"]
        objects = []
        for i, shape in enumerate(shapes):
            points = np.array(shape["points"])
            box = [*points.min(axis=0), *points.max(axis=0)]
            # "track" is labelme's spelling of truck in this example.
            subtype = {"track": "truck", "car": "car"}.get(shape["label"])
            objects.append((f"labelme-video#{i}", [float(v) for v in box], subtype))
        yield os.path.basename(path), cv2.imread(path[:-5] + ".jpg"), objects, True
    coco = os.path.join(extra, "sahi", "terrain2_coco.json")
    if os.path.exists(coco):
        annotations = json.load(open(coco))["annotations"]
        objects = [(f"terrain2#{i}", [x, y, x + w, y + h], "car") for i, (x, y, w, h) in enumerate(a["bbox"] for a in annotations)]
        yield "terrain2.png", cv2.imread(os.path.join(extra, "sahi", "terrain2.png")), objects, True
    for sequence in sorted(glob.glob(os.path.join(extra, "MOT17-mini", "train", "*"))):
        rows = [line.strip().split(",") for line in open(os.path.join(sequence, "gt", "gt.txt"))]
        for image in sorted(glob.glob(os.path.join(sequence, "img1", "*.jpg"))):
            frame = int(os.path.basename(image)[:-4])
            objects = []
            for row in rows:
                if int(row[0]) != frame:
                    continue
                subtype = {3: "car", 4: "two_wheeler", 5: "two_wheeler"}.get(int(row[7]))
                x, y, w, h = map(float, row[2:6])
                ident = f"{os.path.basename(sequence)}#{row[1]}"
                objects.append((ident, [x, y, x + w, y + h], subtype))
            yield f"{os.path.basename(sequence)}/{frame}", cv2.imread(image), objects, False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extra", help="folder with the registry data described above")
    parser.add_argument("--json", action="store_true", help="print every crop as JSON instead")
    args = parser.parse_args()

    det_manifest, det_session, det_labels = rm.load("nanodet")
    cls_manifest, cls_session, cls_labels = rm.load("efficientnet_lite0")
    allowed = [label in VEHICLES for label in det_labels]
    first_names = [label.split(",")[0].strip() for label in cls_labels]
    classes = {s: [first_names.index(n) for n in names] for s, names in SUBTYPES.items()}
    spec = cls_manifest["input"]

    crops = []
    for name, bgr, objects, exhaustive in samples(args.extra):
        detections = rm.detect(bgr, det_manifest, det_session, det_labels, 0.35, allowed)
        if not detections:
            continue
        batch = []
        h, w = bgr.shape[:2]
        for d in detections:
            x1, y1, x2, y2 = d["box"]
            left, top = int(np.clip(np.floor(x1), 0, w)), int(np.clip(np.floor(y1), 0, h))
            right, bottom = int(np.clip(np.ceil(x2), 0, w)), int(np.clip(np.ceil(y2), 0, h))
            batch.append(rm.normalise(cv2.resize(bgr[top:bottom, left:right], (224, 224), interpolation=cv2.INTER_LINEAR), spec))
        logits = cls_session.run([cls_manifest["output"][0]["name"]], {spec["name"]: np.stack(batch)})[0]
        for d, row in zip(detections, logits):
            p = np.exp(row - row.max())
            p /= p.sum()
            mass = {s: float(p[ids].sum()) for s, ids in classes.items()}
            subtype = max(mass, key=mass.get)
            overlaps = [(iou(d["box"], box), ident, truth) for ident, box, truth in objects]
            best = max(overlaps, default=(0.0, None, None))
            if best[0] >= 0.5 and best[2]:
                kind, ident, truth = "vehicle", best[1], best[2]
            elif exhaustive and best[0] < 0.1:
                kind, ident, truth = "false", f"{name}:{d['class']}@{[round(v) for v in d['box']]}", None
            else:
                continue
            crops.append({"image": name, "object": ident, "kind": kind, "truth": truth, "detected": d["class"],
                          "box": d["box"], "subtype": subtype, "score": mass[subtype]})

    if args.json:
        for crop in crops:
            print(json.dumps(crop))
        return
    vehicles = sorted({c["object"] for c in crops if c["kind"] == "vehicle"})
    falses = sorted({c["object"] for c in crops if c["kind"] == "false"})
    print(f"{len(crops)} crops: {len(vehicles)} labelled vehicles, {len(falses)} false detections")
    print(f"{'threshold':>9}  {'vehicles with a subtype':>23}  {'right':>6}  {'wrong':>6}  {'precision':>9}  {'false detections with one':>25}")
    for threshold in THRESHOLDS:
        kept = right = 0.0
        for ident in vehicles:
            own = [c for c in crops if c["object"] == ident]
            keep = [c for c in own if c["score"] >= threshold]
            kept += len(keep) / len(own)
            right += sum(c["subtype"] == c["truth"] for c in keep) / len(own)
        false_kept = sum(
            sum(c["score"] >= threshold for c in crops if c["object"] == ident)
            / sum(1 for c in crops if c["object"] == ident)
            for ident in falses
        )
        precision = right / kept if kept else float("nan")
        print(f"{threshold:>9.2f}  {kept:>23.1f}  {right:>6.1f}  {kept - right:>6.1f}  {precision:>9.2f}  {false_kept:>25.1f}")
    print("by vehicle (mean score of its crops, subtypes given):")
    for ident in vehicles:
        own = [c for c in crops if c["object"] == ident]
        given = ", ".join(f"{c['subtype']} {c['score']:.2f}" for c in own)
        print(f"  {ident} ({own[0]['truth']}): {given}")
    print("false detections:")
    for ident in falses:
        own = [c for c in crops if c["object"] == ident]
        print(f"  {ident}: " + ", ".join(f"{c['subtype']} {c['score']:.2f}" for c in own))


if __name__ == "__main__":
    main()
