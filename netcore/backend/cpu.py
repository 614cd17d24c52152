"""The CPU backend: NumPy arrays, OpenBLAS matrix products, numba.njit fused kernels where they pay.

The fused ops (``CPUBackend.fused_ops``: bias + activation forward and backward, the two
loss heads, the four optimizer updates) each make one pass where NumPy makes a chain of
temporaries; everything else (matmul, softmax, dropout, ...) stays NumPy/OpenBLAS, where
there is nothing to fuse. Measurements: benchmarks/results/kernel_notes.md.

Every kernel is serial (see ``NJIT_OPTS`` in :mod:`netcore.kernels._common`), so the
kernels are bit-deterministic with no care about reduction order (column sums for ``db``
and the loss sums add in row order); with OpenBLAS's matrix products, a seeded run repeats
bit for bit on one machine with one BLAS thread count (docs/backends.md).

Compile time: the kernels are compiled for explicit float32/float64 signatures when the
first CPU backend of the process is created (:func:`netcore.kernels.cpu_kernels`), with
``cache=True``: the first run on a machine compiles and writes numba's cache beside the
modules; later processes load it. Never inside a training step.
Set ``NETCORE_CPU_KERNELS=0`` (or pass ``fused=False``) for the pure NumPy reference.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..kernels import SPECS
from ..kernels._common import ACT_CODES
from ..kernels.optimizers import CHECK, WRITE
from .base import Backend
from .conv_fused import ConvKernels
from .fused import weights_or_placeholder

_NO_LABELS = np.zeros(1, np.int64)  # placeholder label array for dense targets


class CPUBackend(ConvKernels):
    """NumPy on the host. Fused CPU kernels (``netcore.kernels``) override ops here."""

    name = "cpu"
    host_arrays = True
    host_reads_are_cheap = True

    def __init__(self, seed: int | None = None, fused: bool | None = None) -> None:
        super().__init__(np, seed)
        if fused is None:
            fused = os.environ.get("NETCORE_CPU_KERNELS", "1") not in ("0", "")
        self._kernels: dict[str, Any] | None = None
        if fused:
            from ..kernels import cpu_kernels

            self._kernels = cpu_kernels()  # compiles / loads from cache now, not in step 1
        else:
            self.fused_ops = ()
        self._flag_scratch = np.zeros(1, np.int32)
        #: False only to measure what the never-NaN check costs (benchmarks/nonfinite_check.py):
        #: the optimizer updates then write without checking.
        self._check_updates = True
        self._dummy = {np.dtype(t): np.zeros(1, t) for t in (np.float32, np.float64)}
        self._scalars: dict[tuple[str, str], list[Any]] = {}

    def describe(self) -> str:
        kind = "numba.njit fused kernels" if self._kernels is not None else "NumPy reference ops"
        return f"cpu (NumPy {np.__version__}, {kind})"

    def to_numpy(self, x: Any) -> Any:
        return np.asarray(x)

    # ------------------------------------------------------------------ conv, pool, batch norm
    def _conv_kernels_on(self) -> bool:
        return self._kernels is not None

    def _launch(self, name: str, units: int, *args: Any) -> None:
        assert self._kernels is not None  # _conv_kernels_on() said so
        self._kernels[name](*args)

    # ------------------------------------------------------------------ activations
    def bias_act(self, z: Any, b: Any, activation: str, out: Any = None) -> Any:
        code = ACT_CODES.get(activation)
        if self._kernels is None or code is None or getattr(z, "ndim", 0) != 2:
            return super().bias_act(z, b, activation, out=out)
        dst = out if out is not None else (z if b is None else np.empty_like(z))
        arrays = (z, dst) if b is None else (z, dst, b)
        if (
            not self._fusable(*arrays)
            or dst.shape != z.shape
            or (b is not None and b.shape != (z.shape[1],))
        ):
            return super().bias_act(z, b, activation, out=out)
        self._kernels["bias_act_fwd"](z, z[0] if b is None else b, dst, code, int(b is not None))
        return dst

    def bias_act_grad(
        self,
        dy: Any,
        y: Any,
        activation: str,
        dz_out: Any = None,
        db_out: Any = None,
        need_db: bool = True,
    ) -> tuple[Any, Any]:
        code = ACT_CODES.get(activation)
        if self._kernels is None or code is None or getattr(dy, "ndim", 0) != 2:
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        dz = dz_out if dz_out is not None else (dy if code == 0 else np.empty_like(dy))
        db = (
            (db_out if db_out is not None else np.empty(dy.shape[1], dy.dtype)) if need_db else None
        )
        arrays = (dy, y, dz) if db is None else (dy, y, dz, db)
        if (
            not self._fusable(*arrays)
            or y.shape != dy.shape
            or dz.shape != dy.shape
            or (db is not None and db.shape != (dy.shape[1],))
        ):
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        self._kernels["bias_act_bwd"](dy, y, dz, dz[0] if db is None else db, code, int(need_db))
        return dz, db

    # ------------------------------------------------------------------ fused heads
    def softmax_xent(
        self, logits: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        z = logits
        if (
            self._kernels is None
            or getattr(z, "ndim", 0) != 2
            or not hasattr(target, "ndim")
            or z.size == 0
        ):
            return super().softmax_xent(logits, target, grad_out, sample_weight)
        grad = grad_out if grad_out is not None else np.empty_like(z)
        sparse = target.ndim == 1
        if sparse:
            if target.dtype.kind not in "iu" or target.shape != (z.shape[0],):
                return super().softmax_xent(logits, target, grad_out, sample_weight)
            labels = target if target.dtype in (np.int32, np.int64) else target.astype(np.int64)
            if not (labels.flags.c_contiguous and labels.flags.writeable):
                labels = labels.copy()  # (N,) integers: a copy is cheap
            t = z  # unused placeholder of the right type
        else:
            labels, t = _NO_LABELS, target
        wh = weights_or_placeholder(self, sample_weight, z.shape[0], z, self._dummy.get(z.dtype))
        if (
            wh is None
            or not self._fusable(z, grad, t, wh[0])
            or grad.shape != z.shape
            or t.shape != z.shape
        ):
            return super().softmax_xent(logits, target, grad_out, sample_weight)
        loss = np.empty((), z.dtype)
        self._kernels["softmax_xent"](
            z, t, labels, int(sparse), wh[0], wh[1], grad, loss.reshape(1)
        )
        return loss, grad

    def sigmoid_bce(
        self, logits: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        z = logits
        if (
            self._kernels is None
            or getattr(z, "ndim", 0) == 0
            or z.size == 0
            or getattr(target, "shape", None) != z.shape
        ):
            return super().sigmoid_bce(logits, target, grad_out, sample_weight)
        grad = grad_out if grad_out is not None else np.empty_like(z)
        wh = weights_or_placeholder(self, sample_weight, z.shape[0], z, self._dummy.get(z.dtype))
        if wh is None or not self._fusable(z, target, grad, wh[0]) or grad.shape != z.shape:
            return super().sigmoid_bce(logits, target, grad_out, sample_weight)
        loss = np.empty((), z.dtype)
        self._kernels["sigmoid_bce"](
            z.reshape(-1),
            target.reshape(-1),
            wh[0],
            wh[1],
            grad.reshape(-1),
            loss.reshape(1),
            z.size // z.shape[0],
        )
        return loss, grad

    # ------------------------------------------------------------------ optimizer updates
    def _flat(self, *arrays: Any) -> tuple[Any, ...] | None:
        return None if self._kernels is None else super()._flat(*arrays)

    def _update(self, name: str, skip: Any, p: Any, *args: Any) -> None:
        # The flag is read and written by the kernel; a flag the kernel cannot take as is
        # (another integer type, absent) goes through a scratch copy.
        direct = (
            isinstance(skip, np.ndarray)
            and skip.dtype == np.int32
            and skip.ndim == 1
            and skip.flags.c_contiguous
            and skip.flags.writeable
        )
        flag = skip if direct else self._flag_scratch
        if not direct:
            flag[0] = 0 if skip is None else int(np.asarray(skip).reshape(-1)[0])
        conv = self._scalar_types(name, p.dtype)
        # ``args``: the kernel's other arrays, then its scalars but ``passes`` (conv's last)
        split = len(args) - (len(conv) - 1)
        scalars = [t(v) for t, v in zip(conv, args[split:])]
        kernels = self._kernels
        assert kernels is not None  # _flat returned None without kernels: no call here
        kernels[name](
            flag, p, *args[:split], *scalars, CHECK | WRITE if self._check_updates else WRITE
        )
        if not direct and skip is not None and flag[0] != 0:
            skip[...] = flag[0]

    def _scalar_types(self, name: str, dtype: np.dtype) -> list[Any]:
        """The NumPy types of kernel ``name``'s scalar parameters (its spec's order)."""
        key = (name, dtype.name)
        conv = self._scalars.get(key)
        if conv is None:
            conv = self._scalars[key] = [
                dt.type for dt, nd in SPECS[name].params_for("cpu", (dtype.name,)) if nd == 0
            ]
        return conv


__all__ = ["CPUBackend", "Backend"]
