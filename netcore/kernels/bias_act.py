"""Bias + activation, forward and backward, fused.

Reference (the oracle the tests compare against): :meth:`netcore.backend.base.Backend.bias_act`
and :meth:`~netcore.backend.base.Backend.bias_act_grad`.

Forward, one pass: ``y = act(z + b)`` with ``act`` in {linear, relu, sigmoid, tanh}.
Backward, one pass over ``dy`` and ``y``: ``dz = dy * act'(y)`` (relu: ``y > 0``;
sigmoid: ``y (1 - y)``; tanh: ``1 - y^2``) and, in the same pass, ``db = sum_rows dz``
(accumulated in float64, in a fixed order: deterministic).
"""
from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import prange

from . import _common
from ._common import ACT_CODES, F0, F1, NJIT_OPTS, cpu_inline, cuda_device


# ---------------------------------------------------------------- the math, written once
# Constants are F0/F1 (float32 0 and 1), not the literals 0.0/1.0: numba types a Python float
# literal as float64, which turned every float32 kernel into float64 arithmetic (float64 exp
# and division in sigmoid). A float32 constant keeps float32 math in float32 kernels and
# promotes exactly (0 and 1 are exact) in float64 ones.
def act_fwd(x, code):
    """``act(x)`` for activation ``code`` (see ``ACT_CODES``); NaN propagates like NumPy."""
    if code == 1:  # relu; written so NaN stays NaN, as np.maximum does
        return F0 if x < 0 else x
    if code == 2:  # sigmoid; exp only ever sees -|x| (no overflow at |x| = 1e4)
        e = math.exp(-abs(x))
        return F1 / (F1 + e) if x >= 0 else e / (F1 + e)
    if code == 3:
        return math.tanh(x)
    return x


def act_grad(dy, y, code):
    """``dy * act'(y)`` written in terms of the forward output ``y``."""
    if code == 1:
        return dy * F1 if y > 0 else dy * F0  # dy * (y > 0): keeps NaN/inf in dy visible
    if code == 2:
        return dy * (y * (F1 - y))
    if code == 3:
        return dy * (F1 - y * y)
    return dy


_act_fwd_c = cpu_inline(act_fwd)
_act_grad_c = cpu_inline(act_grad)


# ---------------------------------------------------------------- CPU kernels (numba.njit)
def _fwd_cpu(z, b, out, code, has_bias):
    n, c = z.shape
    for i in prange(n):  # rows are independent: deterministic in parallel too
        for j in range(c):
            x = z[i, j]
            if has_bias:
                x = x + b[j]
            out[i, j] = _act_fwd_c(x, code)


def _bwd_cpu(dy, y, dz, db, code, need_db):
    n, c = dy.shape
    # Row-major sweep (contiguous, vectorises); each column is summed in row order, so the
    # result is deterministic. Serial on purpose: see CPU_PARALLEL in netcore/kernels.
    acc = np.zeros(c, np.float64)
    for i in range(n):
        for j in range(c):
            g = _act_grad_c(dy[i, j], y[i, j], code)
            dz[i, j] = g
            acc[j] += g
    if need_db:
        for j in range(c):
            db[j] = acc[j]


def _cpu_sigs(kind: str) -> list[str]:
    out = []
    for f in ("float32", "float64"):
        if kind == "fwd":
            out.append(f"void({f}[:, ::1], {f}[::1], {f}[:, ::1], int64, boolean)")
        else:
            out.append(f"void({f}[:, ::1], {f}[:, ::1], {f}[:, ::1], {f}[::1], int64, boolean)")
    return out


def make_cpu_kernels(parallel: bool) -> dict[str, Any]:
    """The njit dispatchers (compiled later, by :func:`netcore.kernels.compile_cpu`)."""
    opts = dict(NJIT_OPTS, parallel=parallel)
    return {"bias_act_fwd": (numba.njit(**opts)(_fwd_cpu), _cpu_sigs("fwd")),
            "bias_act_bwd": (numba.njit(**opts)(_bwd_cpu), _cpu_sigs("bwd"))}


# ---------------------------------------------------------------- CUDA kernels (numba.cuda)
# Module globals bound by load_cuda_kernels(): the device flavours of the helpers above.
cuda: Any = None
_act_fwd_d: Any = None
_act_grad_d: Any = None
BX, BY = 32, 32  # backward block: 32 columns (one coalesced warp) x up to 32 row lanes (16 used on
#                 GPUs: 512 threads stay within the register budget whatever NVVM allocates)


