"""Optimizer updates, one kernel per rule, exactly the Keras 3 rules; never a NaN written.

References (the oracle): ``sgd_update``, ``adam_update``, ``rmsprop_update`` and
``adagrad_update`` of :class:`netcore.backend.base.Backend`. Per element ``i``:

* SGD: ``v = m v - lr g; w += v`` (Nesterov: ``w += m v - lr g``); no momentum: ``w -= lr g``.
* Adam (``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`` from the host):
  ``m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= alpha m / (sqrt(v) + eps)``.
* RMSprop: ``v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps)``;
  momentum: ``b = momentum b + inc; w -= b``, else ``w -= inc``.
* Adagrad: ``a += g^2; w -= lr g / sqrt(a + eps)``.

Each kernel first reads the ``flag`` (int32, one element) and does nothing when it is set
(a non-finite loss this step: the weights of the last good step survive). Then two passes
over the tensor, chosen by the bits of ``passes``: ``CHECK`` computes every new value
(weights and state) without writing and, if any is NaN or inf, sets
``flag[0] = NONFINITE_UPDATE`` and writes nothing (Adam first tries a cheaper sufficient
bound, :func:`adam_surely_finite`, and computes the exact values only where it fails);
``WRITE`` computes and stores them. The
CPU runs both in one call; the GPU launches CHECK then WRITE (the second launch sees the
flag the first one set: a grid-wide "nothing written" needs that barrier). The body is the
same code on both targets: only :func:`thread_range` differs.

Scalars arrive in the arrays' dtype, with ``1 - b1`` etc. folded on the host. Arrays are
1-D contiguous views of the tensors (all of one flat parameter buffer, usually).
"""

from __future__ import annotations

import math

import numpy as np

from ..backend.base import NONFINITE_UPDATE
from ._common import CUDA_FLAVOUR, cuda, leaf
from .spec import INT, KernelSpec, arr, scalar

#: Bits of the ``passes`` argument.
CHECK = 1
WRITE = 2


@leaf
def thread_range():
    """``(first index, stride)`` of this thread: one CPU thread walks everything; a CUDA
    thread strides over the grid."""
    if CUDA_FLAVOUR:
        return cuda.grid(1), cuda.gridsize(1)
    return 0, 1


# ---------------------------------------------------------------- the math, written once
@leaf
def sgd_new(p, g, vel, i, lr, mom, nesterov, has_mom):
    """New ``(w, v)`` of element ``i`` (``v`` unused without momentum)."""
    gi = g[i]
    if has_mom == 0:
        return p[i] - lr * gi, gi
    v = vel[i] * mom
    v -= lr * gi
    if nesterov != 0:
        return p[i] + (mom * v - lr * gi), v
    return p[i] + v, v


@leaf
def adam_new(p, g, m, v, i, alpha, c1, c2, eps):
    """New ``(w, m, v)`` of element ``i``."""
    gi = g[i]
    mi = m[i]
    mi += (gi - mi) * c1
    vi = v[i]
    vi += (gi * gi - vi) * c2
    return p[i] - alpha * mi / (math.sqrt(vi) + eps), mi, vi


#: A bound far inside float32's range (3.4e38): a value at most this large is finite in either
#: dtype, with room for the rounding of the few operations that produce it.
SURELY_FINITE = np.float32(1e37)


@leaf
def adam_surely_finite(p, g, m, v, start, step, alpha, c1, c2, eps):
    """True when no new Adam value can be NaN or inf: a sufficient test without the square
    root and division, so it costs a fraction of the exact one. The new ``v`` is never
    negative (``v >= 0`` and ``0 <= 1 - b2 <= 1``), so ``|alpha m / (sqrt(v) + eps)| <=
    |alpha m| / eps``; ``|w| + |alpha| / eps |m|`` and ``v`` within :data:`SURELY_FINITE`
    bound every new value. NaN fails every comparison, so a NaN input fails the test."""
    if not eps > 0:
        return False
    scale = abs(alpha) / eps
    ok = True
    for i in range(start, p.size, step):
        gi = g[i]
        mi = m[i]
        mi += (gi - mi) * c1
        vi = v[i]
        vi += (gi * gi - vi) * c2
        ok &= (abs(p[i]) + scale * abs(mi) <= SURELY_FINITE) & (vi <= SURELY_FINITE)
    return ok


@leaf
def rmsprop_new(p, g, vel, mb, i, lr, rho, c_rho, mom, eps, has_mom):
    """New ``(w, v, b)`` of element ``i`` (``b`` unused without momentum)."""
    gi = g[i]
    v = vel[i] * rho
    v += c_rho * gi * gi
    inc = lr * gi / math.sqrt(v + eps)
    if has_mom != 0:
        b = mb[i] * mom
        b += inc
        return p[i] - b, v, b
    return p[i] - inc, v, inc


@leaf
def adagrad_new(p, g, acc, i, lr, eps):
    """New ``(w, a)`` of element ``i``."""
    gi = g[i]
    a = acc[i] + gi * gi
    return p[i] - lr * gi / math.sqrt(a + eps), a


