#!/usr/bin/env python3
"""Cut real-photo object sprites (BGRA PNG, transparent background) for the
scenario generator, from the shared fixture photos and video.

For each sprite listed in SPRITES below the script runs NanoDet-m (ONNX
Runtime, stretched 416x416 input, as in models/README.md) on the
source image or video frame, picks the detection of the expected COCO class
that best overlaps the hand-chosen approximate box, cuts the object out with
OpenCV grabCut initialised by that box (GC_INIT_WITH_RECT, 5 iterations;
where that is not enough, a refinement pass with hand-placed seed shapes,
GC_INIT_WITH_MASK), removes objects standing in front of it, cleans the mask
(3x3 morphological open/close, largest connected component), crops tight to
the mask (downscaling to at most 250 px, INTER_AREA, alpha kept binary) and
writes <name>.png (BGRA) plus sprites.toml and NOTICE.

--verify composites every sprite at native size onto a mid-grey and onto a
noisy road-like 640x480 background, runs NanoDet on them and prints the top
detection on the sprite; it exits non-zero if a sprite scores below 0.4 for
its label(s) on the grey background. --verify-only checks existing PNGs.

Run (from anywhere):
    python3 -m venv /tmp/assetvenv
    /tmp/assetvenv/bin/pip install onnxruntime==1.31.1 numpy==2.4.6 opencv-python-headless==5.0.0.93
    /tmp/assetvenv/bin/python datasets/assets/make_sprites.py --verify

Needs: onnxruntime, numpy, opencv-python-headless (tested with
onnxruntime 1.31.1, numpy 2.4.6, opencv-python-headless 5.0.0.93; grabCut
output may differ slightly with another OpenCV build).
"""

import argparse
import os
import sys

import cv2
import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))

# Origin and licence of each fixture, copied verbatim from tests/fixtures/NOTICE.
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

# Per sprite:
#   near: approximate box [x0, y0, x1, y1] in source pixels, used only to pick
#     the right detection (highest IoU among detections of coco_label);
#   context: background margin around the box given to grabCut, as a
#     fraction of the box size (grabCut learns the background from it);
#   upscale: run grabCut on the work region enlarged this many times (helps
#     small, blurry video objects keep thin dark parts such as feet and wheels);
#   fill_holes: fill holes inside the mask (vehicle windows that grabCut
#     mistook for background);
#   exclude: COCO classes standing in front of the object; their own grabCut
#     cutouts are removed from this sprite's mask (leaving transparent holes);
#   hints: hand-placed seeds (source pixels) for one refinement pass when the
#     box alone is not enough: "bg" shapes become GC_BGD, "protect" shapes are
#     taken back out of "bg", "fg" shapes become GC_FGD; then grabCut runs
#     refine_iters more iterations with GC_INIT_WITH_MASK;
#   keep_frac: keep every connected component at least this fraction of the
#     largest one (default: the largest only);
#   coco_label_alt: other COCO classes NanoDet may reasonably give the sprite
#     (accepted by --verify);
#   note: limitations of the cutout, copied into sprites.toml;
#   facing: which side of the object the photo shows. side_left / side_right
#     mean the object's own left / right side, i.e. its front points to image
#     left / right.
BICYCLE_HINTS = {
    "bg": [
        ("ellipse", 473, 329.5, 150, 156, 79.7),      # rear wheel, inside the rim
        ("ellipse", 214, 328, 150, 156, 79.7),        # front wheel, inside the rim
        ("poly", [[268, 230], [394, 230], [366, 305], [332, 305]]),  # main triangle
        ("poly", [[407, 232], [418, 244], [424, 250], [412, 260], [402, 273],
                  [394, 290], [389, 310], [386, 330], [376, 330], [384, 300],
                  [392, 270], [399, 248]]),          # between seat tube and rear tyre
    ],
    "protect": [
        ("line", 408, 212, 472, 328, 9),    # seat stay
        ("line", 366, 346, 474, 332, 11),   # chain stay
        ("line", 365, 322, 470, 320, 5),    # chain, upper run
        ("line", 370, 372, 470, 368, 5),    # chain, lower run
        ("line", 406, 206, 362, 344, 11),   # seat tube
        ("line", 340, 330, 425, 385, 14),   # crank and pedal
        ("line", 306, 304, 354, 336, 11),   # down tube
        ("rect", 455, 320, 487, 388),       # rear derailleur
    ],
    "fg": [
        ("ellipse_arc", 473, 329.5, 170, 176, 79.7, 3, None),   # rear tyre
        ("ellipse_arc", 214, 328, 170, 176, 79.7, 3, 232),      # front tyre, left of x=232
        ("line", 392, 141, 455, 140, 3),                        # saddle
    ],
}

