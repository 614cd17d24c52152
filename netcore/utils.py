"""Data preparation helpers (Keras names)."""
from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(y: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer labels: ``(N,)`` -> float32 ``(N, num_classes)``.

    ``num_classes`` defaults to ``max(y) + 1``. Labels must be integers in
    ``[0, num_classes)``; anything else raises ``ValueError`` naming the bad value.
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
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes <= 0:
        raise ValueError(f"num_classes must be a positive integer, received {num_classes!r}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= num_classes:
        bad = lo if lo < 0 else hi
        raise ValueError(f"labels must be in [0, {num_classes}), received {bad}")
    out = np.zeros((arr.size, int(num_classes)), dtype=np.float32)
    out[np.arange(arr.size), arr] = 1.0
    return out
