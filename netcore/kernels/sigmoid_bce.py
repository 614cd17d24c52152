"""Sigmoid + binary cross-entropy from logits, loss and gradient in one pass.

Reference (the oracle): :meth:`netcore.backend.base.Backend.sigmoid_bce`.

Element-wise ``l = max(z, 0) - z t + log(1 + exp(-|z|))`` (no overflow, no log(0)) and
``grad = (sigmoid(z) - t) / (N C)``; the returned loss is the mean of ``l`` over all
elements. Logits of any shape are viewed as 2-D ``(N, -1)`` by the backends.
"""
from __future__ import annotations

import math
from typing import Any

import numba
from numba import prange

from . import _common
from ._common import F0, F1, MAX_TPB, NJIT_OPTS, cpu_inline, cuda_device


# ---------------------------------------------------------------- the math, written once
def bce_elem(z, t):
    """``(loss element, sigmoid(z))`` for one logit ``z`` and target ``t``, in z's dtype
    (F0/F1, not 0.0/1.0: float32 logits get float32 exp/log1p/division, see _common.F1)."""
    e = math.exp(-abs(z))
    loss = (z if z > 0 else F0) - z * t + math.log1p(e)
    sig = F1 / (F1 + e) if z >= 0 else e / (F1 + e)
    return loss, sig


_bce_elem_c = cpu_inline(bce_elem)


# ---------------------------------------------------------------- CPU kernel (numba.njit)
def _sigmoid_bce_cpu(z, t, grad, rowloss):
    n, c = z.shape
    size = float(n * c)
    for i in prange(n):  # per-row partial sums, added below in row order: deterministic
        acc = 0.0
        for j in range(c):
            loss, sig = _bce_elem_c(z[i, j], t[i, j])
            acc += loss
            grad[i, j] = (sig - t[i, j]) / size
        rowloss[i] = acc
    total = 0.0
    for i in range(n):
        total += rowloss[i]
    return total / size


def make_cpu_kernels(parallel: bool) -> dict[str, Any]:
    sigs = [f"float64({f}[:, ::1], {f}[:, ::1], {f}[:, ::1], float64[::1])"
            for f in ("float32", "float64")]
    return {"sigmoid_bce": (numba.njit(**dict(NJIT_OPTS, parallel=parallel))(_sigmoid_bce_cpu),
                            sigs)}


# ---------------------------------------------------------------- CUDA kernel (numba.cuda)
cuda: Any = None
_bce_elem_d: Any = None
_block_sum_d: Any = None
_finish_mean_d: Any = None


def _sigmoid_bce_cuda(z, t, grad, partial, counter, loss, size, inv_size):
    # 1-D views of the C-contiguous arrays (the backend flattens them): a plain grid-stride
    # loop, no per-element index division; ``inv_size`` (1/size in the arrays' dtype) turns
    # the per-element float64 division into one multiplication in the arrays' dtype.
    sh = cuda.shared.array(MAX_TPB, numba.float64)
    flag = cuda.shared.array(1, numba.int32)
    # Four elements per iteration, all eight loads first (more bytes in flight per thread);
    # each element is read before the same thread writes it, so ``grad`` may be ``z``.
    n = z.shape[0]
    step = cuda.gridsize(1)
    k = cuda.grid(1)
    acc = 0.0
    while k + 3 * step < n:
        z0 = z[k]
        z1 = z[k + step]
        z2 = z[k + 2 * step]
        z3 = z[k + 3 * step]
        t0 = t[k]
        t1 = t[k + step]
        t2 = t[k + 2 * step]
        t3 = t[k + 3 * step]
        l0, s0 = _bce_elem_d(z0, t0)
        l1, s1 = _bce_elem_d(z1, t1)
        l2, s2 = _bce_elem_d(z2, t2)
        l3, s3 = _bce_elem_d(z3, t3)
        acc += l0
        acc += l1
        acc += l2
        acc += l3
        grad[k] = (s0 - t0) * inv_size
        grad[k + step] = (s1 - t1) * inv_size
        grad[k + 2 * step] = (s2 - t2) * inv_size
        grad[k + 3 * step] = (s3 - t3) * inv_size
        k += 4 * step
    while k < n:
        zk = z[k]
        tk = t[k]
        l, sig = _bce_elem_d(zk, tk)
        acc += l
        grad[k] = (sig - tk) * inv_size
        k += step
    acc = _block_sum_d(sh, acc)
    _finish_mean_d(sh, flag, acc, partial, counter, loss, 1.0 / size)


def load_cuda_kernels() -> dict[str, Any]:
    global cuda, _bce_elem_d, _block_sum_d, _finish_mean_d
    cuda = _common.load_cuda()
    if _bce_elem_d is None:
        _bce_elem_d = cuda_device(bce_elem)
        _block_sum_d = _common.block_sum_d
        _finish_mean_d = _common.finish_mean_d
    return {"sigmoid_bce": (
        _sigmoid_bce_cuda,
        lambda f: (f"void({f}[:], {f}[:], {f}[:], float64[:], int32[:], {f}[:], "
                   f"float64, {f})"))}


__all__ = ["bce_elem", "make_cpu_kernels", "load_cuda_kernels"]
