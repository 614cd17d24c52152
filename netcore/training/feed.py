"""Batches for the training loop: data moves to the device once per call when it fits.

When a data set would take more than half of the device's free memory it stays on the host
and each batch is moved on its own (slower, but it runs). On the CPU there is no move at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend.base import Backend
from ..validation import to_host


class DataFeed:
    """``x`` (and optionally ``y`` and per-sample weights ``w`` (N,)) validated and cast;
    ``batch(...)`` yields device arrays, ``weights(...)`` the matching rows of ``w``."""

    def __init__(
        self, be: Backend, x: Any, y: Any, x_dtype: Any, y_dtype: Any, w: Any = None
    ) -> None:
        self.be = be
        self.n = int(x.shape[0])
        nbytes = self.n * (
            np.prod(x.shape[1:]) * np.dtype(x_dtype).itemsize
            + (np.prod(y.shape[1:]) * np.dtype(y_dtype).itemsize if y is not None else 0)
            + (np.dtype(x_dtype).itemsize if w is not None else 0)
        )
        self.on_device = be.fits_on_device(int(nbytes))
        self.x = self._place(x, x_dtype)
        self.y = self._place(y, y_dtype) if y is not None else None
        # The weights live with the data (on the device when it does) and are gathered with
        # the same order: no per-step host->device copy.
        self.w = self._place(w, x_dtype) if w is not None else None
        self._bufs: dict[tuple, Any] = {}
        #: the arrays as given, until check_finite has run (to tell NaN/inf from an overflow)
        self._given: tuple[Any, Any] | None = (x, y)

    def _place(self, a: Any, dtype: Any) -> Any:
        if self.on_device:
            d = self.be.asarray(
                a
            )  # one move; the cast runs on the device (uint8 travels 4x smaller)
            xp = self.be.xp
        else:
            d = self.be.to_numpy(a) if hasattr(a, "__cuda_array_interface__") else np.asarray(a)
            xp = np
        if d.dtype == dtype and d.flags.c_contiguous:
            return d
        # One C-ordered copy in the model dtype: batches are gathered by rows, and gathering
        # rows of a Fortran-ordered or strided array is several times slower. A value beyond
        # the dtype's range becomes inf here; check_finite then refuses it by name.
        with np.errstate(over="ignore", invalid="ignore"):
            return xp.ascontiguousarray(d, dtype=dtype)

    def check_finite(self, name_x: str, check_y: bool) -> None:
        """Refuse NaN/inf in ``x`` (and ``y`` when ``check_y``); keep ``x``'s value range.

        ``x.min()`` and ``x.max()`` are NaN/inf exactly when ``x`` holds a NaN or an inf, so
        two reductions give both the check and the range (``x_range``)."""
        xp = self.be.xp if self.on_device else np
        given, self._given = self._given, None
        lo, hi = float(self.x.min()), float(self.x.max())  # a host read each (once per call)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(_nonfinite_message(name_x, given[0] if given else None, self.x.dtype))
        self.x_range = (lo, hi)
        y = self.y if check_y else None
        if y is not None and y.dtype.kind == "f" and not bool(xp.isfinite(y).all()):
            raise ValueError(_nonfinite_message("y", given[1] if given else None, y.dtype))

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

    def weights(self, s: int, e: int, order: Any = None) -> Any:
        """Rows ``s:e`` (of ``order`` when shuffling) of the sample weights as a device array,
        or None without weights; the same rows as :meth:`batch` gives for the same arguments."""
        if self.w is None:
            return None
        wb = self.w[s:e] if order is None else self._take(self.w, order[s:e], "w")
        return wb if self.on_device else self.be.asarray(wb)

    def _take(self, a: Any, idx: Any, tag: str) -> Any:
        # A reused gather buffer per (array, batch length): no per-step allocation.
        key = (tag, len(idx))
        buf = self._bufs.get(key)
        if buf is None:
            if len(self._bufs) >= 16:  # many distinct batch lengths: don't hoard memory
                self._bufs.clear()
            xp = self.be.xp if self.on_device else np
            buf = self._bufs[key] = xp.empty((len(idx), *a.shape[1:]), dtype=a.dtype)
        xp = self.be.xp if self.on_device else np
        return xp.take(a, idx, axis=0, out=buf)


def _nonfinite_message(name: str, given: Any, dtype: Any) -> str:
    """Why ``name`` holds NaN/inf once cast to ``dtype``: in the data, or finite values beyond
    the dtype's range (a float64 1e39 in a float32 model)."""
    host = None if given is None else to_host(given)
    if host is not None and host.dtype.kind in "biuf" and bool(np.isfinite(host).all()):
        limit = np.finfo(dtype).max
        return (
            f"{name} holds values up to {float(np.abs(host).max()):g}, beyond the range of "
            f"the model's dtype {np.dtype(dtype).name} (largest {limit:g}): scale {name} "
            "down, or build the model with dtype='float64'"
        )
    return f"{name} holds NaN or inf values; clean or impute them before training"
