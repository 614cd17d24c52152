"""Softmax + categorical cross-entropy from logits, one kernel per batch, loss and gradient fused.

Reference (the oracle): :meth:`netcore.backend.base.Backend.softmax_xent`.

Per row ``i`` with ``m = max_c z_ic``, ``s = sum_c exp(z_ic - m)`` (log-sum-exp: no overflow
at logits of +-1e4) and ``T = sum_c t_ic`` (1 for integer labels and one-hot rows):
``loss_i = T log s - sum_c t_ic (z_ic - m)`` (= ``-sum_c t_ic log softmax_ic``, Keras' formula
for any targets) and ``grad_ic = w_i (T softmax_ic - t_ic) / N`` with the sample weight
``w_i`` (1 without weights); the loss is ``sum_i w_i loss_i / N``.
The row helpers take ``(start, step)``, so the same code is one CPU thread walking a whole
row (``0, 1``) or one CUDA thread of a block striding over it (``tid, blockDim``).
"""

from __future__ import annotations

import math

import numba

from ._common import MAX_TPB, block_reduce, cuda, finish_mean, leaf
from .spec import INT, LABELS, KernelSpec, arr, scalar


# ---------------------------------------------------------------- the math, written once
# Three passes over a row's columns ``start, start+step, ...``; between them the GPU combines
# the partial results of a block's threads. All of a thread's reads of ``z`` happen before
# its writes of the same elements, and the label logit is read in pass 1, so ``grad`` may
# be ``z`` itself (as the reference allows). Each pass walks its columns four at a time with
# all four loads issued first (one load in flight per GPU thread left every pass
# latency-bound), then the remainder one at a time.
@leaf
def row_max(z, labels, sparse, i, start, step):
    """Pass 1: partial ``max_c z_ic`` (in z's dtype) and, on lane 0, the label logit."""
    c = z.shape[1]
    m = z[i, 0]
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


@leaf
def row_sums(z, t, sparse, grad, i, m, start, step):
    """Pass 2: ``grad_ic = exp(z_ic - m)``; partial ``sum_c exp(z_ic - m)`` and (dense
    targets) ``sum_c t_ic (z_ic - m)`` and ``sum_c t_ic``. One exp per element (in z's dtype);
    sums accumulate in float64."""
    c = z.shape[1]
    s = 0.0
    d = 0.0
    tsum = 0.0
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
            t0 = t[i, j]
            t1 = t[i, j + step]
            t2 = t[i, j + 2 * step]
            t3 = t[i, j + 3 * step]
            d += t0 * x0
            d += t1 * x1
            d += t2 * x2
            d += t3 * x3
            tsum += t0
            tsum += t1
            tsum += t2
            tsum += t3
        j += 4 * step
    while j < c:
        x = z[i, j] - m
        e = math.exp(x)
        grad[i, j] = e
        s += e
        if sparse == 0:
            d += t[i, j] * x
            tsum += t[i, j]
        j += step
    return s, d, tsum


@leaf
def row_grad(t, labels, sparse, grad, i, s, tsum, scale, start, step):
    """Pass 3: ``grad_ic = (T softmax_ic - t_ic) scale`` with ``softmax_ic = grad_ic / s``
    (one float64 reciprocal per row instead of a division per element)."""
    c = grad.shape[1]
    inv_s = tsum / s
    inv_n = scale
    lab = labels[i] if sparse != 0 else -1
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


# ---------------------------------------------------------------- CPU kernel (numba.njit)
def _softmax_xent_cpu(z, t, labels, sparse, w, has_w, grad, loss):
    n = z.shape[0]
    inv_n = 1.0 / n
    total = 0.0
    for i in range(n):  # rows in order: the sum is deterministic
        m, zl = row_max(z, labels, sparse, i, 0, 1)
        s, d, tsum = row_sums(z, t, sparse, grad, i, m, 0, 1)
        if sparse != 0:
            d = zl - m
            tsum = 1.0
        wi = w[i] if has_w != 0 else 1.0
        row_grad(t, labels, sparse, grad, i, s, tsum, wi * inv_n, 0, 1)
        total += wi * (tsum * math.log(s) - d)
    loss[0] = total * inv_n


# ---------------------------------------------------------------- CUDA kernel (numba.cuda)
def _softmax_xent_cuda(z, t, labels, sparse, w, has_w, grad, loss, partial, counter):
    # One block per row (grid-strided over rows), its threads striding over the columns.
    sh = cuda.shared.array(MAX_TPB, numba.float64)
    flag = cuda.shared.array(1, numba.int32)
    tid = cuda.threadIdx.x
    nthr = cuda.blockDim.x
    inv_n = 1.0 / z.shape[0]
    acc = 0.0
    for i in range(cuda.blockIdx.x, z.shape[0], cuda.gridDim.x):
        m, zl = row_max(z, labels, sparse, i, tid, nthr)
        m = block_reduce(sh, m, 1)  # barrier: every read of row i of z is done
        s, d, tsum = row_sums(z, t, sparse, grad, i, m, tid, nthr)
        if sparse != 0:
            d = zl - m if tid == 0 else 0.0
            tsum = 1.0
        else:  # uniform across the block: the barriers inside are safe
            tsum = block_reduce(sh, tsum, 0)
        s = block_reduce(sh, s, 0)
        d = block_reduce(sh, d, 0)
        wi = w[i] if has_w != 0 else 1.0
        row_grad(t, labels, sparse, grad, i, s, tsum, wi * inv_n, tid, nthr)
        acc += wi * (tsum * math.log(s) - d)
    finish_mean(sh, flag, acc, partial, counter, loss, inv_n)


SPECS = (
    KernelSpec(
        "softmax_xent",
        "softmax_xent",
        (
            arr("z", 2),
            arr("t", 2),
            arr("labels", 1, LABELS),
            scalar("sparse", INT),
            arr("w"),
            scalar("has_w", INT),
            arr("grad", 2),
            arr("loss"),
            arr("partial", 1, "float64", cuda_only=True),
            arr("counter", 1, "int32", cuda_only=True),
        ),
        cpu=_softmax_xent_cpu,
        cuda=_softmax_xent_cuda,
    ),
)

__all__ = ["row_max", "row_sums", "row_grad", "SPECS"]
