"""Benchmark data: the demo digits written out as image class folders."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
REPO_BUILD = REPO / "build"


def write_png_and_jpeg(root: Path, digits: tuple[int, ...], upscale: int) -> dict[str, Path]:
    """root/png/<class>/*.png (grey, as the demo writes them) and RGB JPEG copies in root/jpeg."""
    from trainer.vision.demo_data import write_digit_folders

    png = root / "png"
    write_digit_folders(png, digits, upscale=upscale)
    jpeg = root / "jpeg"
    for file in sorted(png.rglob("*.png")):
        target = jpeg / file.parent.name / f"{file.stem}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(file) as image:
            image.convert("RGB").save(target, format="JPEG", quality=90)
    return {"PNG": png, "JPEG": jpeg}


def class_folder_files(root: Path) -> tuple[list[str], list[int]]:
    """Paths and integer labels (sorted class folders) of every file under root/<class>/."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for i, name in enumerate(classes):
        files = sorted(str(p) for p in (root / name).iterdir() if p.is_file())
        paths += files
        labels += [i] * len(files)
    return paths, labels


def pretrained_weights() -> Path:
    """The 64 px offline base `make run` uses (built once into build/pretrained if missing)."""
    from pipelines.vision.demo import pretrained_base

    return pretrained_base(REPO_BUILD).resolve()
