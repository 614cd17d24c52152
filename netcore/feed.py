"""Batches for the training loop: data moves to the device once per call when it fits.

When a data set would take more than half of the device's free memory it stays on the host
and each batch is moved on its own (slower, but it runs). On the CPU there is no move at all.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .backend.base import Backend


class DataFeed:
    """``x`` (and optionally ``y``) validated and cast; ``batch(...)`` yields device arrays."""

    def __init__(self, be: Backend, x: Any, y: Any, x_dtype: Any, y_dtype: Any) -> None:
        self.be = be
        self.n = int(x.shape[0])
        nbytes = self.n * (np.prod(x.shape[1:]) * np.dtype(x_dtype).itemsize
                           + (np.prod(y.shape[1:]) * np.dtype(y_dtype).itemsize if y is not None else 0))
        self.on_device = be.fits_on_device(int(nbytes))
        self.x = self._place(x, x_dtype)
        self.y = self._place(y, y_dtype) if y is not None else None
        self._bufs: dict[tuple, Any] = {}

    def _place(self, a: Any, dtype: Any) -> Any:
        if self.on_device:
            d = self.be.asarray(a)  # one move; the cast runs on the device (uint8 travels 4x smaller)
            return d if d.dtype == dtype else d.astype(dtype)
        host = self.be.to_numpy(a) if hasattr(a, "__cuda_array_interface__") else np.asarray(a)
        return host if host.dtype == dtype else host.astype(dtype)

    def check_finite(self, name_x: str, check_y: bool) -> None:
        for arr, name in ((self.x, name_x), (self.y if check_y else None, "y")):
            if arr is None or arr.dtype.kind != "f":
                continue
            xp = self.be.xp if self.on_device else np
            if not bool(xp.isfinite(arr).all()):
                raise ValueError(f"{name} holds NaN or inf values; clean or impute them before training")

    def order(self, perm: np.ndarray | None) -> Any:
        """The epoch's shuffle order where the gather runs (one move per epoch)."""
        if perm is None:
            return None
        return self.be.asarray(perm) if self.on_device else perm

    def batch(self, s: int, e: int, order: Any = None) -> tuple[Any, Any]:
        """Rows ``s:e`` (of ``order`` when shuffling) as device arrays."""
        if order is None:
            xb, yb = self.x[s:e], (self.y[s:e] if self.y is not None else None)
        else:
            idx = order[s:e]
            xb = self._take(self.x, idx, "x")
            yb = self._take(self.y, idx, "y") if self.y is not None else None
        if not self.on_device:
            xb = self.be.asarray(xb)
            yb = self.be.asarray(yb) if yb is not None else None
        return xb, yb

    def _take(self, a: Any, idx: Any, tag: str) -> Any:
        # A reused gather buffer per (array, batch length): no per-step allocation.
        key = (tag, len(idx))
        buf = self._bufs.get(key)
        if buf is None:
            xp = self.be.xp if self.on_device else np
            buf = self._bufs[key] = xp.empty((len(idx), *a.shape[1:]), dtype=a.dtype)
        xp = self.be.xp if self.on_device else np
        return xp.take(a, idx, axis=0, out=buf)