def _fwd_cuda(z, b, out, code, has_bias):
    # 2-D: x = columns (a warp reads 32 consecutive elements of a row: coalesced), y = rows,
    # grid-strided. No per-element index division; the bias is read once per thread; four
    # rows per iteration, all loads first, so each thread has 4 independent loads in flight
    # (one load per thread was latency-bound). Every element is read before it is written by
    # the same thread, so ``out`` may be ``z``.
    n, c = z.shape
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if j >= c:
        return
    bj = b[j if has_bias != 0 else 0]  # ``b`` is a 1-element placeholder without a bias
    step = cuda.gridDim.y * cuda.blockDim.y
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    while i + 3 * step < n:
        x0 = z[i, j]
        x1 = z[i + step, j]
        x2 = z[i + 2 * step, j]
        x3 = z[i + 3 * step, j]
        if has_bias != 0:
            x0 = x0 + bj
            x1 = x1 + bj
            x2 = x2 + bj
            x3 = x3 + bj
        out[i, j] = _act_fwd_d(x0, code)
        out[i + step, j] = _act_fwd_d(x1, code)
        out[i + 2 * step, j] = _act_fwd_d(x2, code)
        out[i + 3 * step, j] = _act_fwd_d(x3, code)
        i += 4 * step
    while i < n:
        x = z[i, j]
        if has_bias != 0:
            x = x + bj
        out[i, j] = _act_fwd_d(x, code)
        i += step


def _bwd_cuda(dy, y, dz, db, code, need_db, partial, counter):
    # Block = BX columns (one coalesced warp per row) x blockDim.y row lanes; grid.y splits
    # the rows into chunks so that small column counts still fill the GPU. Column sums:
    # per-block tree over the row lanes, then (grid.y > 1) each chunk stores its partial and
    # the last chunk of a column tile to finish (atomic ticket) adds them in chunk order:
    # one launch, deterministic.
    sh = cuda.shared.array((BY, BX), numba.float64)
    flag = cuda.shared.array(1, numba.int32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    n, c = dy.shape
    j = cuda.blockIdx.x * cuda.blockDim.x + tx
    chunk = (n + cuda.gridDim.y - 1) // cuda.gridDim.y
    r0 = cuda.blockIdx.y * chunk
    r1 = min(n, r0 + chunk)
    acc = 0.0
    if j < c:
        # Four rows per iteration, the 8 loads first (more bytes in flight per thread, as in
        # the forward); ``acc`` adds them in row order, exactly as one row at a time. ``g`` is
        # in the arrays' dtype (F0/F1 constants), so it is what ``dz`` stores.
        by = cuda.blockDim.y
        i = r0 + ty
        while i + 3 * by < r1:
            a0 = dy[i, j]
            a1 = dy[i + by, j]
            a2 = dy[i + 2 * by, j]
            a3 = dy[i + 3 * by, j]
            y0 = y[i, j]
            y1 = y[i + by, j]
            y2 = y[i + 2 * by, j]
            y3 = y[i + 3 * by, j]
            g0 = _act_grad_d(a0, y0, code)
            g1 = _act_grad_d(a1, y1, code)
            g2 = _act_grad_d(a2, y2, code)
            g3 = _act_grad_d(a3, y3, code)
            dz[i, j] = g0
            dz[i + by, j] = g1
            dz[i + 2 * by, j] = g2
            dz[i + 3 * by, j] = g3
            acc += g0
            acc += g1
            acc += g2
            acc += g3
            i += 4 * by
        while i < r1:
            g = _act_grad_d(dy[i, j], y[i, j], code)
            dz[i, j] = g
            acc += g
            i += by
    if need_db != 0:  # uniform across the grid, so the barriers below are safe
        sh[ty, tx] = acc
        cuda.syncthreads()
        s = cuda.blockDim.y // 2
        while s > 0:
            if ty < s:
                sh[ty, tx] += sh[ty + s, tx]
            cuda.syncthreads()
            s //= 2
        if cuda.gridDim.y == 1:
            if ty == 0 and j < c:
                db[j] = sh[0, tx]
        else:
            if ty == 0 and j < c:
                partial[cuda.blockIdx.y, j] = sh[0, tx]
                cuda.threadfence()  # the partial is visible grid-wide before the ticket
            cuda.syncthreads()
            if tx == 0 and ty == 0:
                ticket = cuda.atomic.add(counter, cuda.blockIdx.x, 1)
                flag[0] = 1 if ticket == cuda.gridDim.y - 1 else 0
            cuda.syncthreads()
            if flag[0] == 1:
                if ty == 0 and j < c:
                    t = 0.0
                    for r in range(cuda.gridDim.y):
                        t += partial[r, j]
                    db[j] = t
                if tx == 0 and ty == 0:
                    counter[cuda.blockIdx.x] = 0  # ready for the next launch


def load_cuda_kernels() -> dict[str, Any]:
    """Python kernel functions + signature builders for the CUDA launcher (binds the globals)."""
    global cuda, _act_fwd_d, _act_grad_d
    cuda = _common.load_cuda()
    if _act_fwd_d is None:
        _act_fwd_d = cuda_device(act_fwd)
        _act_grad_d = cuda_device(act_grad)
    return {
        "bias_act_fwd": (_fwd_cuda,
                         lambda f: f"void({f}[:, :], {f}[:], {f}[:, :], int32, int32)"),
        "bias_act_bwd": (_bwd_cuda,
                         lambda f: (f"void({f}[:, :], {f}[:, :], {f}[:, :], {f}[:], int32, int32, "
                                    "float64[:, :], int32[:])")),
    }


__all__ = ["ACT_CODES", "act_fwd", "act_grad", "make_cpu_kernels", "load_cuda_kernels"]
