#!/usr/bin/env python3
"""Cut real-photo object sprites (BGRA PNG, transparent background) for the
scenario generator, from the shared fixture photos and video.

For each sprite listed in SPRITES below the script runs NanoDet-m (ONNX
Runtime, stretched 416x416 input, as in shared/models/README.md) on the
source image or video frame, picks the detection of the expected COCO class
that best overlaps the hand-chosen approximate box, cuts the object out with
OpenCV grabCut initialised by that box (GC_INIT_WITH_RECT, 5 iterations),
cleans the mask (morphological open/close, largest connected component),
crops tight to the mask and writes <name>.png plus sprites.toml and NOTICE.

--verify composites every sprite at native size onto a mid-grey and onto a
noisy road-like 640x480 background, runs NanoDet on them and prints the top
detection on the sprite.

Needs: onnxruntime, numpy, opencv-python-headless (tested with
onnxruntime 1.31.1, numpy 2.4, opencv-python-headless 5.0).
"""

import argparse
import os
import sys

import cv2
import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))

# Origin and licence of each fixture, copied verbatim from shared/fixtures/README.md.
FIXTURES = {
    "images/bus.jpg": {
        "from": "PyPI `ultralytics` 8.4.190, `ultralytics/assets/bus.jpg`",
        "licence": "shipped as a sample asset of an AGPL-3.0 package",
    },
    "images/darknet_dog.jpg": {
        "from": "Debian `darknet` 0.0.0+git20180914, `/usr/share/darknet/data/dog.jpg`",
        "licence": "Darknet's public-domain licence",
    },
    "images/ocv_scenetext01.jpg": {
        "from": "Debian `opencv-doc` 4.6.0, `examples/text/scenetext01.jpg`",
        "licence": "OpenCV sample data",
    },
    "videos/vtest.avi": {
        "from": "Debian `opencv-doc` 4.6.0, `examples/data/vtest.avi`",
        "licence": "OpenCV sample data",
    },
}

# near: approximate box [x0, y0, x1, y1] in source pixels used only to pick
# the right detection (highest IoU among detections of coco_label).
# exclude: COCO classes whose own grabCut cutouts are removed from this
# sprite's mask (objects standing in front of it).
SPRITES = [
    dict(name="pedestrian_vtest_1", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=400, near=[687, 300, 745, 409],
         facing="side_right"),
    dict(name="pedestrian_vtest_2", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=625, near=[358, 410, 416, 561],
         facing="rear"),
    dict(name="pedestrian_vtest_3", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=545, near=[630, 294, 674, 401],
         facing="front"),
    dict(name="pedestrian_vtest_4", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=660, near=[683, 295, 723, 412],
         facing="unknown"),
    dict(name="van_vtest", kind="van", coco_label="truck",
         source="videos/vtest.avi", frame=100, near=[652, 44, 725, 99],
         facing="front"),
    dict(name="car_vtest", kind="car", coco_label="car",
         source="videos/vtest.avi", frame=100, near=[733, 52, 769, 95],
         facing="front"),
    dict(name="bicycle_darknet", kind="bicycle", coco_label="bicycle",
         source="images/darknet_dog.jpg", near=[122, 129, 570, 424],
         facing="side_left", exclude=["dog"]),
    dict(name="pickup_darknet", kind="pickup", coco_label="truck",
         source="images/darknet_dog.jpg", near=[465, 86, 693, 166],
         facing="side_right"),
    dict(name="car_scenetext", kind="car", coco_label="car",
         source="images/ocv_scenetext01.jpg", near=[393, 422, 693, 579],
         facing="side_left"),
    dict(name="bus_ultralytics", kind="bus", coco_label="bus",
         source="images/bus.jpg", near=[20, 214, 790, 751],
         facing="side_left", exclude=["person"]),
]

MAX_SIDE = 250          # longest side of a written sprite, px
MARGIN = 4              # grabCut rect = detection box + MARGIN px
CONTEXT = 0.25          # background context around the rect given to grabCut
GC_ITERS = 5
DET_THRESHOLD = 0.3
KEEP_SCORE = 0.4        # --verify: minimum score on the grey background


