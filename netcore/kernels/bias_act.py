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

import numba
import numpy as np

from ._common import ACT_CODES, F0, F1, cuda, leaf, sigmoid_and_exp
from .spec import INT, KernelSpec, arr, scalar


# ---------------------------------------------------------------- the math, written once
# Constants are F0/F1 (float32 0 and 1), never the literals 0.0/1.0: numba types a Python
# float literal as float64, which would promote a float32 kernel's arithmetic (exp, division)
# to float64. A float32 constant keeps float32 math in float32 kernels and promotes exactly
# (0 and 1 are exact) in float64 ones.
@leaf
def act_fwd(x, code):
    """``act(x)`` for activation ``code`` (see ``ACT_CODES``); NaN propagates like NumPy."""
    if code == 1:  # relu; written so NaN stays NaN, as np.maximum does
        return F0 if x < 0 else x
    if code == 2:
        return sigmoid_and_exp(x)[0]
    if code == 3:
        return math.tanh(x)
    return x


@leaf
def act_grad(dy, y, code):
    """``dy * act'(y)`` written in terms of the forward output ``y``."""
    if code == 1:
        return dy * F1 if y > 0 else dy * F0  # dy * (y > 0): keeps NaN/inf in dy visible
    if code == 2:
        return dy * (y * (F1 - y))
    if code == 3:
        return dy * (F1 - y * y)
    return dy


# ---------------------------------------------------------------- CPU kernels (numba.njit)
def _fwd_cpu(z, b, out, code, has_bias):
    n, c = z.shape
    for i in range(n):
        for j in range(c):
            x = z[i, j]
            if has_bias != 0:
                x = x + b[j]
            out[i, j] = act_fwd(x, code)


def _bwd_cpu(dy, y, dz, db, code, need_db):
    n, c = dy.shape
    # Row-major sweep (contiguous, vectorises); each column is summed in row order, so the
    # result is deterministic.
    acc = np.zeros(c, np.float64)
    for i in range(n):
        for j in range(c):
            g = act_grad(dy[i, j], y[i, j], code)
            dz[i, j] = g
            acc[j] += g
    if need_db != 0:
        for j in range(c):
            db[j] = acc[j]


# ---------------------------------------------------------------- CUDA kernels (numba.cuda)
BX, BY = 32, 32  # backward block: 32 columns (one coalesced warp) x up to 32 row lanes (16 used on
#                 GPUs: 512 threads stay within the register budget whatever NVVM allocates)


def _fwd_cuda(z, b, out, code, has_bias):
    # 2-D: x = columns (a warp reads 32 consecutive elements of a row: coalesced), y = rows,
    # grid-strided. No per-element index division; the bias is read once per thread; four
    # rows per iteration, all loads first, so each thread has 4 independent loads in flight
    # (with one load per thread the loop is latency-bound). Every element is read before it
    # is written by the same thread, so ``out`` may be ``z``.
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
        out[i, j] = act_fwd(x0, code)
        out[i + step, j] = act_fwd(x1, code)
        out[i + 2 * step, j] = act_fwd(x2, code)
        out[i + 3 * step, j] = act_fwd(x3, code)
        i += 4 * step
    while i < n:
        x = z[i, j]
        if has_bias != 0:
            x = x + bj
        out[i, j] = act_fwd(x, code)
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
            g0 = act_grad(a0, y0, code)
            g1 = act_grad(a1, y1, code)
            g2 = act_grad(a2, y2, code)
            g3 = act_grad(a3, y3, code)
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
            g = act_grad(dy[i, j], y[i, j], code)
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


SPECS = (
    KernelSpec(
        "bias_act_fwd",
        "bias_act",
        (arr("z", 2), arr("b"), arr("out", 2), scalar("code", INT), scalar("has_bias", INT)),
        cpu=_fwd_cpu,
        cuda=_fwd_cuda,
    ),
    KernelSpec(
        "bias_act_bwd",
        "bias_act_grad",
        (
            arr("dy", 2),
            arr("y", 2),
            arr("dz", 2),
            arr("db"),
            scalar("code", INT),
            scalar("need_db", INT),
            arr("partial", 2, "float64", cuda_only=True),
            arr("counter", 1, "int32", cuda_only=True),
        ),
        cpu=_bwd_cpu,
        cuda=_bwd_cuda,
    ),
)

__all__ = ["ACT_CODES", "act_fwd", "act_grad", "SPECS"]
