"""Sigmoid + binary cross-entropy from logits, loss and gradient in one pass.

Reference (the oracle): :meth:`netcore.backend.base.Backend.sigmoid_bce`.

Logits of any shape are viewed as ``(N, C)`` (``C`` = the elements of one sample). Element-wise
``l = max(z, 0) - z t + log(1 + exp(-|z|))`` (no overflow, no log(0)) and, with the sample
weight ``w_i`` (1 without weights), ``grad = w_i (sigmoid(z) - t) / (N C)``; the loss is
``sum_i w_i mean_c l_ic / N`` (Keras' "sum_over_batch_size").
"""

from __future__ import annotations

import math

import numba

from ._common import F0, MAX_TPB, block_reduce, cuda, finish_mean, leaf, sigmoid_and_exp
from .spec import INT, KernelSpec, arr, scalar


# ---------------------------------------------------------------- the math, written once
@leaf
def bce_elem(z, t):
    """``(loss element, sigmoid(z))`` for one logit ``z`` and target ``t``, in z's dtype."""
    sig, e = sigmoid_and_exp(z)
    return (z if z > 0 else F0) - z * t + math.log1p(e), sig


# ---------------------------------------------------------------- CPU kernel (numba.njit)
def _sigmoid_bce_cpu(z, t, w, has_w, grad, loss, cols):
    # Flat views, ``cols`` elements per sample; rows summed in order: deterministic.
    size = z.size
    n = size // cols
    inv = 1.0 / size
    total = 0.0
    for i in range(n):
        wi = w[i] if has_w != 0 else 1.0
        scale = wi * inv
        acc = 0.0
        for k in range(i * cols, (i + 1) * cols):
            elem, sig = bce_elem(z[k], t[k])
            acc += elem
            grad[k] = (sig - t[k]) * scale
        total += wi * acc
    loss[0] = total * inv


# ---------------------------------------------------------------- CUDA kernel (numba.cuda)
def _sigmoid_bce_cuda(z, t, w, has_w, grad, loss, cols, size, inv_size, partial, counter):
    # 1-D views of the C-contiguous arrays: a plain grid-stride loop; ``inv_size`` (1/size in
    # the arrays' dtype) turns the per-element division into one multiplication. Sample
    # weights cost one index division per element, only when present.
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
        l0, s0 = bce_elem(z0, t0)
        l1, s1 = bce_elem(z1, t1)
        l2, s2 = bce_elem(z2, t2)
        l3, s3 = bce_elem(z3, t3)
        if has_w != 0:
            w0 = w[k // cols]
            w1 = w[(k + step) // cols]
            w2 = w[(k + 2 * step) // cols]
            w3 = w[(k + 3 * step) // cols]
            l0 *= w0
            l1 *= w1
            l2 *= w2
            l3 *= w3
            s0 = (s0 - t0) * w0
            s1 = (s1 - t1) * w1
            s2 = (s2 - t2) * w2
            s3 = (s3 - t3) * w3
        else:
            s0 = s0 - t0
            s1 = s1 - t1
            s2 = s2 - t2
            s3 = s3 - t3
        acc += l0
        acc += l1
        acc += l2
        acc += l3
        grad[k] = s0 * inv_size
        grad[k + step] = s1 * inv_size
        grad[k + 2 * step] = s2 * inv_size
        grad[k + 3 * step] = s3 * inv_size
        k += 4 * step
    while k < n:
        zk = z[k]
        tk = t[k]
        el, sig = bce_elem(zk, tk)
        d = sig - tk
        if has_w != 0:
            wk = w[k // cols]
            el *= wk
            d *= wk
        acc += el
        grad[k] = d * inv_size
        k += step
    acc = block_reduce(sh, acc, 0)
    finish_mean(sh, flag, acc, partial, counter, loss, 1.0 / size)


SPECS = (
    KernelSpec(
        "sigmoid_bce",
        "sigmoid_bce",
        (
            arr("z"),
            arr("t"),
            arr("w"),
            scalar("has_w", INT),
            arr("grad"),
            arr("loss"),
            scalar("cols", INT),
            scalar("size", "float64", cuda_only=True),
            scalar("inv_size", cuda_only=True),
            arr("partial", 1, "float64", cuda_only=True),
            arr("counter", 1, "int32", cuda_only=True),
        ),
        cpu=_sigmoid_bce_cpu,
        cuda=_sigmoid_bce_cuda,
    ),
)

__all__ = ["bce_elem", "SPECS"]