class NanoDet:
    """NanoDet-m as described in shared/models/README.md."""

    MEAN = np.array([103.53, 116.28, 123.675], np.float32)
    STD = np.array([57.375, 57.12, 58.395], np.float32)
    SIZE = 416

    def __init__(self, models_dir):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        self.sess = ort.InferenceSession(os.path.join(models_dir, "nanodet.onnx"), so,
                                         providers=["CPUExecutionProvider"])
        with open(os.path.join(models_dir, "coco80.txt")) as f:
            self.labels = [line.strip() for line in f if line.strip()]
        # Match the outputs by shape, not by position.
        self.heads = {}
        for o in self.sess.get_outputs():
            cells, width = o.shape[1], o.shape[2]
            n = int(round(np.sqrt(cells)))
            stride = self.SIZE // n
            self.heads.setdefault(stride, {})["cls" if width == 80 else "box"] = o.name

    def detect(self, bgr, threshold=DET_THRESHOLD, nms_iou=0.5):
        """Returns [(label, score, [x0, y0, x1, y1] in source pixels)], best first."""
        h, w = bgr.shape[:2]
        x = cv2.resize(bgr, (self.SIZE, self.SIZE), interpolation=cv2.INTER_LINEAR)
        x = ((x.astype(np.float32) - self.MEAN) / self.STD).transpose(2, 0, 1)[None]
        outs = dict(zip([o.name for o in self.sess.get_outputs()],
                        self.sess.run(None, {"input_1:0": np.ascontiguousarray(x)})))
        boxes, scores, classes = [], [], []
        for stride in sorted(self.heads):
            n = self.SIZE // stride
            cls = outs[self.heads[stride]["cls"]][0]
            dist = outs[self.heads[stride]["box"]][0].reshape(-1, 4, 11)
            best = cls.max(1)
            for i in np.nonzero(best >= threshold)[0]:
                p = np.exp(dist[i] - dist[i].max(1, keepdims=True))
                p /= p.sum(1, keepdims=True)
                l, t, r, b = (p * np.arange(11)).sum(1) * stride
                row, col = divmod(int(i), n)
                cx, cy = (col + 0.5) * stride, (row + 0.5) * stride
                boxes.append([cx - l, cy - t, cx + r, cy + b])
                scores.append(float(best[i]))
                classes.append(int(cls[i].argmax()))
        sx, sy = w / self.SIZE, h / self.SIZE
        result = []
        for c in sorted(set(classes)):
            idx = [j for j in range(len(classes)) if classes[j] == c]
            xywh = [[boxes[j][0], boxes[j][1], boxes[j][2] - boxes[j][0],
                     boxes[j][3] - boxes[j][1]] for j in idx]
            keep = cv2.dnn.NMSBoxes(xywh, [scores[j] for j in idx], threshold, nms_iou)
            for k in np.array(keep, dtype=int).flatten():
                j = idx[k]
                b = boxes[j]
                result.append((self.labels[c], scores[j],
                               [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy]))
        result.sort(key=lambda r: -r[1])
        return result


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def load_sources(fixtures, specs):
    """Reads every source image and the needed video frames (sequentially, so
    frame numbers are exact)."""
    images = {}
    frames_needed = {}
    for s in specs:
        if "frame" in s:
            frames_needed.setdefault(s["source"], set()).add(s["frame"])
        elif s["source"] not in images:
            img = cv2.imread(os.path.join(fixtures, s["source"]), cv2.IMREAD_COLOR)
            if img is None:
                sys.exit(f"cannot read {s['source']} under {fixtures}")
            images[s["source"]] = img
    for src, frames in frames_needed.items():
        cap = cv2.VideoCapture(os.path.join(fixtures, src))
        if not cap.isOpened():
            sys.exit(f"cannot open {src} under {fixtures}")
        i = 0
        while len(frames) > sum(1 for f in frames if (src, f) in images):
            ok, frame = cap.read()
            if not ok:
                sys.exit(f"{src}: frames {sorted(frames)} not all present (read {i})")
            if i in frames:
                images[(src, i)] = frame
            i += 1
        cap.release()
    return images