# ---------------------------------------------------------------- kernels (both targets)
# The check pass ANDs ``isfinite`` of every new value into one boolean: no branch per element
# and no chain of dependent float additions, so the CPU loop vectorises.
def _sgd(flag, p, g, vel, lr, mom, nesterov, has_mom, passes):
    if flag[0] != 0:
        return
    start, step = thread_range()
    if passes & CHECK:
        ok = True
        for i in range(start, p.size, step):
            w, v = sgd_new(p, g, vel, i, lr, mom, nesterov, has_mom)
            ok &= math.isfinite(w) & math.isfinite(v)
        if not ok:
            flag[0] = NONFINITE_UPDATE
            return
    if passes & WRITE:
        for i in range(start, p.size, step):
            w, v = sgd_new(p, g, vel, i, lr, mom, nesterov, has_mom)
            if has_mom != 0:
                vel[i] = v
            p[i] = w


def _adam(flag, p, g, m, v, alpha, c1, c2, eps, passes):
    if flag[0] != 0:
        return
    start, step = thread_range()
    if passes & CHECK and not adam_surely_finite(p, g, m, v, start, step, alpha, c1, c2, eps):
        ok = True  # the exact test, only where the cheap bound could not prove finiteness
        for i in range(start, p.size, step):
            w, mi, vi = adam_new(p, g, m, v, i, alpha, c1, c2, eps)
            ok &= math.isfinite(w) & math.isfinite(mi) & math.isfinite(vi)
        if not ok:
            flag[0] = NONFINITE_UPDATE
            return
    if passes & WRITE:
        for i in range(start, p.size, step):
            w, mi, vi = adam_new(p, g, m, v, i, alpha, c1, c2, eps)
            m[i] = mi
            v[i] = vi
            p[i] = w


def _rmsprop(flag, p, g, vel, mb, lr, rho, c_rho, mom, eps, has_mom, passes):
    if flag[0] != 0:
        return
    start, step = thread_range()
    if passes & CHECK:
        ok = True
        for i in range(start, p.size, step):
            w, v, b = rmsprop_new(p, g, vel, mb, i, lr, rho, c_rho, mom, eps, has_mom)
            ok &= math.isfinite(w) & math.isfinite(v) & math.isfinite(b)
        if not ok:
            flag[0] = NONFINITE_UPDATE
            return
    if passes & WRITE:
        for i in range(start, p.size, step):
            w, v, b = rmsprop_new(p, g, vel, mb, i, lr, rho, c_rho, mom, eps, has_mom)
            vel[i] = v
            if has_mom != 0:
                mb[i] = b
            p[i] = w


def _adagrad(flag, p, g, acc, lr, eps, passes):
    if flag[0] != 0:
        return
    start, step = thread_range()
    if passes & CHECK:
        ok = True
        for i in range(start, p.size, step):
            w, a = adagrad_new(p, g, acc, i, lr, eps)
            ok &= math.isfinite(w) & math.isfinite(a)
        if not ok:
            flag[0] = NONFINITE_UPDATE
            return
    if passes & WRITE:
        for i in range(start, p.size, step):
            w, a = adagrad_new(p, g, acc, i, lr, eps)
            acc[i] = a
            p[i] = w


_FLAG = arr("flag", type="int32")
SPECS = (
    KernelSpec(
        "sgd_update",
        "sgd_update",
        (
            _FLAG,
            arr("p"),
            arr("g"),
            arr("velocity"),
            scalar("lr"),
            scalar("momentum"),
            scalar("nesterov", INT),
            scalar("has_momentum", INT),
            scalar("passes", INT),
        ),
        cpu=_sgd,
        cuda=_sgd,
    ),
    KernelSpec(
        "adam_update",
        "adam_update",
        (
            _FLAG,
            arr("p"),
            arr("g"),
            arr("m"),
            arr("v"),
            scalar("alpha"),
            scalar("one_minus_beta_1"),
            scalar("one_minus_beta_2"),
            scalar("epsilon"),
            scalar("passes", INT),
        ),
        cpu=_adam,
        cuda=_adam,
    ),
    KernelSpec(
        "rmsprop_update",
        "rmsprop_update",
        (
            _FLAG,
            arr("p"),
            arr("g"),
            arr("velocity"),
            arr("momentum_buf"),
            scalar("lr"),
            scalar("rho"),
            scalar("one_minus_rho"),
            scalar("momentum"),
            scalar("epsilon"),
            scalar("has_momentum", INT),
            scalar("passes", INT),
        ),
        cpu=_rmsprop,
        cuda=_rmsprop,
    ),
    KernelSpec(
        "adagrad_update",
        "adagrad_update",
        (
            _FLAG,
            arr("p"),
            arr("g"),
            arr("accumulator"),
            scalar("lr"),
            scalar("epsilon"),
            scalar("passes", INT),
        ),
        cpu=_adagrad,
        cuda=_adagrad,
    ),
)

__all__ = [
    "CHECK",
    "WRITE",
    "SPECS",
    "sgd_new",
    "adam_new",
    "rmsprop_new",
    "adagrad_new",
    "thread_range",
]
