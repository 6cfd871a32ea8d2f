#!/usr/bin/env python3
"""Reads a Rerun recording (.rrd) back with Rerun's own reader and prints, as
JSON, what it holds: per entity path the rows logged, instances of the
archetype's main component, timelines; and the blueprint stores with their
view and container entities.

Usage: python scripts/read_rerun_recording.py RECORDING.rrd
       python scripts/read_rerun_recording.py RECORDING.rrd --boxes3d ENTITY
           (the 3D boxes logged at ENTITY, a row per frame set:
            {"frameset": n, "centers": [[x, y, z], ...]})
       python scripts/read_rerun_recording.py RECORDING.rrd --boxes2d ENTITY
           (the 2D boxes logged at ENTITY, a row per image:
            {"frameset": n, "centers": [[x, y], ...], "half_sizes": [[w/2, h/2], ...],
             "class_ids": [id, ...], "labels": [text, ...]})
       python scripts/read_rerun_recording.py RECORDING.rrd --text ENTITY
           (the text log at ENTITY, a row per line:
            {"frameset": n, "text": "...", "level": "INFO"})
       python scripts/read_rerun_recording.py RECORDING.rrd --blueprint
           (the blueprint: per entity (`view/<id>`, `container/<id>`,
            `time_panel`, ...) each component's last value, a list)

An independent reference for the tests: the PyPI rerun-sdk of the same
version as the Rust crate (scripts/requirements.txt).
"""

import json
import sys
from collections import defaultdict

import pyarrow as pa
from rerun.experimental import RrdReader

# The component whose list length is the number of instances in a row.
INSTANCE_COMPONENTS = (
    "Boxes2D:half_sizes",
    "Boxes2D:class_ids",
    "Boxes3D:half_sizes",
    "Boxes3D:class_ids",
    "Arrows3D:vectors",
    "LineStrips3D:strips",
    "EncodedImage:blob",
    "TextLog:text",
    "Scalars:scalars",
)


def describe(chunks):
    entities = defaultdict(
        lambda: {"rows": 0, "static_rows": 0, "instances": {}, "timelines": set(), "components": set()}
    )
    for chunk in chunks:
        entry = entities[chunk.entity_path]
        batch = chunk.to_record_batch()
        if chunk.is_static:
            entry["static_rows"] += chunk.num_rows
        else:
            entry["rows"] += chunk.num_rows
        entry["timelines"].update(chunk.timeline_names)
        entry["components"].update(n for n in batch.schema.names if ":" in n)
        for name in batch.schema.names:
            if name == "Boxes2D:labels":
                labels = [l for row in batch.column(name).to_pylist() if row for l in row]
                entry["labels_with_track"] = entry.get("labels_with_track", 0) + sum(
                    1 for l in labels if l.startswith("#")
                )
            if name in INSTANCE_COMPONENTS:
                column = batch.column(name)
                if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
                    count = sum(len(v) for v in column.to_pylist() if v is not None)
                else:
                    count = column.length - column.null_count
                entry["instances"][name] = entry["instances"].get(name, 0) + count
    return {
        path: {**entry, "timelines": sorted(entry["timelines"]), "components": sorted(entry["components"])}
        for path, entry in sorted(entities.items())
    }


def boxes3d(chunks, entity):
    rows = []
    for chunk in chunks:
        if chunk.entity_path != entity or chunk.is_static:
            continue
        batch = chunk.to_record_batch().to_pydict()
        if "Boxes3D:centers" not in batch:
            continue
        for frameset, centers in zip(batch["frameset"], batch["Boxes3D:centers"]):
            rows.append({"frameset": frameset, "centers": centers or []})
    return sorted(rows, key=lambda row: row["frameset"])


def boxes2d(chunks, entity):
    rows = []
    for chunk in chunks:
        if chunk.entity_path != entity or chunk.is_static:
            continue
        batch = chunk.to_record_batch().to_pydict()
        if "Boxes2D:half_sizes" not in batch:
            continue
        for i, frameset in enumerate(batch["frameset"]):
            column = lambda name: (batch.get(name) or [None] * (i + 1))[i] or []
            rows.append(
                {
                    "frameset": frameset,
                    "centers": column("Boxes2D:centers"),
                    "half_sizes": column("Boxes2D:half_sizes"),
                    "class_ids": column("Boxes2D:class_ids"),
                    "labels": column("Boxes2D:labels"),
                }
            )
    return sorted(rows, key=lambda row: row["frameset"])


def texts(chunks, entity):
    rows = []
    for chunk in chunks:
        if chunk.entity_path != entity or chunk.is_static:
            continue
        batch = chunk.to_record_batch().to_pydict()
        if "TextLog:text" not in batch:
            continue
        levels = batch.get("TextLog:level") or [None] * len(batch["TextLog:text"])
        for frameset, text, level in zip(batch["frameset"], batch["TextLog:text"], levels):
            rows.append({"frameset": frameset, "text": (text or [""])[0], "level": (level or [None])[0]})
    return sorted(rows, key=lambda row: row["frameset"])


def blueprint_components(chunks):
    entities = {}
    for chunk in chunks:
        batch = chunk.to_record_batch()
        entry = entities.setdefault(chunk.entity_path, {})
        for name in batch.schema.names:
            if ":" in name:
                entry[name] = batch.column(name).to_pylist()[-1]
    return dict(sorted(entities.items()))


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--blueprint":
        reader = RrdReader(sys.argv[1])
        stores = reader.blueprints()
        if len(stores) != 1:
            sys.exit(f"{sys.argv[1]}: {len(stores)} blueprint stores, expected one")
        json.dump(blueprint_components(reader.stream(store=stores[0]).to_chunks()), sys.stdout, indent=1)
        print()
        return
    if len(sys.argv) == 4 and sys.argv[2] == "--boxes2d":
        reader = RrdReader(sys.argv[1])
        chunks = reader.stream(store=reader.recordings()[0]).to_chunks()
        json.dump(boxes2d(chunks, sys.argv[3]), sys.stdout)
        print()
        return
    if len(sys.argv) == 4 and sys.argv[2] == "--text":
        reader = RrdReader(sys.argv[1])
        chunks = reader.stream(store=reader.recordings()[0]).to_chunks()
        json.dump(texts(chunks, sys.argv[3]), sys.stdout)
        print()
        return
    if len(sys.argv) == 4 and sys.argv[2] == "--boxes3d":
        reader = RrdReader(sys.argv[1])
        chunks = reader.stream(store=reader.recordings()[0]).to_chunks()
        json.dump(boxes3d(chunks, sys.argv[3]), sys.stdout)
        print()
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    reader = RrdReader(sys.argv[1])
    recordings = reader.recordings()
    if not recordings:
        sys.exit(f"{sys.argv[1]}: no recording store")
    blueprints = []
    for store in reader.blueprints():
        chunks = reader.stream(store=store).to_chunks()
        blueprints.append(sorted({c.entity_path for c in chunks}))
    result = {
        "recordings": len(recordings),
        "entities": describe(reader.stream(store=recordings[0]).to_chunks()),
        "blueprints": blueprints,
    }
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
