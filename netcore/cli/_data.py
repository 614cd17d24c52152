"""The images a training run uses: a seeded subset, a seeded split, the course's scaling.

``netcore train`` and ``netcore plot predictions`` both call these, so the plot shows the very
validation images the run held out.
"""

from __future__ import annotations

import numpy as np

from ._common import CLIError


def _split(
    x: np.ndarray,
    y: np.ndarray,
    fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Seeded shuffle, then the last ``fraction`` held out (shuffled first, unlike Keras'
    validation_split: the MNIST test set is ordered by writer group)."""
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    if fraction <= 0:
        return x, y, None, None
    k = int(round(len(x) * (1.0 - fraction)))
    if k <= 0 or k >= len(x):
        raise CLIError(
            f"--validation-split {fraction} leaves {k} of {len(x)} images for "
            "training; choose a split that leaves images on both sides"
        )
    return x[:k], y[:k], x[k:], y[k:]


def _limited(
    x: np.ndarray,
    y: np.ndarray,
    limit: int | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    if limit is None or limit >= len(x):
        return x, y
    # A seeded random subset, not the first N: keeps the classes balanced.
    idx = np.sort(np.random.default_rng(seed + 1).choice(len(x), size=limit, replace=False))
    return x[idx], y[idx]


def _prep(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    input_shape: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The course's preprocessing: pixels 0-255 -> 0-1 (reshaped to ``(N, *input_shape)``
    when given: the CNN's ``(28, 28, 1)``), labels -> one-hot rows."""
    from ..utils import to_categorical

    pixels = x.astype(np.float32) / np.float32(255.0)
    if input_shape is not None:
        pixels = pixels.reshape((len(x), *input_shape))
    return pixels, to_categorical(y, num_classes)
