"""ingest_image_folder: copy, validate, split and describe a folder of class sub-folders."""

import collections
import json
import os
from pathlib import Path

import numpy as np
import pytest

from pipelines.local.gcs_emulator import upload_directory
from serving.contracts.errors import InputError
from serving.contracts.splits import SPLITS
from tests.conftest import png_bytes
from tests.trainer.vision.broken_images import BROKEN, UNDECODABLE
from trainer.vision.dataset import make_dataset, split_files
from trainer.vision.ingest import ingest_image_folder, read_manifest

# With these names and fractions every class gets files in every split (checked below).
COUNTS = {"dog": 12, "bird": 12}
SETTINGS = {"validation_fraction": 0.2, "test_fraction": 0.2, "min_images_per_class": 10}
GOOD_PNG = png_bytes(np.random.default_rng(3).integers(0, 255, (16, 16, 3)))


def _ingest(source, dataset_dir, **overrides):
    return ingest_image_folder(str(source), dataset_dir, **{**SETTINGS, **overrides})


def _files(manifest):
    return [(f["path"], f["label"], f["split"]) for f in manifest["files"]]


def _add_bad_files(root: Path) -> dict[str, str]:
    """Write unusable files into `root`; return {relative path: expected reason prefix}."""
    bad = {
        "dog/README.txt": (b"dog pictures\n", "not an image"),
        "bird/.DS_Store": (b"\x00\x01", "hidden file"),
        "stray.png": (GOOD_PNG, "not inside a class folder"),
        "dog/.ipynb_checkpoints/dog_000-checkpoint.png": (GOOD_PNG, "inside a hidden folder"),
        # Files that look like images but that training's decoder refuses (or reads as GIF/BMP).
        **{f"bird/{name}": case for name, case in BROKEN.items()},
    }
    for rel, (content, _) in bad.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return {rel: reason for rel, (_, reason) in bad.items()}


def _reason_counts(expected: dict[str, str]) -> dict[str, int]:
    return dict(collections.Counter(reason for reason in expected.values()))


def test_ingest_local_folder_writes_images_and_manifest(make_image_folder, tmp_path):
    source = make_image_folder(COUNTS)
    dataset = tmp_path / "dataset"
    manifest = _ingest(source, dataset)

    assert manifest["classes"] == ["bird", "dog"]
    assert manifest["source_uri"] == str(source)
    assert manifest["skipped"] == [] and manifest["skipped_by_reason"] == {}
    for label, total in COUNTS.items():
        counts = manifest["counts"][label]
        assert counts["total"] == total
        assert sum(counts[s] for s in SPLITS) == total
        assert min(counts[s] for s in SPLITS) >= 1

    entries = manifest["files"]
    assert len(entries) == sum(COUNTS.values())
    assert all(e["split"] in SPLITS for e in entries)
    for e in entries:
        assert e["path"] == f"images/{e['label']}/{Path(e['path']).name}"
        assert (dataset / e["path"]).read_bytes() == (source / e["path"][7:]).read_bytes()
    copied = sorted(p.relative_to(dataset).as_posix() for p in dataset.rglob("*") if p.is_file())
    assert copied == sorted([e["path"] for e in entries] + ["manifest.json"])
    assert json.loads((dataset / "manifest.json").read_text()) == manifest
    assert read_manifest(dataset) == manifest


def test_splits_are_stable_across_ingests_and_added_files(make_image_folder, tmp_path):
    source = make_image_folder(COUNTS)
    first = _ingest(source, tmp_path / "one")
    again = _ingest(source, tmp_path / "two")
    assert _files(again) == _files(first)

    for label in COUNTS:
        for i in range(6):
            (source / label / f"new_{i}.png").write_bytes(GOOD_PNG)
    grown = _ingest(source, tmp_path / "three")
    assert len(grown["files"]) == len(first["files"]) + 12
    assert set(_files(first)) <= set(_files(grown))


def test_bad_files_are_skipped_with_reasons(make_image_folder, tmp_path):
    source = make_image_folder(COUNTS)
    expected = _add_bad_files(source)
    dataset = tmp_path / "dataset"
    manifest = _ingest(source, dataset)

    reasons = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert sorted(reasons) == sorted(expected)
    for rel, reason in expected.items():
        assert reasons[rel].startswith(reason), (rel, reasons[rel])
    assert manifest["skipped_by_reason"] == _reason_counts(expected)
    assert manifest["skipped_by_reason"][UNDECODABLE] == 6
    # The good images are all there, and no skipped file was copied.
    assert {label: c["total"] for label, c in manifest["counts"].items()} == COUNTS
    assert len(manifest["files"]) == sum(COUNTS.values())
    for rel in expected:
        assert not (dataset / "images" / rel).exists()
        assert not (dataset / rel).exists()


def test_training_meets_none_of_the_skipped_files(make_image_folder, tmp_path):
    """Every split of the dataset goes through training's tf.data pipeline without an error."""
    source = make_image_folder(COUNTS)
    _add_bad_files(source)
    dataset = tmp_path / "dataset"
    manifest = _ingest(source, dataset)

    read = 0
    for split in SPLITS:
        paths, labels = split_files(dataset, manifest, split)
        assert not {Path(p).name for p in paths} & set(BROKEN)
        for images, _ in make_dataset(paths, labels, 8, 64, training=False, cache=False):
            read += int(images.shape[0])
    assert read == sum(COUNTS.values())