SPRITES = [
    dict(name="pedestrian_vtest_1", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=400, near=[687, 300, 745, 409],
         facing="side_right"),
    dict(name="pedestrian_vtest_2", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=625, near=[358, 410, 416, 561],
         facing="rear",
         hints={"bg": [("line", 390, 514, 394, 540, 2)]}),   # grass between the legs
    dict(name="pedestrian_vtest_3", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=545, near=[630, 294, 674, 401],
         facing="front", upscale=3),
    dict(name="pedestrian_vtest_4", kind="pedestrian", coco_label="person",
         source="videos/vtest.avi", frame=660, near=[683, 295, 723, 412],
         facing="side_left", upscale=3),
    dict(name="van_vtest", kind="van", coco_label="truck",
         source="videos/vtest.avi", frame=100, near=[652, 44, 725, 99],
         facing="rear", context=0.5, upscale=4, fill_holes=True,
         note="small (parked far away); rear doors and right side visible"),
    dict(name="pickup_darknet", kind="pickup", coco_label="truck", coco_label_alt=["car"],
         note="over-exposed white truck; rear bumper partly cut off",
         source="images/darknet_dog.jpg", near=[465, 86, 693, 166],
         facing="side_right", context=1.0, upscale=4, fill_holes=True,
         hints={"bg": [
             # sunlit leaves and pavement above the roof line, windshield, hood
             ("poly", [[492, 60], [720, 60], [720, 125], [694, 125], [664, 119],
                       [646, 114], [620, 92], [580, 85], [540, 77], [496, 71]]),
             # pavement in front of the bumper
             ("poly", [[689, 128], [720, 128], [720, 180], [689, 180]]),
             # road shadow behind and under the truck
             ("poly", [[455, 140], [506, 140], [510, 162], [545, 160], [640, 166],
                       [640, 185], [455, 185]]),
         ]}),
    dict(name="bicycle_darknet", kind="bicycle", coco_label="bicycle",
         source="images/darknet_dog.jpg", near=[122, 129, 570, 424],
         facing="side_left", context=1.0, exclude=["dog"], hints=BICYCLE_HINTS,
         keep_frac=0.03,
         note="front wheel and down tube are missing: hidden behind the dog in the photo"),
    dict(name="car_scenetext", kind="car", coco_label="car",
         source="images/ocv_scenetext01.jpg", near=[393, 422, 693, 579],
         facing="side_left", context=0.5, upscale=2, fill_holes=True,
         note="tail end slightly clipped where a pedestrian stands in front of it"),
    dict(name="bus_ultralytics", kind="bus", coco_label="bus",
         source="images/bus.jpg", near=[20, 214, 790, 751],
         facing="side_left", context=0.5, exclude=["person"], coco_label_alt=["truck"],
         note="pedestrians standing in front of the bus are cut out, leaving "
              "transparent person-shaped holes; lower front and rear are missing",
         hints={
             "fg": [
                 ("line", 110, 272, 700, 280, 10),   # white roof housing
                 ("line", 60, 305, 760, 318, 6),     # roof edge above the windows
                 ("line", 400, 560, 680, 560, 10),   # blue side panel
             ],
             "bg": [
                 ("rect", 424, 655, 462, 760),       # bollards
                 ("rect", 654, 622, 692, 716),
                 ("poly", [[330, 748], [470, 712], [810, 700], [810, 1080], [330, 1080]]),  # pavement
                 ("poly", [[0, 150], [810, 150], [810, 228], [0, 228]]),  # building above the roof
             ],
         }),
]

MAX_SIDE = 250          # longest side of a written sprite, px
MARGIN = 4              # grabCut rect = detection box + MARGIN px
CONTEXT = 0.25          # default background context around the rect given to grabCut
GC_ITERS = 5
REFINE_ITERS = 3        # extra GC_INIT_WITH_MASK iterations where hints are given
DET_THRESHOLD = 0.3
KEEP_SCORE = 0.4        # --verify: minimum score on the grey background


class NanoDet:
    """NanoDet-m as described in models/README.md."""

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


