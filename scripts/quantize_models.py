#!/usr/bin/env python3
"""INT8 static quantization of heptaview's shipped ONNX models with ONNX Runtime's own tools.

Makes models/nanodet_int8.onnx (and, with --model efficientnet_lite0,
models/efficientnet_lite0_int8.onnx) from the FP32 files beside their
manifests:

  1. onnxruntime.quantization.shape_inference.quant_pre_process: ONNX shape
     inference and ONNX Runtime's graph optimisation (it folds tf2onnx's 28
     explicit Pad nodes into the convolutions), as ORT recommends before
     quantizing. Symbolic shape inference is skipped: it needs sympy and is
     meant for models with symbolic dimensions; these have fixed ones (the
     classifier's batch is the only free dimension). The one Pad left
     (constant -inf, before a MaxPool) is then folded into that MaxPool's
     own padding (exact; see fold_pad_into_maxpool).
  2. onnxruntime.quantization.quantize_static: QDQ format, per-channel int8
     weights, uint8 activations (U8S8, what ORT's x86 kernels are made for),
     ranges from a calibration set (MinMax, Percentile or Entropy), with the
     nodes of the --exclude groups (default: DEFAULT_GROUPS below) left FP32.

Calibration set (fixed list, fixed order: the same inputs give the same bytes):

  - real frames: every 2nd frame of tests/fixtures/videos/vtest_clip.avi
    (a campus road with pedestrians, OpenCV sample data, see NOTICE);
  - generated frames: a drive made with
        heptaview generate --scenario urban_mixed --out DRIVE --seconds 4
    (deterministic: the same command gives the same JPEGs), the JPEGs under
    DRIVE/sensors/cameras/<camera>/, cameras in name order, each camera's
    frames in timestamp order, every 4th frame set.

The four fixture photos (tests/fixtures/images/*.jpg) are NOT in it: they are
held out for the faithfulness check (scripts/compare_quantized.py).

Preprocessing is heptaview's (models/src/preprocess.rs), through the Python
reference scripts/reference_models.py: detector input letterboxed (INTER_LINEAR,
padding 0 after normalisation), BGR, (x - mean) / std from models/nanodet.toml;
classifier input = the crops of the FP32 detector's vehicle detections
(threshold 0.35) on the same frames, resized to 224x224, RGB, (x - 127) / 128.

Usage:
  quantize_models.py --drive /tmp/q/drive [--model nanodet|efficientnet_lite0] [--method M] [--list]
"""

import argparse
import glob
import hashlib
import os
import sys
import tempfile

import cv2
import numpy as np
import onnx
from onnx import numpy_helper
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models as rm  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
VIDEO = os.path.join(ROOT, "tests", "fixtures", "videos", "vtest_clip.avi")
VIDEO_EVERY = 2
DRIVE_SET_EVERY = 4
VEHICLES = ["car", "truck", "bus", "motorcycle", "bicycle"]

# Nodes kept in FP32, in named groups, by model; names are those of the
# graph after quant_pre_process. DEFAULT_GROUPS is what the shipped files were
# made with; README.md beside the models gives the measurements behind it.
GROUPS = {
    "nanodet": {
        # The last conv of each head: its one output holds the 80 class
        # logits and the 44 box-bin logits. Quantized, its uint8 step is
        # 0.06-0.08 in logit (about 0.02 in score near 0.5, and as much on
        # each box bin). Not needed for the criterion (README: min IoU 0.940,
        # max score change 0.027 with them quantized), kept FP32 for margin
        # (0.955, 0.023) at about 0.5 ms.
        "head_convs": ["Conv__176", "Conv__178", "Conv__180"],
        # Split into scores / bins, sigmoid, reshape/transpose to the outputs.
        # The sigmoids are what must stay FP32: MinMax calibration gives
        # each score output the largest score seen in calibration as its
        # maximum (0.84, 0.31, 0.41 at strides 8, 16, 32: the calibration
        # frames hold few large, confident objects), so a confident detection
        # saturates (the bus of bus.jpg, 0.80 in FP32, came out 0.41).
        # The rest keep the FP32 conv output off the uint8 grid.
        "head_outputs": [
            "PartitionedCall/onnx_tf_prefix_Split_153", "PartitionedCall/onnx_tf_prefix_Sigmoid_154",
            "PartitionedCall/onnx_tf_prefix_Reshape_156", "PartitionedCall/onnx_tf_prefix_Transpose_157",
            "PartitionedCall/onnx_tf_prefix_Reshape_159", "PartitionedCall/onnx_tf_prefix_Transpose_160",
            "PartitionedCall/onnx_tf_prefix_Split_164", "PartitionedCall/onnx_tf_prefix_Sigmoid_165",
            "PartitionedCall/onnx_tf_prefix_Reshape_167", "PartitionedCall/onnx_tf_prefix_Transpose_168",
            "PartitionedCall/onnx_tf_prefix_Reshape_170", "PartitionedCall/onnx_tf_prefix_Transpose_171",
            "PartitionedCall/onnx_tf_prefix_Split_175", "PartitionedCall/onnx_tf_prefix_Sigmoid_176",
            "PartitionedCall/onnx_tf_prefix_Reshape_178", "PartitionedCall/onnx_tf_prefix_Transpose_179",
            "PartitionedCall/onnx_tf_prefix_Reshape_181", "PartitionedCall/onnx_tf_prefix_Transpose_182",
        ],
    },
    "efficientnet_lite0": {},
}
DEFAULT_GROUPS = {
    "nanodet": ["head_convs", "head_outputs"],
    "efficientnet_lite0": [],
}
# Calibration method of the shipped files: MinMax keeps the detector's score
# and box heads faithful (Percentile and Entropy clip the rare large values
# that confident detections are made of); Entropy does best for the
# classifier's crops (README.md beside the models).
DEFAULT_METHOD = {"nanodet": "minmax", "efficientnet_lite0": "entropy"}

METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
    "entropy": CalibrationMethod.Entropy,
}


def drive_frames(drive):
    """The generated drive's calibration JPEGs, in a fixed order."""
    cameras = sorted(glob.glob(os.path.join(drive, "sensors", "cameras", "*")))
    if not cameras:
        sys.exit(f"{drive}: no sensors/cameras/<camera>/ folders (make it with `heptaview generate`)")
    paths = []
    for camera in cameras:
        # File names are nanosecond timestamps, all of the same width.
        frames = sorted(glob.glob(os.path.join(camera, "*.jpg")))
        paths += frames[::DRIVE_SET_EVERY]
    return paths


def calibration_images(drive):
    """(name, BGR image) of the calibration set, in a fixed order."""
    capture = cv2.VideoCapture(VIDEO)
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % VIDEO_EVERY == 0:
            yield f"vtest_clip.avi@{index}", frame
        index += 1
    if index == 0:
        sys.exit(f"cannot read {VIDEO}")
    for path in drive_frames(drive):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            sys.exit(f"cannot read {path}")
        yield os.path.relpath(path, drive), image


def manifest_of(name):
    manifest, _, _ = rm.load(name)
    return manifest


def detector_inputs(drive):
    spec = manifest_of("nanodet")["input"]
    return [{spec["name"]: rm.letterbox(image, spec)[0]} for _, image in calibration_images(drive)]


def classifier_inputs(drive):
    """One crop per run: the FP32 detector's vehicles on the calibration frames."""
    det_manifest, det_session, det_labels = rm.load("nanodet")
    spec = manifest_of("efficientnet_lite0")["input"]
    allowed = [label in VEHICLES for label in det_labels]
    inputs = []
    for _, image in calibration_images(drive):
        h, w = image.shape[:2]
        for d in rm.detect(image, det_manifest, det_session, det_labels, 0.35, allowed):
            x1, y1, x2, y2 = d["box"]
            left, top = int(np.clip(np.floor(x1), 0, w)), int(np.clip(np.floor(y1), 0, h))
            right, bottom = int(np.clip(np.ceil(x2), 0, w)), int(np.clip(np.ceil(y2), 0, h))
            if right <= left or bottom <= top:
                continue
            crop = cv2.resize(image[top:bottom, left:right], (spec["shape"][3], spec["shape"][2]), interpolation=cv2.INTER_LINEAR)
            inputs.append({spec["name"]: rm.normalise(crop, spec)[None]})
    return inputs


