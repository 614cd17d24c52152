"""Softmax + categorical cross-entropy from logits, one pass per row, loss and gradient fused.

Reference (the oracle): :meth:`netcore.backend.base.Backend.softmax_xent`.

Per row ``i`` with ``m = max_c z_ic`` and ``s = sum_c exp(z_ic - m)`` (log-sum-exp: no
overflow at logits of +-1e4): ``loss_i = log s - sum_c t_ic (z_ic - m)`` (one-hot ``t``, rows
summing to 1) or ``log s - (z_{i,y_i} - m)`` (integer labels), and
``grad_ic = (exp(z_ic - m) / s - t_ic) / N``; the returned loss is ``mean_i loss_i``.
The row helpers take ``(start, step)`` so the same code is one CPU thread walking a whole
row (``0, 1``) or one CUDA thread of a block striding over it (``tid, blockDim``).
"""
from __future__ import annotations

import math
from typing import Any

import numba
from numba import prange

from . import _common
from ._common import MAX_TPB, NJIT_OPTS, ON_GPU, cpu_inline, cuda_device


# ---------------------------------------------------------------- the math, written once
# Three passes over a row's columns ``start, start+step, ...``; between them the GPU combines
# the partial results of a block's threads. All of a thread's reads of ``z`` happen before
# its writes of the same elements, and the label logit is read in pass 1, so ``grad`` may
# be ``z`` itself (as the reference allows).
# On the GPU (``step`` = blockDim) each pass walks its columns four at a time with all four
# loads issued first: one load in flight per thread left every pass latency-bound. The CPU
# flavour (``ON_GPU`` False, a compile-time constant: see _common.cuda_device) keeps the
# plain loops, which measured faster there; the GPU flavour compiles only the unrolled ones
# (both in one kernel cost 144 registers instead of 76). Same per-thread summation order.
def row_max(z, labels, sparse, i, start, step):
    """Pass 1: partial ``max_c z_ic`` (in z's dtype) and, on lane 0, the label logit."""
    c = z.shape[1]
    m = z[i, 0]
    if not ON_GPU:  # the CPU (step 1): the plain loop, faster there
        for j in range(start, c):
            if z[i, j] > m:
                m = z[i, j]
        zl = z[i, labels[i]] if sparse != 0 and start == 0 else z[i, 0] - z[i, 0]
        return m, zl
    j = start
    while j + 3 * step < c:
        x0 = z[i, j]
        x1 = z[i, j + step]
        x2 = z[i, j + 2 * step]
        x3 = z[i, j + 3 * step]
        if x0 > m:
            m = x0
        if x1 > m:
            m = x1
        if x2 > m:
            m = x2
        if x3 > m:
            m = x3
        j += 4 * step
    while j < c:
        if z[i, j] > m:
            m = z[i, j]
        j += step
    zl = z[i, labels[i]] if sparse != 0 and start == 0 else z[i, 0] - z[i, 0]
    return m, zl


def row_sums(z, t, sparse, grad, i, m, start, step):
    """Pass 2: ``grad_ic = exp(z_ic - m)``; partial ``sum_c exp(z_ic - m)`` and (one-hot)
    ``sum_c t_ic (z_ic - m)``. One exp per element (in z's dtype); sums accumulate in float64."""
    c = z.shape[1]
    s = 0.0
    d = 0.0
    if not ON_GPU:
        for j in range(start, c):
            x = z[i, j] - m
            e = math.exp(x)
            grad[i, j] = e
            s += e
            if sparse == 0:
                d += t[i, j] * x
        return s, d
    j = start
    while j + 3 * step < c:
        x0 = z[i, j] - m
        x1 = z[i, j + step] - m
        x2 = z[i, j + 2 * step] - m
        x3 = z[i, j + 3 * step] - m
        e0 = math.exp(x0)
        e1 = math.exp(x1)
        e2 = math.exp(x2)
        e3 = math.exp(x3)
        grad[i, j] = e0
        grad[i, j + step] = e1
        grad[i, j + 2 * step] = e2
        grad[i, j + 3 * step] = e3
        s += e0
        s += e1
        s += e2
        s += e3
        if sparse == 0:
            d += t[i, j] * x0
            d += t[i, j + step] * x1
            d += t[i, j + 2 * step] * x2
            d += t[i, j + 3 * step] * x3
        j += 4 * step
    while j < c:
        x = z[i, j] - m
        e = math.exp(x)
        grad[i, j] = e
        s += e
        if sparse == 0:
            d += t[i, j] * x
        j += step
    return s, d


