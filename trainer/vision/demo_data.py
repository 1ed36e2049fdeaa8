"""Handwritten digits shipped with scikit-learn, written out as PNG class folders.

1,797 real 8x8 grey-scale scans (the UCI optical digits set). The pipeline's
case study uses digits 0-4; digits 5-9 are kept apart to pretrain the
offline base network, so transfer learning crosses to classes the base never saw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CASE_STUDY_DIGITS = (0, 1, 2, 3, 4)
PRETRAIN_DIGITS = (5, 6, 7, 8, 9)


def class_name(digit: int) -> str:
    return f"digit_{digit}"


def write_digit_folders(dest: str | Path, digits: tuple[int, ...], upscale: int = 4) -> int:
    """Write the chosen digits as PNGs under dest/<class>/; return the file count.

    Images are scaled up (nearest neighbour) so the files look like small scans
    rather than 8x8 thumbnails; their content is unchanged.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    dest = Path(dest)
    written = 0
    for index, (pixels, target) in enumerate(zip(data.images, data.target, strict=True)):
        if int(target) not in digits:
            continue
        folder = dest / class_name(int(target))
        folder.mkdir(parents=True, exist_ok=True)
        grey = np.clip(pixels * (255.0 / 16.0), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, mode="L").resize((8 * upscale, 8 * upscale), Image.NEAREST)
        image.save(folder / f"{index:04d}.png")
        written += 1
    return written