def draw_shapes(shape, shapes):
    """Rasterises hint shapes (source pixels) into a uint8 0/1 mask."""
    m = np.zeros(shape, np.uint8)
    for sh in shapes:
        kind = sh[0]
        if kind == "poly":
            cv2.fillPoly(m, [np.array(sh[1], np.int32)], 1)
        elif kind == "rect":
            cv2.rectangle(m, (sh[1], sh[2]), (sh[3], sh[4]), 1, -1)
        elif kind == "line":
            cv2.line(m, (sh[1], sh[2]), (sh[3], sh[4]), 1, sh[5])
        elif kind == "ellipse":
            cv2.ellipse(m, ((sh[1], sh[2]), (sh[3], sh[4]), sh[5]), 1, -1)
        elif kind == "ellipse_arc":   # outline; optionally only left of x = sh[7]
            arc = np.zeros(shape, np.uint8)
            cv2.ellipse(arc, ((sh[1], sh[2]), (sh[3], sh[4]), sh[5]), 1, sh[6])
            if sh[7] is not None:
                arc[:, sh[7]:] = 0
            m |= arc
        else:
            raise ValueError(f"unknown hint shape {kind}")
    return m


def grabcut_mask(img, box, context=CONTEXT, upscale=1, hints=None, avoid=None):
    """Foreground mask (uint8 0/1, full image size) of the object in box.

    grabCut is initialised with the box (+MARGIN) as rectangle, inside a work
    region that adds `context` of background around it. With hints, one
    refinement pass follows (see SPRITES). `avoid` (0/1 mask) is never fg
    seeded."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    # Work region: the box plus some background context, clipped to the image.
    cx0 = int(max(0, np.floor(x0 - context * bw - 10)))
    cy0 = int(max(0, np.floor(y0 - context * bh - 10)))
    cx1 = int(min(w, np.ceil(x1 + context * bw + 10)))
    cy1 = int(min(h, np.ceil(y1 + context * bh + 10)))
    work = img[cy0:cy1, cx0:cx1]
    rx0 = int(max(cx0, np.floor(x0 - MARGIN))) - cx0
    ry0 = int(max(cy0, np.floor(y0 - MARGIN))) - cy0
    rx1 = int(min(cx1, np.ceil(x1 + MARGIN))) - cx0
    ry1 = int(min(cy1, np.ceil(y1 + MARGIN))) - cy0
    if upscale > 1:
        work = cv2.resize(work, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    u = upscale
    mask = np.zeros(work.shape[:2], np.uint8)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(work, mask, (rx0 * u, ry0 * u, (rx1 - rx0) * u, (ry1 - ry0) * u), bgd, fgd,
                GC_ITERS, cv2.GC_INIT_WITH_RECT)
    if hints:
        def local(m):
            m = m[cy0:cy1, cx0:cx1]
            if u > 1:
                m = cv2.resize(m, (work.shape[1], work.shape[0]), interpolation=cv2.INTER_NEAREST)
            return m
        bg = draw_shapes((h, w), hints.get("bg", []))
        bg[draw_shapes((h, w), hints.get("protect", [])) > 0] = 0
        fg = draw_shapes((h, w), hints.get("fg", []))
        if avoid is not None:
            fg[avoid > 0] = 0
        mask[local(bg) > 0] = cv2.GC_BGD
        mask[local(fg) > 0] = cv2.GC_FGD
        cv2.grabCut(work, mask, None, bgd, fgd, hints.get("refine_iters", REFINE_ITERS),
                    cv2.GC_INIT_WITH_MASK)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    if u > 1:
        fg = (cv2.resize(fg.astype(np.float32), (cx1 - cx0, cy1 - cy0),
                         interpolation=cv2.INTER_AREA) >= 0.5).astype(np.uint8)
    full = np.zeros((h, w), np.uint8)
    full[cy0:cy1, cx0:cx1] = fg
    return full


def clean_mask(fg, keep_frac=None, fill_holes=False):
    """Open/close with a 3x3 ellipse, keep the largest connected component
    (or all components of at least keep_frac of the largest), optionally fill
    holes."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        if keep_frac is None:
            keep = [1 + int(np.argmax(areas))]
        else:
            keep = [1 + i for i in range(n - 1) if areas[i] >= keep_frac * areas.max()]
        fg = np.isin(labels, keep).astype(np.uint8)
    if fill_holes:
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        fg = np.zeros_like(fg)
        cv2.drawContours(fg, contours, -1, 1, -1)
    return fg


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
        # Objects standing in front of this one: their own cutouts.
        occluders = np.zeros((h, w), np.uint8)
        for lab, sc, ob in dets:
            if lab in s.get("exclude", []) and iou(ob, box) > 0:
                ob = [max(0.0, ob[0]), max(0.0, ob[1]), min(float(w), ob[2]), min(float(h), ob[3])]
                occluders |= clean_mask(grabcut_mask(img, ob))
        fg = grabcut_mask(img, box, s.get("context", CONTEXT), s.get("upscale", 1),
                          s.get("hints"), avoid=occluders)
        fg[occluders > 0] = 0
        fg = clean_mask(fg, s.get("keep_frac"), s.get("fill_holes", False))
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
            licence=FIXTURES[s["source"]]["licence"], facing=s["facing"],
            coco_label_alt=s.get("coco_label_alt", []), note=s.get("note"))
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
        "# facing: which side of the object the photo shows (front, rear, side_left,",
        "# side_right, unknown); side_left / side_right = the object's own left / right",
        "# side, i.e. its front points to image left / right.",
        "# coco_label: NanoDet-m's class for it in the source; coco_label_alt: other",
        "# classes NanoDet gives the sprite on its own (make_sprites.py --verify).",
        "",
    ]
    for r in records:
        lines += [
            "[[sprite]]",
            f"file = {toml_str(r['file'])}",
            f"kind = {toml_str(r['kind'])}",
            f"coco_label = {toml_str(r['coco_label'])}",
        ]
        if r["coco_label_alt"]:
            lines.append("coco_label_alt = [" + ", ".join(toml_str(v) for v in r["coco_label_alt"]) + "]")
        lines += [
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
        ]
        if r["note"]:
            lines.append(f"note = {toml_str(r['note'])}")
        lines.append("")
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
        "box; for some sprites refined with hand-placed seed shapes listed in the",
        "script) separates it from its background, the mask is cleaned and the",
        "image cropped to it (and downscaled where longer than 250 px). People and",
        "animals standing in front of an object were cut out of its sprite.",
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
    """Composites each sprite onto the grey and the road background and runs
    NanoDet (threshold 0.2). Reports the top detection whose box overlaps the
    sprite (IoU >= 0.3) and the best score of the sprite's accepted labels
    (coco_label + coco_label_alt). A sprite passes with >= KEEP_SCORE on grey."""
    bgs = backgrounds()
    print()
    print(f"{'sprite':20s} {'size':>8s} {'accepts':12s} | {'grey: top  (accepted)':26s} | "
          f"{'road: top  (accepted)':26s} | keep")
    ok_all = True
    for s in SPRITES:
        name = s["name"]
        accepted = [s["coco_label"]] + s.get("coco_label_alt", [])
        sprite = cv2.imread(os.path.join(args.out, name + ".png"), cv2.IMREAD_UNCHANGED)
        if sprite is None or sprite.ndim != 3 or sprite.shape[2] != 4:
            print(f"{name}: missing or not BGRA")
            ok_all = False
            continue
        cells, acc_score = [], {}
        for bg_name, bg in bgs.items():
            img, box = composite(bg, sprite)
            if args.debug_dir:
                os.makedirs(args.debug_dir, exist_ok=True)
                cv2.imwrite(os.path.join(args.debug_dir, f"{name}_{bg_name}.png"), img)
            on = [(lab, sc) for lab, sc, b in det.detect(img, threshold=0.2) if iou(b, box) >= 0.3]
            top = on[0] if on else ("-", 0.0)
            acc = max([(sc, lab) for lab, sc in on if lab in accepted], default=(0.0, "-"))
            acc_score[bg_name] = acc[0]
            cells.append(f"{top[0]} {top[1]:.2f}  ({acc[1]} {acc[0]:.2f})")
        keep = acc_score["grey"] >= KEEP_SCORE
        ok_all &= keep
        size = f"{sprite.shape[1]}x{sprite.shape[0]}"
        print(f"{name:20s} {size:>8s} {'/'.join(accepted):12s} | {cells[0]:26s} | {cells[1]:26s} | "
              f"{'yes' if keep else 'NO'}")
    return ok_all


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", default=os.path.normpath(os.path.join(HERE, "../../tests/fixtures")))
    ap.add_argument("--models", default=os.path.normpath(os.path.join(HERE, "../../models")))
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
