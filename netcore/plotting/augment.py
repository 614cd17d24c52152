"""One image and eight augmented versions of it: what the augmentation layers or an
``ImageDataGenerator`` feed the network."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..layers.augment import AUGMENTATION_LAYERS
from ..models import Sequential
from ..preprocessing.image_generator import ImageDataGenerator
from ._base import finish, new_figure


def _augment_with_layers(image: np.ndarray, layers: Sequence[Any], n: int, seed: int) -> Any:
    """``n`` training-mode passes of ``image`` through fresh copies of ``layers`` (from their
    configs: the user's layers, perhaps inside a trained model, are not rebuilt)."""
    for layer in layers:
        if not isinstance(layer, AUGMENTATION_LAYERS):
            names = [c.__name__ for c in AUGMENTATION_LAYERS]
            raise ValueError(
                f"augment must be an ImageDataGenerator or augmentation layers ({names}). "
                f"Received: {layer!r}"
            )
    copies = []
    for layer in layers:
        cfg = {
            k: v
            for k, v in layer.get_config().items()
            if k not in ("name", "input_shape", "trainable")
        }
        copies.append(type(layer)(**cfg))
    model = Sequential(copies, backend="cpu", seed=seed)
    model.build(image.shape)
    x = np.repeat(image[None].astype(np.float32), n, axis=0)
    for layer in copies:
        x = layer.forward(x, training=True)
    return np.asarray(x)


def plot_augmented(
    image: Any,
    augment: Any,
    path: str | os.PathLike[str] | None = None,
    n: int = 8,
    seed: int = 0,
    title: str | None = None,
) -> Any:
    """Draw ``image`` and ``n`` augmented versions of it in a 3 x 3 grid (``n = 8``).

    Args:
        image: one image, ``(height, width)`` or ``(height, width, channels)``.
        augment: an :class:`~netcore.preprocessing.image.ImageDataGenerator`, an augmentation
            layer (``RandomRotation`` ...) or a list of them (applied in order).
        path: the PNG to write; default: none, the ``Figure`` is returned.
        n: how many augmented versions (1 to 15).
        seed: seeds the random transforms (the same picture each time).
        title: the figure title; default "One image and n augmented versions".

    Returns:
        ``path`` as a :class:`~pathlib.Path`, or the ``Figure`` when no ``path`` is given.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or not np.issubdtype(img.dtype, np.number):
        raise ValueError(
            "image must be one numeric image, (height, width) or (height, width, channels). "
            f"Received: shape {np.asarray(image).shape}"
        )
    if not (isinstance(n, int) and 1 <= n <= 15):
        raise ValueError(f"n must be an integer in [1, 15]. Received: n={n!r}")
    if isinstance(augment, ImageDataGenerator):
        batch = np.repeat(img[None].astype(np.float32), n, axis=0)
        out = augment.apply(
            batch, augment.random_transforms(batch.shape, np.random.default_rng(seed))
        )
    else:
        layers = list(augment) if isinstance(augment, (list, tuple)) else [augment]
        out = _augment_with_layers(img, layers, n, seed)
    cols = 3 if n <= 8 else 4
    rows = -(-(n + 1) // cols)
    fig = new_figure(1.9 * cols, 2.0 * rows + 0.3)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    lo, hi = float(img.min()), float(img.max())
    for k, ax in enumerate(axes):
        ax.axis("off")
        if k > n:
            continue
        pic = img if k == 0 else out[k - 1]
        show = pic[..., 0] if pic.shape[-1] == 1 else np.clip((pic - lo) / (hi - lo or 1), 0, 1)
        ax.imshow(show, cmap="gray" if pic.shape[-1] == 1 else None, vmin=lo, vmax=hi)
        ax.set_title("original" if k == 0 else f"augmented {k}", fontsize=9)
    fig.suptitle(title or f"One image and {n} augmented versions")
    return finish(fig, path)


__all__ = ["plot_augmented"]
