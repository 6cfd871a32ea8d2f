#!/usr/bin/env python3
"""Reads a Rerun recording (.rrd) back with Rerun's own reader and prints, as
JSON, what it holds: per entity path the rows logged, instances of the
archetype's main component, timelines; and the blueprint stores with their
view and container entities.

Usage: python scripts/read_rerun_recording.py RECORDING.rrd
       python scripts/read_rerun_recording.py RECORDING.rrd --boxes3d ENTITY
           (the 3D boxes logged at ENTITY, a row per frame set:
            {"frameset": n, "centers": [[x, y, z], ...]})

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
    "Boxes3D:half_sizes",
    "Arrows3D:vectors",
    "LineStrips3D:strips",
    "EncodedImage:blob",
    "TextLog:text",
    "Scalars:scalars",
)


def describe(chunks):
    entities = defaultdict(lambda: {"rows": 0, "static_rows": 0, "instances": {}, "timelines": set()})
    for chunk in chunks:
        entry = entities[chunk.entity_path]
        batch = chunk.to_record_batch()
        if chunk.is_static:
            entry["static_rows"] += chunk.num_rows
        else:
            entry["rows"] += chunk.num_rows
        entry["timelines"].update(chunk.timeline_names)
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
        path: {**entry, "timelines": sorted(entry["timelines"])}
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


def main():
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
