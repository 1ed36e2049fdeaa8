"""Cloud Storage FUSE played by a directory: gs://<bucket>/<object> is <root>/<bucket>/<object>.

On Vertex AI steps read and write gs:// artifacts through the /gcs mount.
No mount is possible here, so steps use this directory instead (the step
environment points kfp's and the trainer's /gcs at it) and the emulator
syncs it with the storage emulator around every step: `pull` before (new
or changed objects come down), `push` after (new or changed files go up,
as gcsfuse uploads a file when it is closed). Deleting a file does not
delete its object, nor the reverse; steps here only add outputs.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serving.contracts.storage import storage_client

_THREADS = 8


class FuseView:
    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._objects: dict[str, int] = {}  # "bucket/object" -> generation pulled or pushed
        self._files: dict[str, tuple[int, int]] = {}  # "bucket/object" -> (size, mtime_ns)

    def pull(self) -> int:
        """Copy objects that are new or changed since the last sync into the directory."""
        client = storage_client()
        with self._lock:
            changed = [
                blob
                for bucket in client.list_buckets()
                for blob in client.list_blobs(bucket.name)
                if not blob.name.endswith("/")
                and self._objects.get(f"{bucket.name}/{blob.name}") != blob.generation
            ]

            def download(blob) -> None:
                key = f"{blob.bucket.name}/{blob.name}"
                path = self.root / key
                path.parent.mkdir(parents=True, exist_ok=True)
                blob.download_to_filename(str(path))
                self._remember(key, path, blob.generation)

            with ThreadPoolExecutor(_THREADS) as pool:
                list(pool.map(download, changed))
        return len(changed)

    def push(self) -> int:
        """Upload files that are new or changed since the last sync; creates missing buckets."""
        client = storage_client()
        with self._lock:
            if not self.root.is_dir():
                return 0
            changed = []
            for bucket_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
                bucket = client.bucket(bucket_dir.name)
                if not bucket.exists():
                    bucket = client.create_bucket(bucket_dir.name)
                for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file()):
                    try:
                        stat = path.stat()
                    except FileNotFoundError:  # removed since it was listed
                        continue
                    key = path.relative_to(self.root).as_posix()
                    if self._files.get(key) != (stat.st_size, stat.st_mtime_ns):
                        changed.append((bucket, bucket_dir, path))

            def upload(item) -> None:
                bucket, bucket_dir, path = item
                blob = bucket.blob(path.relative_to(bucket_dir).as_posix())
                try:
                    blob.upload_from_filename(str(path))
                    self._remember(path.relative_to(self.root).as_posix(), path, blob.generation)
                except FileNotFoundError:
                    # A running process (another trial, a replica writing its checkpoints)
                    # removed or renamed it since the listing: what replaced it goes next push.
                    return

            with ThreadPoolExecutor(_THREADS) as pool:
                list(pool.map(upload, changed))
        return len(changed)

    def _remember(self, key: str, path: Path, generation: int | None) -> None:
        stat = path.stat()
        self._files[key] = (stat.st_size, stat.st_mtime_ns)
        if generation is not None:
            self._objects[key] = generation
