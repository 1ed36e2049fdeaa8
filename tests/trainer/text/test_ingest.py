"""Ingesting a text source end to end: the dataset and manifest, splits, and what is refused."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from serving.contracts.errors import InputError
from serving.contracts.splits import SPLITS, split_for
from tests.trainer.text.text_sources import (
    assignments,
    dropped,
    records,
    write_csv,
    write_jsonl,
)
from trainer.text.ingest import (
    EXAMPLES_FILE,
    MANIFEST,
    ingest_text_file,
    read_text_manifest,
    read_text_split,
)


def test_csv_binary_local(tmp_path):
    rows = records({"pos": 60, "neg": 60})
    source = write_csv(tmp_path / "reviews.csv", rows)
    dataset = tmp_path / "dataset"

    manifest = ingest_text_file(str(source), dataset)

    assert manifest == read_text_manifest(dataset)
    assert manifest["format"] == "csv"
    assert manifest["source_uri"] == str(source)
    assert manifest["classes"] == ["neg", "pos"]
    assert manifest["rows_read"] == 120
    assert manifest["dropped_by_reason"] == dropped()
    assert manifest["truncated"] == 0
    assert manifest["max_chars"] == 2000
    assert (manifest["text_field"], manifest["label_field"]) == ("text", "label")
    assert sum(n for split in manifest["counts"].values() for n in split.values()) == 120
    got = assignments(dataset)
    assert {t: label for t, (label, _) in got.items()} == {r["text"]: r["label"] for r in rows}
    for split in SPLITS:
        for label in ("neg", "pos"):
            n = sum(1 for lab, s in got.values() if (lab, s) == (label, split))
            assert n == manifest["counts"][split][label] >= 1
    lines = (dataset / EXAMPLES_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 120
    assert set(json.loads(lines[0])) == {"text", "label", "split"}


def test_jsonl_three_classes_stratified_fractions(tmp_path):
    counts = {"sport": 300, "politics": 300, "science": 300, "rare": 20}
    source = write_jsonl(tmp_path / "news.jsonl", records(counts))

    manifest = ingest_text_file(
        str(source), tmp_path / "dataset", validation_fraction=0.2, test_fraction=0.1
    )

    assert manifest["format"] == "jsonl"
    assert manifest["classes"] == sorted(counts)
    targets = {"train": 0.7, "validation": 0.2, "test": 0.1}
    for label, total in counts.items():
        per_split = {s: manifest["counts"][s][label] for s in SPLITS}
        assert sum(per_split.values()) == total
        assert min(per_split.values()) >= 1, (label, per_split)
        if total >= 300:
            for split, target in targets.items():
                assert abs(per_split[split] / total - target) < 0.06, (label, per_split)
    train_labels = set(read_text_split(tmp_path / "dataset", "train")[1])
    for split in ("validation", "test"):
        assert set(read_text_split(tmp_path / "dataset", split)[1]) <= train_labels


def test_every_class_reaches_every_split_even_when_hashing_misses_it(tmp_path):
    # 3 examples per class: hashing alone leaves most classes without one of the splits.
    counts = {f"class{i:02d}": 3 for i in range(12)}
    source = write_jsonl(tmp_path / "tiny.jsonl", records(counts))

    manifest = ingest_text_file(str(source), tmp_path / "dataset", min_examples_per_class=3)

    for label in counts:
        assert [manifest["counts"][s][label] for s in SPLITS] == [1, 1, 1]


def test_split_depends_on_text_not_file_order(tmp_path):
    rows = records({"a": 40, "b": 40, "c": 40})
    first = ingest_text_file(str(write_jsonl(tmp_path / "one.jsonl", rows)), tmp_path / "d1")
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    second = ingest_text_file(str(write_jsonl(tmp_path / "two.jsonl", shuffled)), tmp_path / "d2")
    as_csv = ingest_text_file(str(write_csv(tmp_path / "three.csv", shuffled)), tmp_path / "d3")

    assert assignments(tmp_path / "d1") == assignments(tmp_path / "d2")
    assert assignments(tmp_path / "d1") == assignments(tmp_path / "d3")
    assert first["counts"] == second["counts"] == as_csv["counts"]
    # Not everything in one split: the assignment really depends on the text.
    assert len({split for _, split in assignments(tmp_path / "d1").values()}) == 3


def test_jsonl_drop_reasons_counted(tmp_path):
    good = records({"pos": 10, "neg": 10})
    lines = [json.dumps(r).encode() for r in good]
    lines += [
        b'{"text": "", "label": "pos"}',  # empty text
        b'{"text": "  \\t \\n ", "label": "pos"}',  # empty text
        b'{"label": "pos"}',  # missing text
        b'{"text": null, "label": "neg"}',  # missing text
        b'{"text": "no label here"}',  # missing label
        b'{"text": "null label", "label": null}',  # missing label
        b'{"text": "blank label", "label": "   "}',  # missing label
        b'{"text": "caf\\udce9 escaped", "label": "pos"}',  # invalid UTF-8 (lone surrogate)
        b'{"text": "surrogate label", "label": "\\ud800"}',  # invalid UTF-8
        b"[1, 2, 3]",  # malformed
        b"this is not json",  # malformed
        b'"just a string"',  # malformed
        b'{"text": ["a", "list"], "label": "pos"}',  # malformed
        json.dumps({"text": good[0]["text"], "label": "neg"}).encode(),  # duplicate
        json.dumps({"text": f"  {good[1]['text']}  ", "label": "pos"}).encode(),  # duplicate
        b"",  # blank lines are not rows
        b"   ",
    ]
    source = tmp_path / "messy.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")

    manifest = ingest_text_file(str(source), tmp_path / "dataset")

    assert manifest["dropped_by_reason"] == dropped(
        empty_text=2,
        missing_text=2,
        missing_label=3,
        invalid_utf_8=2,
        malformed_line=4,
        duplicate_text=2,
    )
    assert manifest["rows_read"] == 35
    kept = assignments(tmp_path / "dataset")
    assert len(kept) == 20 == manifest["rows_read"] - sum(manifest["dropped_by_reason"].values())
    assert kept[good[0]["text"]][0] == "pos"  # the first occurrence wins
    assert {t for t in kept} == {r["text"] for r in good}


def test_csv_drop_reasons_counted_and_quoting_handled(tmp_path):
    good = records({"pos": 8, "neg": 8})
    good.append({"text": 'He said "hi", then\nleft, twice', "label": "pos"})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text", "label"])
    for i, r in enumerate(good):
        writer.writerow([i, r["text"], r["label"]])
    writer.writerow([100, "", "pos"])  # empty text
    writer.writerow([101, "   ", "neg"])  # empty text
    writer.writerow([102, "has no label", ""])  # missing label
    writer.writerow([103, "too", "many", "fields"])  # malformed
    writer.writerow([104])  # malformed
    writer.writerow([105, good[2]["text"], "neg"])  # duplicate
    raw = buffer.getvalue().encode("utf-8") + b"\r\n"  # a blank line is not a row
    source = tmp_path / "reviews.csv"
    source.write_bytes(raw)

    manifest = ingest_text_file(str(source), tmp_path / "dataset")

    assert manifest["dropped_by_reason"] == dropped(
        empty_text=2, missing_label=1, malformed_line=2, duplicate_text=1
    )
    assert manifest["rows_read"] == 17 + 6
    kept = assignments(tmp_path / "dataset")
    assert kept.keys() == {r["text"] for r in good}
    assert kept['He said "hi", then\nleft, twice'][0] == "pos"


def test_single_class_refused(tmp_path):
    source = write_jsonl(tmp_path / "one.jsonl", records({"pos": 12}))
    dataset = tmp_path / "dataset"
    with pytest.raises(InputError, match=r"at least 2 classes; found 1: 'pos' \(12 examples\)"):
        ingest_text_file(str(source), dataset)
    assert not dataset.exists()


def test_too_few_examples_per_class_refused(tmp_path):
    rows = records({"pos": 20, "neg": 20, "rare": 4})
    rows.append(dict(rows[-1]))  # a duplicate does not count towards the class
    source = write_csv(tmp_path / "few.csv", rows)
    dataset = tmp_path / "dataset"
    with pytest.raises(InputError, match=r"'rare' has 4.*at least 5") as error:
        ingest_text_file(str(source), dataset)
    assert "'pos'" not in str(error.value)
    assert not dataset.exists()


@pytest.mark.parametrize(
    ("validation", "test", "named"),
    [
        (-0.1, 0.15, "validation_fraction"),
        (0.15, 1.0, "test_fraction"),
        (0.5, 0.5, "validation_fraction \\+ test_fraction"),
    ],
)
def test_bad_fractions_refused(tmp_path, validation, test, named):
    source = write_jsonl(tmp_path / "ok.jsonl", records({"a": 10, "b": 10}))
    with pytest.raises(InputError, match=named):
        ingest_text_file(
            str(source), tmp_path / "d", validation_fraction=validation, test_fraction=test
        )


def test_zero_validation_fraction_leaves_validation_empty(tmp_path):
    source = write_jsonl(tmp_path / "ok.jsonl", records({"a": 30, "b": 30}))
    manifest = ingest_text_file(
        str(source), tmp_path / "d", validation_fraction=0.0, test_fraction=0.2
    )
    assert read_text_split(tmp_path / "d", "validation") == ([], [])
    assert all(manifest["counts"][s][c] >= 1 for s in ("train", "test") for c in "ab")


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    source = write_jsonl(tmp_path / "ok.jsonl", records({"a": 10, "b": 10}))
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "stale.txt").write_text("left by a killed attempt")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("trainer.text.ingest.write_json", fail)
    with pytest.raises(OSError, match="disk full"):
        ingest_text_file(str(source), dataset)
    assert not dataset.exists()


def test_readers_refuse_incomplete_dataset_and_unknown_split(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / EXAMPLES_FILE).write_text('{"text": "t", "label": "a", "split": "test"}\n')
    with pytest.raises(FileNotFoundError, match="incomplete"):
        read_text_split(tmp_path / "half", "test")
    source = write_jsonl(tmp_path / "ok.jsonl", records({"a": 10, "b": 10}))
    ingest_text_file(str(source), tmp_path / "full")
    assert (tmp_path / "full" / MANIFEST).is_file()
    with pytest.raises(InputError, match="'dev'"):
        read_text_split(tmp_path / "full", "dev")


def test_a_label_outside_the_manifests_classes_is_refused_not_invented(tmp_path):
    """A test-split label the model never trained on must not be scored as if it were a class."""
    source = write_jsonl(tmp_path / "ok.jsonl", records({"a": 10, "b": 10}))
    ingest_text_file(str(source), tmp_path / "ds")
    examples = tmp_path / "ds" / EXAMPLES_FILE
    lines = examples.read_text().splitlines()
    lines.append(json.dumps({"text": "brand new", "label": "c", "split": "test"}))
    examples.write_text("\n".join(lines) + "\n")
    assert read_text_split(tmp_path / "ds", "train")[1]  # other splits still read
    with pytest.raises(InputError, match=r"label 'c', which is not one of .*\['a', 'b'\]"):
        read_text_split(tmp_path / "ds", "test")


def test_a_text_lands_in_the_shared_hash_split_of_its_text(tmp_path):
    # Classes this size reach every split by hashing alone, so nothing is topped up.
    rows = records({"a": 200, "b": 200})
    ingest_text_file(
        str(write_jsonl(tmp_path / "big.jsonl", rows)),
        tmp_path / "d",
        validation_fraction=0.2,
        test_fraction=0.1,
    )
    got = assignments(tmp_path / "d")
    assert {t: split for t, (_, split) in got.items()} == {
        r["text"]: split_for(r["text"], 0.2, 0.1) for r in rows
    }


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(b"caf\xe9.csv", "caf\\xe9.csv"), (b"r\xe9sum\xe9s/reviews.jsonl", "r\\xe9sum\\xe9s")],
)
def test_a_source_whose_name_is_not_utf8_is_refused_by_name(tmp_path, raw, shown):
    # As Python lists such a name on POSIX: the bytes that are not UTF-8 as lone surrogates.
    source = tmp_path / raw.decode("utf-8", "surrogateescape")
    source.parent.mkdir(exist_ok=True)
    write = write_csv if source.suffix == ".csv" else write_jsonl
    write(source, records({"pos": 10, "neg": 10}))
    with pytest.raises(InputError, match="is not valid UTF-8") as raised:
        ingest_text_file(str(source), tmp_path / "dataset")
    assert shown in str(raised.value)
    assert not (tmp_path / "dataset").exists()
