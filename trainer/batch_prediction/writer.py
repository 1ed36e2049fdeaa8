"""Sharded JSONL output, written as it goes and made visible only when whole.

Lines go to the open shard of their kind; a shard that holds `shard_lines` is
closed (on Cloud Storage: uploaded) and the next one opened, so memory holds
one shard's buffer whatever the input's size. Shard names carry their total
(`-NNNNN-of-NNNNN`), known only at the end: until `commit()` the shards have
temporary names in a hidden `.incoming-*` folder, so a job that stops half-way
leaves nothing that looks complete. Locally `commit()` renames the folder into
place (atomic); on Cloud Storage, which cannot rename, each shard is copied to
its final name and a reader checks the set with `output_layout.complete_shards`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri, storage_client
from trainer.batch_prediction.output_layout import ERRORS, RESULTS, finite_line, shard_name

SHARD_LINES = 100_000


class ShardedOutput:
    """The output folder `<destination>/<directory>`: results and errors_stats shards."""

    def __init__(self, destination: str, directory: str, shard_lines: int = SHARD_LINES) -> None:
        self.target = parse_source_uri(destination)
        self.directory, self.shard_lines = directory, shard_lines
        self.uri = f"{destination.rstrip('/')}/{directory}"
        self._incoming = f".incoming-{directory}-{uuid.uuid4().hex[:8]}"
        if self.target.scheme == "file":
            root = Path(self.target.path).expanduser()
            if (root / directory).exists():
                raise InputError(f"Output {self.uri} exists already: choose another output_uri.")
            if root.exists() and not root.is_dir():
                raise InputError(
                    f"output_uri {destination!r} is a file, not a folder: choose a folder "
                    "(a new one is made) for the predictions."
                )
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(
                    f"output_uri {destination!r}: cannot make the folder ({exc.strerror}): "
                    "choose a folder you can write."
                ) from None
            self._local = root / self._incoming
            self._local.mkdir()
        elif not storage_client().bucket(self.target.bucket).exists():
            raise InputError(
                f"Output bucket {self.target.bucket!r} of {destination!r} does not exist (or "
                "these credentials cannot see it): create it, or choose another output_uri."
            )
        self._staging = Path(tempfile.mkdtemp(prefix="batch-prediction-"))  # shards being written
        self._shards: dict[str, list[str]] = {RESULTS: [], ERRORS: []}
        self._uploaded: list[str] = []  # staged objects on Cloud Storage, for abort()
        self._open: dict[str, tuple[object, int]] = {}
        self.counts = {RESULTS: 0, ERRORS: 0}

    def write(self, kind: str, line: dict) -> None:
        kind, line = finite_line(kind, line)
        handle, lines = self._open.get(kind) or (self._new_shard(kind), 0)
        handle.write(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n")
        self.counts[kind] += 1
        self._open[kind] = (handle, lines + 1)
        if lines + 1 >= self.shard_lines:
            self._close_shard(kind)

    def commit(self) -> str:
        """Give every shard its final name; the folder's URI. At least one shard of each kind
        is written (an empty errors_stats shard when nothing failed, as Vertex AI does)."""
        for kind in (RESULTS, ERRORS):
            if kind not in self._open and not self._shards[kind]:
                self._open[kind] = (self._new_shard(kind), 0)
            if kind in self._open:
                self._close_shard(kind)
        if self.target.scheme == "file":
            self._commit_local()
        else:
            self._commit_gcs()
        shutil.rmtree(self._staging, ignore_errors=True)
        return self.uri

    def abort(self) -> None:
        """Drop everything written (the job failed, even during `commit()`): nothing is left
        under the final name."""
        for handle, _ in self._open.values():
            handle.close()
        self._open.clear()
        shutil.rmtree(self._staging, ignore_errors=True)
        if self.target.scheme == "file":
            shutil.rmtree(self._local, ignore_errors=True)
        else:
            from google.api_core import exceptions as gexc

            bucket = storage_client().bucket(self.target.bucket)
            for name in self._uploaded:  # the open shard was never uploaded
                with contextlib.suppress(gexc.NotFound):  # a staged one already copied
                    bucket.blob(name).delete()
            self._uploaded.clear()

    def _new_shard(self, kind: str):
        name = f"{kind}-{len(self._shards[kind]):05d}"
        self._shards[kind].append(name)
        return open(self._staging / name, "w", encoding="utf-8")

    def _close_shard(self, kind: str) -> None:
        handle, _ = self._open.pop(kind)
        handle.close()
        name = self._shards[kind][-1]
        if self.target.scheme == "file":
            shutil.move(self._staging / name, self._local / name)
        else:
            blob = storage_client().bucket(self.target.bucket).blob(self._staged_object(name))
            blob.upload_from_filename(str(self._staging / name), content_type="application/jsonl")
            self._uploaded.append(blob.name)
            os.remove(self._staging / name)

    def _final_names(self) -> dict[str, str]:
        return {
            name: shard_name(kind, index, len(names))
            for kind, names in self._shards.items()
            for index, name in enumerate(names)
        }

    def _commit_local(self) -> None:
        for staged, final in self._final_names().items():
            os.replace(self._local / staged, self._local / final)
        os.replace(self._local, self._local.parent / self.directory)

    def _commit_gcs(self) -> None:
        bucket = storage_client().bucket(self.target.bucket)
        prefix = self._prefix(self.directory)
        for staged, final in self._final_names().items():
            blob = bucket.blob(self._staged_object(staged))
            bucket.copy_blob(blob, bucket, f"{prefix}/{final}")
            self._uploaded.append(f"{prefix}/{final}")  # abort() removes a half-done commit
            blob.delete()

    def _staged_object(self, name: str) -> str:
        return f"{self._prefix(self._incoming)}/{name}"

    def _prefix(self, folder: str) -> str:
        return f"{self.target.prefix}/{folder}" if self.target.prefix else folder
