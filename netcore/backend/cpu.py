"""The CPU backend: NumPy arrays, OpenBLAS matrix products, numba.njit fused kernels where they pay.

Fused ops (``CPUBackend.fused_ops``) and what they measured against the NumPy reference
(median of 200 calls, float32, MNIST-sized: 512 hidden units, 10 classes; 2-core AMD EPYC
VM shared with other work, so +-20% noise):

==================================  ==============  ==============  ==============
op                                  NumPy           njit            batch
==================================  ==============  ==============  ==============
bias_act relu (512 wide)            8 / 27 us       1.5 / 4 us      32 / 128
bias_act_grad relu + db             7 / 21 us       2.5 / 6 us      32 / 128
softmax_xent (10 classes)           12 / 20 us      1.6 / 5 us      32 / 128
sigmoid_bce (1 output)              10 / 10 us      0.7 / 1.8 us    32 / 128
adam_update (669,706 params)        730-880 us      110-130 us      --
==================================  ==============  ==============  ==============

End to end (784-512-512-10 relu/softmax, Adam, 6016 random samples, ``fit`` one epoch):
1.43 vs 2.13 ms/step at batch 32 and 3.1 vs 3.7 ms/step at batch 128 (fused vs
``fused=False``), identical losses; the rest is OpenBLAS matmul time.

SGD, RMSprop and Adagrad use the same element-wise scheme as Adam (one read and write of
each tensor instead of NumPy's chain of temporaries). Everything else (matmul, softmax,
dropout, ...) stays NumPy/OpenBLAS, where there is nothing to fuse.

Threading: every kernel is compiled SERIAL (``parallel=False``; see ``CPU_PARALLEL`` in
:mod:`netcore.kernels`). Measured here: with ``parallel=True`` the 'workqueue' layer adds
~30-40 us per launch (bias+relu at batch 32: 31-45 us instead of 1.5 us); the OpenMP layer
with ``OMP_WAIT_POLICY=passive`` launches in ~5 us but still contends with OpenBLAS's
threads right after a matmul (matmul + Adam 633 us parallel vs 542 us serial; the matmul
alone 420-490 us), and parallel Adam alone (121 us) barely beats serial (113-132 us) because
the update is memory-bound. Serial kernels also make the backend bit-deterministic for a
seed with no care about reduction order (column sums for ``db`` and the loss means add in
row order). If parallel is switched on, :func:`netcore.kernels._common.configure_cpu_threads`
picks the workqueue layer (unless NUMBA_THREADING_LAYER is set).

Compile time: the kernels are compiled for explicit float32/float64 signatures when the
first CPU backend of the process is created (:func:`netcore.kernels.cpu_kernels`), with
``cache=True``: the first run on a machine compiles (~5 s here) and writes numba's cache
beside the modules; later processes load it (~0.2-1 s). Never inside a training step.
Set ``NETCORE_CPU_KERNELS=0`` (or pass ``fused=False``) for the pure NumPy reference.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..kernels._common import ACT_CODES
from .base import Backend, _skipped

_FUSED_OPS = ("bias_act", "bias_act_grad", "softmax_xent", "sigmoid_bce", "sgd_update",
              "adam_update", "rmsprop_update", "adagrad_update")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_NO_LABELS = np.zeros(1, np.int64)  # placeholder label array for one-hot targets


def _ok(dtype: Any, *arrays: Any) -> bool:
    """All arrays writeable C-contiguous NumPy arrays of one float dtype: exactly the
    compiled signatures (numba types read-only arrays differently, and compiling more is off)."""
    if dtype not in _FLOATS:
        return False
    for a in arrays:
        if (not isinstance(a, np.ndarray) or a.dtype != dtype or not a.flags.c_contiguous
                or not a.flags.writeable):
            return False
    return True


class CPUBackend(Backend):
    """NumPy on the host. Fused CPU kernels (``netcore.kernels``) override ops here."""

    name = "cpu"
    host_reads_are_cheap = True
    fused_ops: tuple[str, ...] = _FUSED_OPS

    def __init__(self, seed: int | None = None, fused: bool | None = None) -> None:
        super().__init__(np, seed)
        if fused is None:
            fused = os.environ.get("NETCORE_CPU_KERNELS", "1") not in ("0", "")
        self._k: dict[str, Any] | None = None
        if fused:
            from ..kernels import cpu_kernels

            self._k = cpu_kernels()  # compiles / loads from cache now, not in step 1
        self.fused_ops = _FUSED_OPS if fused else ()

    def describe(self) -> str:
        kind = "numba.njit fused kernels" if self._k is not None else "NumPy reference ops"
        return f"cpu (NumPy {np.__version__}, {kind})"

    def to_numpy(self, x):  # type: ignore[override]
        return np.asarray(x)

    # ------------------------------------------------------------------ activations
    def bias_act(self, z: Any, b: Any, activation: str, out: Any = None) -> Any:
        code = ACT_CODES.get(activation)
        dst = out if out is not None else (z if b is None else None)  # reference: in place
        if self._k is None or code is None or getattr(z, "ndim", 0) != 2:
            return super().bias_act(z, b, activation, out=out)
        if dst is None:
            dst = np.empty_like(z)
        arrays = (z, dst) if b is None else (z, dst, b)
        if not _ok(z.dtype, *arrays) or dst.shape != z.shape or (
                b is not None and b.shape != (z.shape[1],)):
            return super().bias_act(z, b, activation, out=out)
        self._k["bias_act_fwd"](z, z[0] if b is None else b, dst, code, b is not None)
        return dst

    def bias_act_grad(self, dy: Any, y: Any, activation: str, dz_out: Any = None,
                      db_out: Any = None, need_db: bool = True) -> tuple[Any, Any]:
        code = ACT_CODES.get(activation)
        if self._k is None or code is None or getattr(dy, "ndim", 0) != 2:
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        dz = dz_out if dz_out is not None else (dy if code == 0 else np.empty_like(dy))
        db = (db_out if db_out is not None else np.empty(dy.shape[1], dy.dtype)) if need_db else None
        arrays = (dy, y, dz) if db is None else (dy, y, dz, db)
        if (not _ok(dy.dtype, *arrays) or y.shape != dy.shape or dz.shape != dy.shape
                or (db is not None and db.shape != (dy.shape[1],))):
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        self._k["bias_act_bwd"](dy, y, dz, dz[0] if db is None else db, code, bool(need_db))
        return dz, db

    # ------------------------------------------------------------------ fused heads
    def softmax_xent(self, logits: Any, target: Any, grad_out: Any = None,
                     sample_weight: Any = None) -> tuple[Any, Any]:
        z = logits
        if sample_weight is not None:
            return super().softmax_xent(logits, target, grad_out, sample_weight)
        if self._k is None or getattr(z, "ndim", 0) != 2 or not hasattr(target, "ndim"):
            return super().softmax_xent(logits, target, grad_out)
        grad = grad_out if grad_out is not None else np.empty_like(z)
        sparse = target.ndim == 1
        if sparse:
            if target.dtype.kind not in "iu" or target.shape != (z.shape[0],):
                return super().softmax_xent(logits, target, grad_out)
            labels = target if target.dtype in (np.int32, np.int64) else target.astype(np.int64)
            if not (labels.flags.c_contiguous and labels.flags.writeable):
                labels = labels.copy()  # (N,) integers: a copy is cheap
            t = z  # unused placeholder of the right type
            arrays: tuple[Any, ...] = (z, grad)
        else:
            labels, t = _NO_LABELS, target
            arrays = (z, grad, t)
        if not _ok(z.dtype, *arrays) or grad.shape != z.shape or t.shape != z.shape:
            return super().softmax_xent(logits, target, grad_out)
        rowloss = np.empty(z.shape[0], np.float64)
        loss = self._k["softmax_xent"](z, t, labels, int(sparse), grad, rowloss)
        return z.dtype.type(loss), grad

    def sigmoid_bce(self, logits: Any, target: Any, grad_out: Any = None,
                    sample_weight: Any = None) -> tuple[Any, Any]:
        z = logits
        if sample_weight is not None:
            return super().sigmoid_bce(logits, target, grad_out, sample_weight)
        if self._k is None or getattr(z, "ndim", 0) == 0 or getattr(target, "shape", None) != z.shape:
            return super().sigmoid_bce(logits, target, grad_out)
        grad = grad_out if grad_out is not None else np.empty_like(z)
        if not _ok(z.dtype, z, target, grad) or grad.shape != z.shape or z.size == 0:
            return super().sigmoid_bce(logits, target, grad_out)
        shape2 = (z.shape[0], -1) if z.ndim > 1 else (-1, 1)
        rowloss = np.empty(z.reshape(shape2).shape[0], np.float64)
        loss = self._k["sigmoid_bce"](z.reshape(shape2), target.reshape(shape2),
                                      grad.reshape(shape2), rowloss)
        return z.dtype.type(loss), grad

    # ------------------------------------------------------------------ optimizer updates
    def _flat(self, *arrays: Any) -> tuple[Any, ...] | None:
        """1-D views of same-size contiguous float tensors, or None (-> the reference)."""
        if self._k is None:
            return None
        p = arrays[0]
        if not _ok(getattr(p, "dtype", None), *arrays) or any(a.size != p.size for a in arrays):
            return None
        return tuple(a.reshape(-1) for a in arrays)

    def sgd_update(self, param: Any, grad: Any, velocity: Any, lr: float, momentum: float,
                   nesterov: bool, skip: Any = None) -> None:
        if _skipped(skip):
            return
        flat = self._flat(param, grad) if velocity is None else self._flat(param, grad, velocity)
        if flat is None:
            return super().sgd_update(param, grad, velocity, lr, momentum, nesterov, skip)
        f = param.dtype.type
        vel = flat[2] if velocity is not None else flat[0]  # placeholder when unused
        self._k["sgd_update"](flat[0], flat[1], vel, f(lr), f(momentum), int(bool(nesterov)),
                              int(velocity is not None))

    def adam_update(self, param: Any, grad: Any, m: Any, v: Any, alpha: float,
                    beta_1: float, beta_2: float, epsilon: float, skip: Any = None) -> None:
        if _skipped(skip):
            return
        flat = self._flat(param, grad, m, v)
        if flat is None:
            return super().adam_update(param, grad, m, v, alpha, beta_1, beta_2, epsilon, skip)
        f = param.dtype.type
        self._k["adam_update"](*flat, f(alpha), f(1 - beta_1), f(1 - beta_2), f(epsilon))

    def rmsprop_update(self, param: Any, grad: Any, velocity: Any, momentum_buf: Any,
                       lr: float, rho: float, momentum: float, epsilon: float,
                       skip: Any = None) -> None:
        if _skipped(skip):
            return
        arrays = (param, grad, velocity) + ((momentum_buf,) if momentum_buf is not None else ())
        flat = self._flat(*arrays)
        if flat is None:
            return super().rmsprop_update(param, grad, velocity, momentum_buf, lr, rho,
                                          momentum, epsilon, skip)
        f = param.dtype.type
        mb = flat[3] if momentum_buf is not None else flat[0]
        self._k["rmsprop_update"](flat[0], flat[1], flat[2], mb, f(lr), f(rho), f(1 - rho),
                                  f(momentum), f(epsilon), int(momentum_buf is not None))

    def adagrad_update(self, param: Any, grad: Any, accumulator: Any, lr: float,
                       epsilon: float, skip: Any = None) -> None:
        if _skipped(skip):
            return
        flat = self._flat(param, grad, accumulator)
        if flat is None:
            return super().adagrad_update(param, grad, accumulator, lr, epsilon, skip)
        f = param.dtype.type
        self._k["adagrad_update"](*flat, f(lr), f(epsilon))