def grabcut_mask(img, box):
    """Foreground mask (uint8 0/1, full image size) of the object in box."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    # Work region: the box plus some background context, clipped to the image.
    cx0 = int(max(0, np.floor(x0 - CONTEXT * bw - 10)))
    cy0 = int(max(0, np.floor(y0 - CONTEXT * bh - 10)))
    cx1 = int(min(w, np.ceil(x1 + CONTEXT * bw + 10)))
    cy1 = int(min(h, np.ceil(y1 + CONTEXT * bh + 10)))
    work = img[cy0:cy1, cx0:cx1]
    rx0 = int(max(cx0, np.floor(x0 - MARGIN))) - cx0
    ry0 = int(max(cy0, np.floor(y0 - MARGIN))) - cy0
    rx1 = int(min(cx1, np.ceil(x1 + MARGIN))) - cx0
    ry1 = int(min(cy1, np.ceil(y1 + MARGIN))) - cy0
    mask = np.zeros(work.shape[:2], np.uint8)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.grabCut(work, mask, (rx0, ry0, rx1 - rx0, ry1 - ry0), bgd, fgd, GC_ITERS,
                cv2.GC_INIT_WITH_RECT)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    full = np.zeros((h, w), np.uint8)
    full[cy0:cy1, cx0:cx1] = fg
    return full


def clean_mask(fg, box):
    """Open/close with a small ellipse, keep the largest connected component."""
    side = max(box[2] - box[0], box[3] - box[1])
    k = 3 if side < 300 else 5
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        return fg
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == biggest).astype(np.uint8)


def to_sprite(img, fg):
    """Tight BGRA crop of img where fg, downscaled to MAX_SIDE (premultiplied
    INTER_AREA, alpha re-binarised so that it stays 0 or 255)."""
    ys, xs = np.nonzero(fg)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    bgr = img[y0:y1, x0:x1].astype(np.float32)
    a = fg[y0:y1, x0:x1].astype(np.float32)
    h, w = a.shape
    scale = min(1.0, MAX_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
        pre = cv2.resize(bgr * a[..., None], size, interpolation=cv2.INTER_AREA)
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        bgr = pre / np.maximum(a, 1e-6)[..., None]
    alpha = (a >= 0.5).astype(np.uint8) * 255
    bgr = np.clip(np.round(bgr), 0, 255).astype(np.uint8)
    bgr[alpha == 0] = 0
    return np.dstack([bgr, alpha]), [x0, y0, x1, y1], scale


def make(args, det):
    images = load_sources(args.fixtures, SPRITES)
    records = []
    for s in SPRITES:
        key = (s["source"], s["frame"]) if "frame" in s else s["source"]
        img = images[key]
        dets = det.detect(img)
        cands = [(iou(b, s["near"]), sc, b) for lab, sc, b in dets if lab == s["coco_label"]]
        cands = [c for c in cands if c[0] >= 0.5]
        if not cands:
            sys.exit(f"{s['name']}: no '{s['coco_label']}' detection near {s['near']}")
        _, score, box = max(cands, key=lambda c: c[0])
        h, w = img.shape[:2]
        box = [max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])]
        cv2.setRNGSeed(0)
        fg = grabcut_mask(img, box)
        # Remove objects standing in front of this one (their own cutouts).
        for lab, sc, ob in dets:
            if lab in s.get("exclude", []) and iou(ob, box) > 0:
                ob = [max(0.0, ob[0]), max(0.0, ob[1]), min(float(w), ob[2]), min(float(h), ob[3])]
                cv2.setRNGSeed(0)
                occ = clean_mask(grabcut_mask(img, ob), ob)
                fg[occ > 0] = 0
        fg = clean_mask(fg, box)
        sprite, cut_box, scale = to_sprite(img, fg)
        out_path = os.path.join(args.out, s["name"] + ".png")
        cv2.imwrite(out_path, sprite)
        src = s["source"].split("/")[-1]
        rec = dict(
            file=s["name"] + ".png", kind=s["kind"], coco_label=s["coco_label"],
            source=src if "frame" not in s else f"{src} frame {s['frame']}",
            source_file=s["source"], frame=s.get("frame"),
            source_box_px=[int(round(v)) for v in box], cutout_box_px=cut_box,
            width_px=sprite.shape[1], height_px=sprite.shape[0], scale=scale,
            detector_score_in_source=round(score, 3),
            licence=FIXTURES[s["source"]]["licence"], facing=s["facing"])
        records.append(rec)
        print(f"{rec['file']:24s} {rec['width_px']:4d}x{rec['height_px']:<4d} "
              f"{s['coco_label']} {score:.3f} box {rec['source_box_px']}")
    write_toml(args.out, records)
    write_notice(args.out, records)


def toml_str(v):
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_toml(out, records):
    lines = [
        "# Real-photo sprites (BGRA PNG, alpha 255 on the object, 0 elsewhere) for the",
        "# scenario generator. Generated by make_sprites.py; do not edit by hand.",
        "# source_box_px: NanoDet-m box [x0, y0, x1, y1] in the source image/frame;",
        "# cutout_box_px: tight box of the grabCut mask in the source, before any",
        "# downscale (scale = sprite px / source px).",
        "# facing: which side of the object the photo shows.",
        "",
    ]
    for r in records:
        lines += [
            "[[sprite]]",
            f"file = {toml_str(r['file'])}",
            f"kind = {toml_str(r['kind'])}",
            f"coco_label = {toml_str(r['coco_label'])}",
            f"source = {toml_str(r['source_file'])}",
        ]
        if r["frame"] is not None:
            lines.append(f"frame = {r['frame']}")
        lines += [
            f"source_box_px = [{', '.join(str(v) for v in r['source_box_px'])}]",
            f"cutout_box_px = [{', '.join(str(v) for v in r['cutout_box_px'])}]",
            f"scale = {r['scale']:.4f}",
            f"width_px = {r['width_px']}",
            f"height_px = {r['height_px']}",
            f"detector_score_in_source = {r['detector_score_in_source']}",
            f"licence = {toml_str(r['licence'])}",
            f"facing = {toml_str(r['facing'])}",
            "",
        ]
    with open(os.path.join(out, "sprites.toml"), "w") as f:
        f.write("\n".join(lines))


def write_notice(out, records):
    lines = [
        "Sprites in this folder: origin and licence",
        "==========================================",
        "",
        "Each PNG is a cutout of one object from a real photograph or video frame",
        "listed below. The cutouts were made by make_sprites.py in this folder:",
        "NanoDet-m finds the object, OpenCV grabCut (initialised with the detection",
        "box) separates it from its background, the mask is cleaned and the",
        "image cropped to it (and downscaled where longer than 250 px).",
        "Origin and licence are quoted from the fixtures' README (\"licence as far",
        "as known\").",
        "",
    ]
    for r in records:
        fx = FIXTURES[r["source_file"]]
        lines += [
            f"{r['file']}",
            f"  from:    {r['source_file']}" + (f", frame {r['frame']}" if r["frame"] is not None else ""),
            f"           {fx['from']}",
            f"  licence: {fx['licence']}",
            "",
        ]
    with open(os.path.join(out, "NOTICE"), "w") as f:
        f.write("\n".join(lines))


def backgrounds():
    grey = np.full((480, 640, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    # Road-like: dark asphalt grey, fine grain noise, soft large blotches, a lane line.
    blotch = cv2.GaussianBlur(rng.standard_normal((480, 640)).astype(np.float32), (0, 0), 25)
    base = 95 + 10 * blotch / blotch.std()
    grain = rng.normal(0, 14, (480, 640)).astype(np.float32)
    road = np.clip(base + grain, 0, 255)
    road = np.repeat(road[..., None], 3, axis=2)
    road[..., 0] += 3  # a slight blue-grey cast
    road = np.clip(road, 0, 255).astype(np.uint8)
    cv2.line(road, (0, 400), (640, 380), (200, 200, 200), 6)
    return {"grey": grey, "road": road}


def composite(bg, sprite):
    """Alpha-blends sprite (native size, shrunk only if it does not fit) centred
    horizontally with its bottom at 85% of the height. Returns image and box."""
    bh, bw = bg.shape[:2]
    s = sprite
    fit = min(1.0, (bw - 20) / s.shape[1], (bh * 0.85 - 10) / s.shape[0])
    if fit < 1.0:
        s = cv2.resize(s, (int(s.shape[1] * fit), int(s.shape[0] * fit)),
                       interpolation=cv2.INTER_AREA)
    h, w = s.shape[:2]
    x0 = (bw - w) // 2
    y1 = int(bh * 0.85)
    y0 = y1 - h
    out = bg.copy()
    a = s[..., 3:4].astype(np.float32) / 255.0
    roi = out[y0:y1, x0:x0 + w].astype(np.float32)
    out[y0:y1, x0:x0 + w] = np.round(a * s[..., :3] + (1 - a) * roi).astype(np.uint8)
    return out, [x0, y0, x0 + w, y1]


def verify(args, det):
    bgs = backgrounds()
    names = [s["name"] for s in SPRITES]
    expected = {s["name"]: s["coco_label"] for s in SPRITES}
    print()
    print(f"{'sprite':24s} {'size':>9s} {'expect':8s} | {'grey: top on sprite':26s} | {'road: top on sprite':26s} | keep")
    ok_all = True
    for name in names:
        path = os.path.join(args.out, name + ".png")
        sprite = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if sprite is None or sprite.ndim != 3 or sprite.shape[2] != 4:
            print(f"{name}: missing or not BGRA")
            ok_all = False
            continue
        cells = []
        exp_score = {}
        for bg_name, bg in bgs.items():
            img, box = composite(bg, sprite)
            if args.debug_dir:
                os.makedirs(args.debug_dir, exist_ok=True)
                cv2.imwrite(os.path.join(args.debug_dir, f"{name}_{bg_name}.png"), img)
            on = [(lab, sc) for lab, sc, b in det.detect(img, threshold=0.2) if iou(b, box) >= 0.3]
            top = on[0] if on else ("-", 0.0)
            exp_score[bg_name] = max([sc for lab, sc in on if lab == expected[name]], default=0.0)
            cell = f"{top[0]} {top[1]:.2f}"
            if top[0] != expected[name]:
                cell += f" ({expected[name]} {exp_score[bg_name]:.2f})"
            cells.append(cell)
        keep = exp_score["grey"] >= KEEP_SCORE
        ok_all &= keep
        size = f"{sprite.shape[1]}x{sprite.shape[0]}"
        print(f"{name:24s} {size:>9s} {expected[name]:8s} | {cells[0]:26s} | {cells[1]:26s} | "
              f"{'yes' if keep else 'NO'}")
    return ok_all


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", default=os.path.normpath(os.path.join(HERE, "../../../shared/fixtures")))
    ap.add_argument("--models", default=os.path.normpath(os.path.join(HERE, "../../../shared/models")))
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--verify", action="store_true",
                    help="after making the sprites, composite and re-detect them")
    ap.add_argument("--verify-only", action="store_true",
                    help="only verify the sprites already in --out")
    ap.add_argument("--debug-dir", default=None,
                    help="with --verify: write the composited test images here")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    det = NanoDet(args.models)
    if not args.verify_only:
        make(args, det)
    if args.verify or args.verify_only:
        if not verify(args, det):
            sys.exit("some sprites score below %.2f on the grey background" % KEEP_SCORE)


if __name__ == "__main__":
    main()
