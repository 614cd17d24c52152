"""Optimizer updates, one kernel per parameter tensor, exactly the Keras 3 rules.

References (the oracle): ``sgd_update``, ``adam_update``, ``rmsprop_update`` and
``adagrad_update`` of :class:`netcore.backend.base.Backend`. Per element ``i``:

* SGD: ``v = m v - lr g; w += v`` (Nesterov: ``w += m v - lr g``); no momentum: ``w -= lr g``.
* Adam (``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`` from the host):
  ``m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= alpha m / (sqrt(v) + eps)``.
* RMSprop: ``v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps)``;
  momentum: ``b = momentum b + inc; w -= b``, else ``w -= inc``.
* Adagrad: ``a += g^2; w -= lr g / sqrt(a + eps)``.

Scalars arrive in the arrays' dtype (as NumPy's weak Python scalars make the reference do),
with ``1 - b1`` etc. folded on the host. Arrays are 1-D contiguous views of the tensors.
The CUDA kernels read the device ``skip`` flag first and write nothing when it is set; the
CPU backend reads it on the host (free there).
"""
from __future__ import annotations

import math
from typing import Any

import numba
from numba import prange

from . import _common
from ._common import NJIT_OPTS, cpu_inline, cuda_device


# ---------------------------------------------------------------- the math, written once
def sgd_elem(p, g, vel, i, lr, mom, nesterov, has_mom):
    gi = g[i]
    if has_mom == 0:
        p[i] -= lr * gi
        return
    v = vel[i] * mom
    v -= lr * gi
    vel[i] = v
    if nesterov != 0:
        p[i] += mom * v - lr * gi
    else:
        p[i] += v


def adam_elem(p, g, m, v, i, alpha, c1, c2, eps):
    gi = g[i]
    mi = m[i]
    mi += (gi - mi) * c1
    m[i] = mi
    vi = v[i]
    vi += (gi * gi - vi) * c2
    v[i] = vi
    p[i] -= alpha * mi / (math.sqrt(vi) + eps)


def rmsprop_elem(p, g, vel, mb, i, lr, rho, c_rho, mom, eps, has_mom):
    gi = g[i]
    v = vel[i] * rho
    v += c_rho * gi * gi
    vel[i] = v
    inc = lr * gi / math.sqrt(v + eps)
    if has_mom != 0:
        b = mb[i] * mom
        b += inc
        mb[i] = b
        p[i] -= b
    else:
        p[i] -= inc


def adagrad_elem(p, g, acc, i, lr, eps):
    gi = g[i]
    a = acc[i] + gi * gi
    acc[i] = a
    p[i] -= lr * gi / math.sqrt(a + eps)


_sgd_c = cpu_inline(sgd_elem)
_adam_c = cpu_inline(adam_elem)
_rmsprop_c = cpu_inline(rmsprop_elem)
_adagrad_c = cpu_inline(adagrad_elem)


# ---------------------------------------------------------------- CPU kernels (numba.njit)
# Element-wise, no reductions: bit-identical whatever the thread count.
def _sgd_cpu(p, g, vel, lr, mom, nesterov, has_mom):
    for i in prange(p.size):
        _sgd_c(p, g, vel, i, lr, mom, nesterov, has_mom)


def _adam_cpu(p, g, m, v, alpha, c1, c2, eps):
    for i in prange(p.size):
        _adam_c(p, g, m, v, i, alpha, c1, c2, eps)


def _rmsprop_cpu(p, g, vel, mb, lr, rho, c_rho, mom, eps, has_mom):
    for i in prange(p.size):
        _rmsprop_c(p, g, vel, mb, i, lr, rho, c_rho, mom, eps, has_mom)


def _adagrad_cpu(p, g, acc, lr, eps):
    for i in prange(p.size):
        _adagrad_c(p, g, acc, i, lr, eps)


def _sigs(narr: int, scalars: str, f: str, skip: str = "") -> str:
    arrs = ", ".join([f"{f}[::1]"] * narr)
    return f"void({arrs}, {scalars.replace('f', f)}{skip})"


_SCALARS = {  # scalar parameter types; 'f' is the array dtype
    "sgd": (3, "f, f, int64, int64"),
    "adam": (4, "f, f, f, f"),
    "rmsprop": (4, "f, f, f, f, f, int64"),
    "adagrad": (3, "f, f"),
}


def make_cpu_kernels(parallel: bool) -> dict[str, Any]:
    opts = dict(NJIT_OPTS, parallel=parallel)
    fns = {"sgd": _sgd_cpu, "adam": _adam_cpu, "rmsprop": _rmsprop_cpu, "adagrad": _adagrad_cpu}
    return {f"{k}_update": (numba.njit(**opts)(fn),
                            [_sigs(_SCALARS[k][0], _SCALARS[k][1], f) for f in ("float32", "float64")])
            for k, fn in fns.items()}


# ---------------------------------------------------------------- CUDA kernels (numba.cuda)
cuda: Any = None
_sgd_d: Any = None
_adam_d: Any = None
_rmsprop_d: Any = None
_adagrad_d: Any = None


def _sgd_cuda(skip, p, g, vel, lr, mom, nesterov, has_mom):
    if skip[0] != 0:  # a non-finite loss this step: keep the weights of the last good step
        return
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        _sgd_d(p, g, vel, i, lr, mom, nesterov, has_mom)


def _adam_cuda(skip, p, g, m, v, alpha, c1, c2, eps):
    if skip[0] != 0:
        return
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        _adam_d(p, g, m, v, i, alpha, c1, c2, eps)


def _rmsprop_cuda(skip, p, g, vel, mb, lr, rho, c_rho, mom, eps, has_mom):
    if skip[0] != 0:
        return
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        _rmsprop_d(p, g, vel, mb, i, lr, rho, c_rho, mom, eps, has_mom)


def _adagrad_cuda(skip, p, g, acc, lr, eps):
    if skip[0] != 0:
        return
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        _adagrad_d(p, g, acc, i, lr, eps)


def load_cuda_kernels() -> dict[str, Any]:
    global cuda, _sgd_d, _adam_d, _rmsprop_d, _adagrad_d
    cuda = _common.load_cuda()
    if _sgd_d is None:
        _sgd_d = cuda_device(sgd_elem)
        _adam_d = cuda_device(adam_elem)
        _rmsprop_d = cuda_device(rmsprop_elem)
        _adagrad_d = cuda_device(adagrad_elem)
    fns = {"sgd": _sgd_cuda, "adam": _adam_cuda, "rmsprop": _rmsprop_cuda, "adagrad": _adagrad_cuda}

    def sig_for(k: str):
        narr, scal = _SCALARS[k]
        scal = scal.replace("int64", "int32")
        return lambda f: (f"void(int32[::1], {', '.join([f'{f}[::1]'] * narr)}, "
                          f"{scal.replace('f', f)})")

    return {f"{k}_update": (fn, sig_for(k)) for k, fn in fns.items()}


__all__ = ["sgd_elem", "adam_elem", "rmsprop_elem", "adagrad_elem", "make_cpu_kernels",
           "load_cuda_kernels"]
