"""Labelled-text source files for the text ingest tests, and readers of what it wrote."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from serving.contracts.splits import SPLITS
from trainer.text.cleaning import DROP_REASONS
from trainer.text.ingest import read_text_split


def records(counts: dict[str, int]) -> list[dict]:
    """`counts[label]` distinct {"text", "label"} records of each label."""
    return [
        {"text": f"{label} review number {i}: words {i * 7 % 13}", "label": label}
        for label, n in counts.items()
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict], fields=("text", "label")) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([row.get(f, "") for f in fields])
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def assignments(dataset: Path) -> dict[str, tuple[str, str]]:
    """text -> (label, split), from the split readers."""
    out = {}
    for split in SPLITS:
        texts, labels = read_text_split(dataset, split)
        for text, label in zip(texts, labels, strict=True):
            assert text not in out, f"{text!r} is in two splits"
            out[text] = (label, split)
    return out


def dropped(**nonzero: int) -> dict[str, int]:
    """Every drop reason with 0, but those named: dropped(invalid_utf_8=2, empty_text=1)."""
    named = {r.replace(" ", "_").replace("-", "_").lower(): r for r in DROP_REASONS}
    expected = dict.fromkeys(DROP_REASONS, 0)
    for key, n in nonzero.items():
        expected[named[key]] = n
    return expected


def upload(bucket_name: str, name: str, data: bytes) -> str:
    """Put `data` at gs://bucket_name/name on the storage emulator; return its URI."""
    from serving.contracts.storage import storage_client

    client = storage_client()
    bucket = client.bucket(bucket_name)
    if not bucket.exists():
        bucket = client.create_bucket(bucket_name)
    bucket.blob(name).upload_from_string(data)
    return f"gs://{bucket_name}/{name}"