def fold_pad_into_maxpool(path, feed):
    """Pad(constant -inf) -> MaxPool becomes one MaxPool with those pads.

    tf2onnx writes TensorFlow's SAME max-pool as an explicit Pad with -inf
    followed by an unpadded MaxPool. ONNX MaxPool's own padding never wins a
    maximum, so the rewrite computes the same thing (checked below: the
    outputs are bit-identical). Without it the calibrator sees the -inf border:
    MinMax gives the Pad output an infinite scale (every later activation
    garbage) and the histogram calibrators (Percentile, Entropy) refuse the
    non-finite range, even with the Pad excluded from quantization.
    """
    model = onnx.load(path)
    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    folded = []
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        value = constants.get(pad.input[2]) if len(pad.input) > 2 else None
        users = consumers.get(pad.output[0], [])
        if mode != b"constant" or value is None or not np.isneginf(value).all() or len(users) != 1 or users[0].op_type != "MaxPool":
            continue
        pool = users[0]
        pads = constants[pad.input[1]].tolist()
        rank = len(pads) // 2
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in pool.attribute}
        # Only spatial padding, and a MaxPool without padding of its own.
        if any(pads[i] or pads[rank + i] for i in range(2)) or any(attributes.get("pads", [])) or attributes.get("auto_pad", b"NOTSET") != b"NOTSET":
            continue
        pool.input[0] = pad.input[0]
        for attribute in list(pool.attribute):
            if attribute.name == "pads":
                pool.attribute.remove(attribute)
        pool.attribute.append(onnx.helper.make_attribute("pads", pads[2:rank] + pads[rank + 2:]))
        graph.node.remove(pad)
        folded.append(pad.name)
    if not folded:
        return
    before = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feed)
    rewritten = path + ".folded.onnx"
    onnx.save(model, rewritten)
    after = ort.InferenceSession(rewritten, providers=["CPUExecutionProvider"]).run(None, feed)
    if any(not np.array_equal(a, b) for a, b in zip(before, after)):
        sys.exit(f"folding {folded} into their MaxPools changed the outputs")
    os.replace(rewritten, path)
    print(f"folded {folded} into the following MaxPool (outputs identical)", file=sys.stderr)


class Reader(CalibrationDataReader):
    def __init__(self, inputs):
        self.inputs = inputs
        self.position = 0

    def get_next(self):
        if self.position >= len(self.inputs):
            return None
        self.position += 1
        return self.inputs[self.position - 1]

    def rewind(self):
        self.position = 0


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def quantize(model, drive, method, exclude, activation, output):
    source = os.path.join(rm.MODELS, manifest_of(model)["file"])
    inputs = detector_inputs(drive) if model == "nanodet" else classifier_inputs(drive)
    print(f"{model}: {len(inputs)} calibration inputs, {method} calibration, {len(exclude)} nodes excluded", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = os.path.join(tmp, "prepared.onnx")
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        fold_pad_into_maxpool(prepared, inputs[0])
        names = {node.name for node in onnx.load(prepared).graph.node}
        unknown = [n for n in exclude if n not in names]
        if unknown:
            sys.exit(f"--exclude names nodes that the prepared graph does not have: {unknown}")
        extra = {
            # Flush the calibrator's collected tensors every 16 inputs:
            # collecting all of them first needs ~50 MB per detector input.
            "CalibMaxIntermediateOutputs": 16,
        }
        if method == "percentile":
            extra["CalibPercentile"] = 99.999
        quantize_static(
            prepared,
            output,
            Reader(inputs),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8 if activation == "u8" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=METHODS[method],
            extra_options=extra,
        )
    print(f"{output}: sha256 {sha256(output)}, {os.path.getsize(output)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drive", required=True, help="folder of a drive made by `heptaview generate --scenario urban_mixed --seconds 4`")
    parser.add_argument("--model", choices=sorted(GROUPS), default="nanodet")
    parser.add_argument("--method", choices=sorted(METHODS), help="calibration method (default: DEFAULT_METHOD of the model)")
    parser.add_argument("--activation", choices=["u8", "s8"], default="u8", help="activation type (default u8: U8S8)")
    parser.add_argument("--exclude", action="append", metavar="GROUP", help="a group of nodes to keep FP32 (repeatable; default: DEFAULT_GROUPS of the model; 'none' for none)")
    parser.add_argument("--exclude-node", action="append", default=[], metavar="NODE", help="one more node to keep FP32 (repeatable)")
    parser.add_argument("--out", help="output file (default models/<model>_int8.onnx)")
    parser.add_argument("--list", action="store_true", help="only print the calibration images, in order")
    args = parser.parse_args()
    if args.list:
        for name, _ in calibration_images(args.drive):
            print(name)
        return
    groups = DEFAULT_GROUPS[args.model] if args.exclude is None else [g for g in args.exclude if g != "none"]
    unknown = [g for g in groups if g not in GROUPS[args.model]]
    if unknown:
        sys.exit(f"unknown groups {unknown}; {args.model} has {sorted(GROUPS[args.model])}")
    exclude = [node for g in groups for node in GROUPS[args.model][g]] + args.exclude_node
    output = args.out or os.path.normpath(os.path.join(rm.MODELS, f"{args.model}_int8.onnx"))
    print(f"onnxruntime {ort.__version__}", file=sys.stderr)
    quantize(args.model, args.drive, args.method or DEFAULT_METHOD[args.model], exclude, args.activation, output)


if __name__ == "__main__":
    main()
