"""Benchmark 1: images/s of the tf.data input pipeline vs a naive Python loop.

All loaders read the same files and produce float batches of the same size:
trainer.vision.dataset.make_dataset (cache off, so decoding is measured), the
peer a user would reach for (tf.keras.utils.image_dataset_from_directory), and
two naive sequential loops (the library's decode_image called eagerly per file;
Pillow + numpy), batched with numpy.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from tests.bench.data import class_folder_files, write_png_and_jpeg
from tests.bench.interleaved import interleaved_rounds
from tests.bench.report import Result

NAME = "input_pipeline"
TITLE = "1. Input pipeline throughput"
TARGET = ">= 4x the naive loop"
IMAGE_SIZE = 64
BATCH_SIZE = 32
UPSCALE = 16  # 8x8 digits -> 128x128 files
PRIMARY = "tf.data make_dataset (training=False)"
EAGER = "naive loop: decode_image eagerly, numpy batch"


def run(workdir: Path, quick: bool = False) -> Result:
    import tensorflow as tf

    from trainer.vision.dataset import decode_image, make_dataset

    digits = (0, 1) if quick else tuple(range(10))
    epochs = 1 if quick else 5
    print(f"[{NAME}] writing digits {digits} as {8 * UPSCALE}px PNG + JPEG", flush=True)
    folders = write_png_and_jpeg(workdir / "images", digits, UPSCALE)

    def naive_tf(paths: list[str], labels: list[int]) -> Iterable:
        for start in range(0, len(paths), BATCH_SIZE):
            chunk = range(start, min(start + BATCH_SIZE, len(paths)))
            images = [decode_image(tf.io.read_file(paths[i]), IMAGE_SIZE).numpy() for i in chunk]
            yield np.stack(images), np.array([labels[i] for i in chunk], np.int32)

    def naive_pil(paths: list[str], labels: list[int]) -> Iterable:
        from PIL import Image

        for start in range(0, len(paths), BATCH_SIZE):
            chunk = range(start, min(start + BATCH_SIZE, len(paths)))
            images = []
            for i in chunk:
                with Image.open(paths[i]) as image:
                    rgb = image.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
                images.append(np.asarray(rgb, np.float32) / 255.0)
            yield np.stack(images), np.array([labels[i] for i in chunk], np.int32)

    rows, ratios, eager_ratios, notes = [], {}, {}, []
    for fmt, folder in folders.items():
        paths, labels = class_folder_files(folder)
        count = len(paths)
        loaders: dict[str, Callable[[], Iterable]] = {}
        eval_ds = make_dataset(paths, labels, IMAGE_SIZE, BATCH_SIZE, training=False, cache=False)
        loaders[PRIMARY] = lambda ds=eval_ds: ds
        train_ds = make_dataset(
            paths, labels, IMAGE_SIZE, BATCH_SIZE, training=True, augmentation=None, cache=False
        )
        loaders["tf.data make_dataset (training=True, no augmentation)"] = lambda ds=train_ds: ds
        peer = tf.keras.utils.image_dataset_from_directory(
            str(folder),
            image_size=(IMAGE_SIZE, IMAGE_SIZE),
            batch_size=BATCH_SIZE,
            shuffle=False,
        )
        loaders["peer: image_dataset_from_directory"] = lambda ds=peer: ds
        loaders[EAGER] = lambda p=paths, lab=labels: naive_tf(p, lab)
        loaders["naive loop: Pillow + numpy"] = lambda p=paths, lab=labels: naive_pil(p, lab)

        for label, make in loaders.items():  # warm-up pass; checks every loader sees all files
            seen = sum(len(y) for _, y in make())
            if seen != count:
                raise RuntimeError(f"{label} yielded {seen} images, expected {count}")
        walls, cpus = interleaved_rounds(
            loaders, epochs, count, f"[{NAME}] {fmt} epoch", "images/s"
        )
        rates = {k: count / statistics.median(v) for k, v in walls.items()}
        fastest_naive = max(v for k, v in rates.items() if k.startswith("naive"))
        ratios[fmt] = rates[PRIMARY] / fastest_naive
        eager_ratios[fmt] = rates[PRIMARY] / rates[EAGER]
        for label, rate in rates.items():
            rows.append(
                [
                    fmt,
                    str(count),
                    label,
                    f"{rate:.0f}",
                    f"{count / min(walls[label]):.0f}",
                    f"{sum(cpus[label]) / sum(walls[label]):.2f}",
                    f"{count * epochs / sum(cpus[label]):.0f}",
                    f"{rate / fastest_naive:.2f}x",
                ]
            )

    headline = (
        "make_dataset vs fastest naive loop: "
        + ", ".join(f"{fmt} {r:.1f}x" for fmt, r in ratios.items())
        + " (vs the eager decode_image loop: "
        + ", ".join(f"{fmt} {r:.1f}x" for fmt, r in eager_ratios.items())
        + ")"
    )
    notes.append(
        f"Files are {8 * UPSCALE}x{8 * UPSCALE} px (the scikit-learn digits 0-9 scaled up; PNG "
        "grey as the demo writes them, JPEG as RGB quality 90), resized to "
        f"{IMAGE_SIZE}x{IMAGE_SIZE}, batches of {BATCH_SIZE}."
    )
    notes.append(
        "The target is judged against the faster of the two naive loops, per format, for "
        "make_dataset(training=False); the last column divides by that same loop's rate."
    )
    notes.append(
        "With 2 cores, running in parallel can give at most 2x over a sequential loop ('CPU "
        "cores busy'); the rest of a gain is less work per image ('images per CPU-s': the "
        "eager loop pays Python and eager-op dispatch for each of its ops on every image)."
    )
    return Result(
        name=NAME,
        title=TITLE,
        method=(
            "Each loader iterates over every file once as warm-up, then "
            f"{epochs} timed epochs in which the loaders take turns (so load from other processes "
            "falls on all of them alike). make_dataset runs with cache=False, so every epoch "
            "decodes, resizes and batches again. 'CPU cores busy' is this process's CPU time "
            "divided by wall time over the timed epochs."
        ),
        columns=[
            "format",
            "files",
            "loader",
            "images/s (median epoch)",
            "images/s (best epoch)",
            "CPU cores busy",
            "images per CPU-s",
            "vs fastest naive (median)",
        ],
        rows=rows,
        headline=headline,
        target=TARGET,
        met=all(r >= 4 for r in ratios.values()),
        notes=notes,
    )