def _non_utf8(name: bytes) -> str:
    """A file name made of `name`'s bytes, as Python gives such names from a listing."""
    return os.fsdecode(name)


def test_names_that_are_not_utf8_are_skipped_with_the_bytes_escaped(make_image_folder, tmp_path):
    source = make_image_folder(COUNTS)
    (source / "dog" / _non_utf8(b"caf\xe9.png")).write_bytes(GOOD_PNG)
    (source / "bird" / _non_utf8(b"\xff\xfe.jpg")).write_bytes(GOOD_PNG)
    latin1_class = source / _non_utf8(b"ch\xe8vre")
    latin1_class.mkdir()
    for i in range(12):
        (latin1_class / f"goat_{i}.png").write_bytes(GOOD_PNG)
    (source / "bird" / "café.png").write_bytes(GOOD_PNG)  # UTF-8, so usable
    dataset = tmp_path / "dataset"
    manifest = _ingest(source, dataset)

    reasons = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert reasons.pop("dog/caf\\xe9.png") == (
        "file name is not valid UTF-8 (caf\\xe9.png): rename it"
    )
    assert reasons.pop("bird/\\xff\\xfe.jpg").startswith("file name is not valid UTF-8 (\\xff")
    assert reasons == {
        f"ch\\xe8vre/goat_{i}.png": "folder name is not valid UTF-8 (ch\\xe8vre): rename it"
        for i in range(12)
    }
    assert manifest["classes"] == ["bird", "dog"]
    assert manifest["counts"]["bird"]["total"] == COUNTS["bird"] + 1
    # The manifest is strict UTF-8 JSON: no lone surrogates, nothing left to escape.
    written = (dataset / "manifest.json").read_bytes().decode("utf-8")
    assert "\\ud" not in written
    assert json.loads(written) == manifest
    assert not (dataset / "images" / _non_utf8(b"ch\xe8vre")).exists()


def _assert_refused(source, dataset, *fragments, **overrides):
    with pytest.raises(InputError) as raised:
        _ingest(source, dataset, **overrides)
    message = str(raised.value)
    assert repr(str(source)) in message
    for fragment in fragments:
        assert fragment in message, message
    assert not dataset.exists()
    return message


def test_empty_source_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    _assert_refused(tmp_path / "empty", tmp_path / "dataset", "holds no files")


def test_source_with_only_bad_files_is_refused(tmp_path):
    source = tmp_path / "source"
    (source / "dog").mkdir(parents=True)
    (source / "bird").mkdir()
    _add_bad_files(source)
    _assert_refused(
        source,
        tmp_path / "dataset",
        "no usable JPEG/PNG images",
        f"{len(BROKEN) + 4} files skipped",
        "zero-byte",
        f"'{UNDECODABLE}': 6",
    )


def test_single_class_is_refused(make_image_folder, tmp_path):
    source = make_image_folder({"dog": 12})
    _assert_refused(source, tmp_path / "dataset", "single class", "'dog'", "12 images")


def test_class_with_too_few_images_is_refused(make_image_folder, tmp_path):
    source = make_image_folder({"dog": 12, "bird": 3})
    message = _assert_refused(source, tmp_path / "dataset", "'bird': 3 images", "at least 10")
    assert "'dog'" not in message


def test_class_missing_from_a_split_is_refused(make_image_folder, tmp_path):
    # 'cat' files with these names all hash outside the validation split.
    source = make_image_folder({"dog": 12, "cat": 12})
    _assert_refused(source, tmp_path / "dataset", "'cat': 12 images", "validation 0")


def test_failure_while_writing_leaves_no_dataset_dir(make_image_folder, tmp_path, monkeypatch):
    source = make_image_folder(COUNTS)
    dataset = tmp_path / "dataset"

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("trainer.vision.ingest.write_json", fail)
    with pytest.raises(OSError, match="disk full"):
        _ingest(source, dataset)
    assert not dataset.exists()


def test_ingest_from_gcs_matches_local_ingest(gcs_emulator, make_image_folder, tmp_path):
    source = make_image_folder(COUNTS)
    _add_bad_files(source)
    local = _ingest(source, tmp_path / "local")

    upload_directory(source, "gs://ingest-bucket/pets")
    dataset = tmp_path / "from-gcs"
    remote = _ingest("gs://ingest-bucket/pets", dataset)

    assert remote["source_uri"] == "gs://ingest-bucket/pets"
    assert _files(remote) == _files(local)
    assert remote["counts"] == local["counts"]
    assert remote["skipped"] == local["skipped"]
    for entry in remote["files"]:
        local_copy = tmp_path / "local" / entry["path"]
        assert (dataset / entry["path"]).read_bytes() == local_copy.read_bytes()


def test_read_manifest_refuses_incomplete_dataset(tmp_path):
    (tmp_path / "half" / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="incomplete"):
        read_manifest(tmp_path / "half")
