"""Grids of images: a data set's samples with their labels, a model's predictions with its
mistakes marked."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import finish, new_figure


def _host(a: Any) -> np.ndarray:
    """A NumPy copy of a NumPy or CuPy array (CuPy arrays have ``.get()``)."""
    return np.asarray(a.get() if hasattr(a, "__cuda_array_interface__") else a)


def _as_images(x: Any) -> np.ndarray:
    """``(n, height, width)`` or ``(n, height, width, 3|4)`` images from image batches or from
    flattened square images ``(n, side * side)``."""
    imgs = _host(x)
    if not (np.issubdtype(imgs.dtype, np.number) or imgs.dtype == bool):
        raise ValueError(
            f"x must be a batch of images with numeric pixels, received an array "
            f"of dtype {imgs.dtype}"
        )
    if len(imgs) == 0:
        raise ValueError("x must hold at least one image, received an empty batch")
    if imgs.ndim == 2 and imgs.shape[1] > 0:
        side = int(round(np.sqrt(imgs.shape[1])))
        if side * side == imgs.shape[1]:
            return imgs.reshape(len(imgs), side, side)
    if imgs.ndim == 4 and imgs.shape[-1] == 1:
        return imgs[..., 0]
    if imgs.ndim == 3 or (imgs.ndim == 4 and imgs.shape[-1] in (3, 4)):
        return imgs
    raise ValueError(
        "x must be a batch of images, (n, height, width), (n, height, width, "
        "channels) or flattened square images (n, side * side), received an array "
        f"of shape {imgs.shape}"
    )


def _as_labels(y: Any, n: int, name: str) -> np.ndarray:
    """Integer labels from labels ``(n,)``, one-hot rows or class probabilities ``(n, k)``
    (the arg-max), or one sigmoid probability per sample ``(n, 1)`` (1 where >= 0.5)."""
    arr = _host(y)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"{name} must be integer labels or rows of class scores, received an "
            f"array of dtype {arr.dtype}"
        )
    if arr.ndim == 2 and arr.shape[1] == 1:
        col = arr[:, 0]
        arr = col if np.all(np.mod(col, 1) == 0) else (col >= 0.5).astype(int)
    elif arr.ndim == 2:
        arr = arr.argmax(axis=1)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(
            f"{name} must hold one label (or one row of class scores) per image: "
            f"{n} labels, received an array of shape {_host(y).shape}"
        )
    if not np.all(np.mod(arr, 1) == 0):
        raise ValueError(f"{name} must be integer labels, received values such as {arr[0]!r}")
    return arr.astype(np.int64)


def _label_text(label: int, class_names: Sequence[str] | None) -> str:
    if class_names is None:
        return str(label)
    if not 0 <= label < len(class_names):
        raise ValueError(
            f"class_names must name every label: it has {len(class_names)} names, "
            f"received label {label}"
        )
    return str(class_names[label])


def _check_count(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, received {n!r}")
    return int(n)


def _image_grid(images: np.ndarray, captions: list[str], wrong: list[bool], title: str) -> Any:
    """A near-square grid of images with a caption under each; ``wrong`` ones framed in red."""
    count = len(images)
    cols = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    fig = new_figure(max(1.45 * cols, 4.0), 1.6 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    # One grey scale for the whole grid, so a faint image looks faint (NaN pixels left out).
    finite = images[np.isfinite(images)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= count:
            ax.set_axis_off()
            continue
        ax.imshow(images[i], cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
        ax.set_xlabel(captions[i], fontsize=8, color="red" if wrong[i] else "black")
        for spine in ax.spines.values():
            spine.set_color("red" if wrong[i] else "lightgrey")
            spine.set_linewidth(2.5 if wrong[i] else 0.5)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_samples(
    x: Any,
    y: Any,
    path: str | os.PathLike[str] | None = None,
    class_names: Sequence[str] | None = None,
    n: int = 25,
    title: str | None = None,
) -> Any:
    """Draw the first ``n`` images of a data set in a grid, each with its label under it.

    Args:
        x: images, ``(N, height, width)``, ``(N, height, width, channels)``, or flattened
            square images ``(N, side * side)`` such as MNIST's 784 features.
        y: their labels: integers ``(N,)``, or one-hot rows ``(N, k)`` (``to_categorical``).
        path: the PNG to write (folders are created); default: none, the ``Figure``
            is returned (a notebook shows it inline).
        class_names: the name of each label (``class_names[label]``), e.g. the letters of
            Sign-Language-MNIST; default: the label number.
        n: how many images to show (all of them when there are fewer).
        title: the figure title; default "The first n of N images, with their labels".

    Returns:
        ``path`` as a :class:`~pathlib.Path`, or the ``Figure`` when no ``path`` is given.

    Raises:
        ValueError: ``x`` is not a batch of images, ``y`` does not hold one label per image,
            ``n`` is not a positive integer, or ``class_names`` lacks a label.
        PlottingUnavailableError: matplotlib is not installed.
    """
    count = _check_count(n)
    images = _as_images(x)
    labels = _as_labels(y, len(images), "y")
    count = min(count, len(images))
    captions = [_label_text(int(v), class_names) for v in labels[:count]]
    title = title or f"The first {count} of {len(images):,} images, with their labels"
    return finish(_image_grid(images[:count], captions, [False] * count, title), path)


def plot_predictions(
    x: Any,
    y_true: Any,
    y_pred: Any,
    path: str | os.PathLike[str] | None = None,
    class_names: Sequence[str] | None = None,
    n: int = 25,
    title: str | None = None,
) -> Any:
    """Draw the first ``n`` images with the predicted label under each; a mistake is framed
    and captioned in red with the true label beside the prediction (``"7 (true 2)"``).

    Args:
        x: images, as for :func:`plot_samples`.
        y_true: the true labels, integers ``(N,)`` or one-hot rows ``(N, k)``.
        y_pred: the predictions: labels ``(N,)`` or what ``model.predict`` returns, class
            probabilities ``(N, k)`` (the arg-max is the predicted label) or one sigmoid
            probability per image ``(N, 1)`` (label 1 where it is >= 0.5).
        path: the PNG to write (folders are created); default: none, the ``Figure``
            is returned (a notebook shows it inline).
        class_names: the name of each label; default: the label number.
        n: how many images to show.
        title: the figure title; default: how many of the shown predictions are wrong.

    Returns:
        ``path`` as a :class:`~pathlib.Path`, or the ``Figure`` when no ``path`` is given.

    Raises:
        ValueError: as :func:`plot_samples`, for ``y_true`` and ``y_pred`` alike.
        PlottingUnavailableError: matplotlib is not installed.
    """
    count = _check_count(n)
    images = _as_images(x)
    truth = _as_labels(y_true, len(images), "y_true")
    pred = _as_labels(y_pred, len(images), "y_pred")
    count = min(count, len(images))
    wrong = [bool(t != p) for t, p in zip(truth[:count], pred[:count])]
    captions = [
        _label_text(int(p), class_names)
        + (f" (true {_label_text(int(t), class_names)})" if bad else "")
        for t, p, bad in zip(truth[:count], pred[:count], wrong)
    ]
    title = title or (
        f"Predicted labels of {count} images: {sum(wrong)} wrong, "
        "framed in red with the true label in brackets"
    )
    return finish(_image_grid(images[:count], captions, wrong, title), path)