def row_grad(t, labels, sparse, grad, i, s, nf, start, step):
    """Pass 3: ``grad_ic = (softmax_ic - t_ic) / N`` with ``softmax_ic = grad_ic / s``
    (two float64 reciprocals per row instead of two float64 divisions per element)."""
    c = grad.shape[1]
    inv_s = 1.0 / s
    inv_n = 1.0 / nf
    lab = labels[i] if sparse != 0 else -1
    if not ON_GPU:
        for j in range(start, c):
            if sparse != 0:
                tj = 1.0 if j == lab else 0.0
            else:
                tj = t[i, j]
            grad[i, j] = (grad[i, j] * inv_s - tj) * inv_n
        return
    j = start
    while j + 3 * step < c:
        g0 = grad[i, j]
        g1 = grad[i, j + step]
        g2 = grad[i, j + 2 * step]
        g3 = grad[i, j + 3 * step]
        if sparse != 0:
            t0 = 1.0 if j == lab else 0.0
            t1 = 1.0 if j + step == lab else 0.0
            t2 = 1.0 if j + 2 * step == lab else 0.0
            t3 = 1.0 if j + 3 * step == lab else 0.0
        else:
            t0 = t[i, j]
            t1 = t[i, j + step]
            t2 = t[i, j + 2 * step]
            t3 = t[i, j + 3 * step]
        grad[i, j] = (g0 * inv_s - t0) * inv_n
        grad[i, j + step] = (g1 * inv_s - t1) * inv_n
        grad[i, j + 2 * step] = (g2 * inv_s - t2) * inv_n
        grad[i, j + 3 * step] = (g3 * inv_s - t3) * inv_n
        j += 4 * step
    while j < c:
        if sparse != 0:
            tj = 1.0 if j == lab else 0.0
        else:
            tj = t[i, j]
        grad[i, j] = (grad[i, j] * inv_s - tj) * inv_n
        j += step


_row_max_c = cpu_inline(row_max)
_row_sums_c = cpu_inline(row_sums)
_row_grad_c = cpu_inline(row_grad)


# ---------------------------------------------------------------- CPU kernel (numba.njit)
def _softmax_xent_cpu(z, t, labels, sparse, grad, rowloss):
    n = z.shape[0]
    nf = float(n)
    for i in prange(n):  # rows are independent; the mean below is summed in row order
        m, zl = _row_max_c(z, labels, sparse, i, 0, 1)
        s, d = _row_sums_c(z, t, sparse, grad, i, m, 0, 1)
        if sparse != 0:
            d = zl - m
        rowloss[i] = math.log(s) - d
        _row_grad_c(t, labels, sparse, grad, i, s, nf, 0, 1)
    total = 0.0
    for i in range(n):
        total += rowloss[i]
    return total / nf


def make_cpu_kernels(parallel: bool) -> dict[str, Any]:
    sigs = [f"float64({f}[:, ::1], {f}[:, ::1], {lab}[::1], int64, {f}[:, ::1], float64[::1])"
            for f in ("float32", "float64") for lab in ("int32", "int64")]
    return {"softmax_xent": (numba.njit(**dict(NJIT_OPTS, parallel=parallel))(_softmax_xent_cpu),
                             sigs)}


# ---------------------------------------------------------------- CUDA kernel (numba.cuda)
cuda: Any = None
_row_max_d: Any = None
_row_sums_d: Any = None
_row_grad_d: Any = None
_block_sum_d: Any = None
_block_max_d: Any = None
_finish_mean_d: Any = None


def _softmax_xent_cuda(z, t, labels, sparse, grad, partial, counter, loss, nf):
    # One block per row (grid-strided over rows), its threads striding over the columns.
    sh = cuda.shared.array(MAX_TPB, numba.float64)
    flag = cuda.shared.array(1, numba.int32)
    tid = cuda.threadIdx.x
    nthr = cuda.blockDim.x
    acc = 0.0
    for i in range(cuda.blockIdx.x, z.shape[0], cuda.gridDim.x):
        m, zl = _row_max_d(z, labels, sparse, i, tid, nthr)
        m = _block_max_d(sh, m)  # barrier: every read of row i of z is done
        s, d = _row_sums_d(z, t, sparse, grad, i, m, tid, nthr)
        if sparse != 0:
            d = zl - m if tid == 0 else 0.0
        s = _block_sum_d(sh, s)
        d = _block_sum_d(sh, d)
        _row_grad_d(t, labels, sparse, grad, i, s, nf, tid, nthr)
        acc += math.log(s) - d
    _finish_mean_d(sh, flag, acc, partial, counter, loss, 1.0 / nf)


def load_cuda_kernels() -> dict[str, Any]:
    global cuda, _row_max_d, _row_sums_d, _row_grad_d, _block_sum_d, _block_max_d, _finish_mean_d
    cuda = _common.load_cuda()
    if _row_max_d is None:
        _row_max_d = cuda_device(row_max)
        _row_sums_d = cuda_device(row_sums)
        _row_grad_d = cuda_device(row_grad)
        _block_sum_d = _common.block_sum_d
        _block_max_d = _common.block_max_d
        _finish_mean_d = _common.finish_mean_d
    # key: (float dtype, label dtype)
    return {"softmax_xent": (
        _softmax_xent_cuda,
        lambda f, lab="int64": (f"void({f}[:, :], {f}[:, :], {lab}[:], int32, {f}[:, :], "
                                f"float64[:], int32[:], {f}[:], float64)"))}


__all__ = ["row_max", "row_sums", "row_grad", "make_cpu_kernels", "load_cuda_kernels"]
