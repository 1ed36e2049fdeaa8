"""Ingest a folder of images (one sub-folder per class) into a dataset directory.

Output layout, read by `trainer.vision.dataset`:
    <dataset>/images/<class>/<file>   the usable images, copied
    <dataset>/manifest.json           classes, counts per split, files, skipped files and why
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path

from serving.contracts.artifact_dirs import building_directory, read_marker_json, write_json
from serving.contracts.errors import InputError
from serving.contracts.splits import SPLITS, split_for
from serving.contracts.storage import copy_source_tree, escaped_name, name_problem
from trainer.vision.config import check_ingest_options
from trainer.vision.image_files import image_problem

MANIFEST = "manifest.json"
IMAGES_DIR = "images"

log = logging.getLogger(__name__)


def ingest_image_folder(
    source_uri: str,
    dataset_dir: str | Path,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    min_images_per_class: int = 10,
) -> dict:
    """Copy, validate and split the images under `source_uri`; return the manifest."""
    check_ingest_options(validation_fraction, test_fraction, min_images_per_class)
    with tempfile.TemporaryDirectory(prefix="ingest-") as staging_name:
        staging = Path(staging_name)
        log.info("Copying %s", source_uri)
        copied = copy_source_tree(source_uri, staging)
        if not copied:
            raise InputError(f"Source {source_uri!r} holds no files: check the URI and prefix.")
        files, skipped = _sort_files(staging, copied)
        manifest = _build_manifest(source_uri, files, skipped, validation_fraction, test_fraction)
        _check_counts(source_uri, manifest, min_images_per_class)
        with building_directory(dataset_dir, MANIFEST) as out:
            for entry in manifest["files"]:
                rel = entry["path"][len(IMAGES_DIR) + 1 :]
                target = out / entry["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(staging / rel, target)
            write_json(out / MANIFEST, manifest)
    log.info(
        "Ingested %d images in %d classes (%d files skipped)",
        len(manifest["files"]),
        len(manifest["classes"]),
        len(skipped),
    )
    return manifest


def read_manifest(dataset_dir: str | Path) -> dict:
    """The manifest of a completely ingested dataset directory."""
    return read_marker_json(dataset_dir, MANIFEST, "Dataset")


def _sort_files(staging: Path, copied: list[str]) -> tuple[list[str], list[dict]]:
    usable, skipped = [], []
    for rel in copied:
        bad_name = name_problem(rel)
        if bad_name:
            # The manifest, the split hash and tf.data all need the name as UTF-8.
            skipped.append({"path": escaped_name(rel), "reason": bad_name})
            continue
        if "/" not in rel:
            skipped.append({"path": rel, "reason": "not inside a class folder"})
            continue
        if any(part.startswith(".") for part in rel.split("/")[:-1]):
            # e.g. <class>/.ipynb_checkpoints/ copies, which would leak across splits
            skipped.append({"path": rel, "reason": "inside a hidden folder"})
            continue
        problem = image_problem(staging / rel)
        if problem:
            skipped.append({"path": rel, "reason": problem})
        else:
            usable.append(rel)
    for item in skipped:
        log.warning("Skipping %s: %s", item["path"], item["reason"])
    return usable, skipped


def _build_manifest(
    source_uri: str,
    files: list[str],
    skipped: list[dict],
    validation_fraction: float,
    test_fraction: float,
) -> dict:
    entries = []
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for rel in files:
        label = rel.split("/", 1)[0]
        split = split_for(rel, validation_fraction, test_fraction)
        entries.append({"path": f"{IMAGES_DIR}/{rel}", "label": label, "split": split})
        counts[label][split] += 1
    classes = sorted(counts)
    return {
        "kind": "image_folder",
        "source_uri": source_uri,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "classes": classes,
        "counts": {
            c: {**{s: counts[c][s] for s in SPLITS}, "total": sum(counts[c].values())}
            for c in classes
        },
        "split": {
            "method": "sha256 of '<class>/<file>' relative path",
            "validation_fraction": validation_fraction,
            "test_fraction": test_fraction,
        },
        "files": entries,
        "skipped": skipped,
        "skipped_by_reason": dict(collections.Counter(s["reason"].split(" (")[0] for s in skipped)),
    }


def _check_counts(source_uri: str, manifest: dict, min_images_per_class: int) -> None:
    counts = manifest["counts"]
    skipped = len(manifest["skipped"])
    if not counts:
        raise InputError(
            f"Source {source_uri!r} holds no usable JPEG/PNG images inside class folders "
            f"({skipped} files skipped: {manifest['skipped_by_reason']}). "
            "Expected <source>/<class>/<image>."
        )
    if len(counts) < 2:
        (only,) = counts
        raise InputError(
            f"Source {source_uri!r} has a single class folder ({only!r}, "
            f"{counts[only]['total']} images): classification needs at least two."
        )
    too_few = {
        c: n
        for c, n in counts.items()
        if n["total"] < min_images_per_class or min(n[s] for s in SPLITS) == 0
    }
    if too_few:
        detail = "; ".join(
            f"{c!r}: {n['total']} images (train {n['train']}, validation {n['validation']}, "
            f"test {n['test']})"
            for c, n in sorted(too_few.items())
        )
        raise InputError(
            f"Source {source_uri!r} has classes with too few images for the splits: {detail}. "
            f"Each class needs at least {min_images_per_class} images and one in every split: "
            "add images, or lower min_images_per_class."
        )
