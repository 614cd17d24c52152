"""Data preparation helpers (Keras names)."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(y: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer labels: ``(N,)`` -> float32 ``(N, num_classes)``.

    ``num_classes`` defaults to ``max(y) + 1``. Labels must be integers in
    ``[0, num_classes)``; anything else raises ``ValueError`` naming the bad value (for
    Sign-Language-MNIST, whose labels reach 24, ``num_classes`` is
    ``sign_mnist.num_classes``, 25).
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"y must be a 1-D array of integer labels, received shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("y must not be empty")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))][0]
            raise ValueError(f"y must hold integer labels, received {float(bad)!r}")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer labels, received dtype {arr.dtype}")
    if num_classes is None:
        num_classes = int(arr.max()) + 1
    elif (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes <= 0
    ):
        raise ValueError(f"num_classes must be a positive integer, received {num_classes!r}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0:
        raise ValueError(f"labels must be in [0, {num_classes}), received {lo}")
    if hi >= num_classes:
        raise ValueError(
            f"labels must be in [0, {num_classes}), received {hi}; "
            f"num_classes must be at least max(y) + 1 = {hi + 1}"
            + _sign_language_hint(arr, int(num_classes), hi)
        )
    out = np.zeros((arr.size, int(num_classes)), dtype=np.float32)
    out[np.arange(arr.size), arr] = 1.0
    return out


def _sign_language_hint(labels: np.ndarray, num_classes: int, top: int) -> str:
    """Sign-Language-MNIST labels run to 24 with 9 (J) absent, so counting the 24 letters that
    occur gives num_classes=24, one short: point to the data set's own constant."""
    if num_classes != 24 or top != 24 or bool(np.any(labels == 9)):
        return ""
    return (
        ". These look like Sign-Language-MNIST labels (letters A-Y as 0-24; J = 9 never "
        "occurs but keeps its slot): use num_classes=sign_mnist.num_classes (25)"
    )


class PyDataset:
    """Batches by index, as Keras 3's ``keras.utils.PyDataset`` (``Sequence`` is its alias).

    Subclass it and define ``__len__`` (batches per pass) and ``__getitem__(index)`` returning
    one batch, ``(x, y)`` or ``(x, y, sample_weight)`` (``x`` alone for ``predict``);
    ``on_epoch_end()`` runs after each full pass (reshuffle there). ``fit``, ``evaluate`` and
    ``predict`` read the batches in index order, ``0 .. len - 1``.

    Keras' ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted and
    ignored: batches are read in the training thread, one at a time.
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (batches per pass)")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def on_epoch_end(self) -> None:
        """Called after each full pass over the batches; does nothing unless overridden."""


#: Keras 2's name for :class:`PyDataset`.
Sequence = PyDataset
