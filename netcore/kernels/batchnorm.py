"""Batch normalization of ``x`` ``(M, C)`` per channel, forward and backward.

References (the oracles): :meth:`~netcore.backend.conv_ops.ConvOps.batch_norm` and
:meth:`~netcore.backend.conv_ops.ConvOps.batch_norm_grad`. Each op is two kernels:

* ``bn_stats`` (per channel): training: ``mean``, biased ``var`` (two passes over the rows,
  float64 sums), the moving statistics updated in place ``moving = moving * momentum +
  batch * (1 - momentum)``; inference: ``mean, var`` = the moving ones. Then ``inv_std =
  1 / sqrt(var + eps)`` and ``scale = gamma inv_std``: ``coef`` rows ``mean, scale, beta``.
* ``bn_apply`` (per element): ``y = (x - mean) scale + beta`` (not ``x scale + (beta - mean
  scale)``: that form loses the digits of ``x - mean`` when ``|mean| >> std``).
* ``bn_grad_stats`` (per channel): ``dbeta = sum dy``, ``dgamma = sum dy xhat`` (``xhat =
  (x - mean) inv_std``) and the affine form of the closed-form ``dx = gamma inv_std / M (M dy
  - dbeta - xhat dgamma)``: ``dx = a dy + b (x - mean) + c`` with ``a = gamma inv_std``,
  ``b = -a inv_std dgamma / M``, ``c = -a dbeta / M`` (``coef`` rows ``a, b, c, mean``).
* ``bn_grad_apply`` (per element): ``dx = a dy + b (x - mean) + c``.

The per-channel kernels differ by target only in their loop: the CPU sweeps rows in memory
order with one float64 accumulator per channel; a CUDA thread owns a channel (grid-stride)
and walks its column (a warp reads 32 neighbouring channels of a row: coalesced). Both add
the rows in order: deterministic. The per-channel finish is shared math (:func:`bn_finish`,
:func:`bn_grad_finish`). The per-element kernels are one body (units as in :mod:`.conv`).
"""

from __future__ import annotations

import math

import numpy as np

from ._common import CUDA_FLAVOUR, F1, cuda, leaf
from .optimizers import thread_range
from .spec import INT, KernelSpec, arr, scalar


@leaf
def bn_finish(ch, mean, var, gamma, beta, mm, mv, mean_out, inv_out, coef, mom, eps, training):
    """Channel ``ch``'s moving update (training), ``mean``, ``inv_std`` and ``coef``
    (``mean`` and ``var`` arrive as float64 sums' results; stores round to the arrays' dtype)."""
    if training != 0:
        mm[ch] = mm[ch] * mom + mean * (F1 - mom)
        mv[ch] = mv[ch] * mom + var * (F1 - mom)
    else:
        mean = mm[ch]
        var = mv[ch]
    inv = F1 / math.sqrt(var + eps)
    mean_out[ch] = mean
    inv_out[ch] = inv
    coef[0, ch] = mean
    coef[1, ch] = gamma[ch] * inv
    coef[2, ch] = beta[ch]


@leaf
def bn_grad_finish(ch, s_dy, s_dyx, m, mean, inv_std, gamma, dgamma, dbeta, coef):
    """Channel ``ch``'s ``dgamma``, ``dbeta`` and the ``dx = a dy + b (x - mean) + c``
    coefficients."""
    dbeta[ch] = s_dy
    dgamma[ch] = s_dyx
    a = gamma[ch] * inv_std[ch]
    b = -a * inv_std[ch] * s_dyx / m
    coef[0, ch] = a
    coef[1, ch] = b
    coef[2, ch] = -a * s_dy / m
    coef[3, ch] = mean[ch]


# ---------------------------------------------------------------- per channel
def _stats_cpu(x, gamma, beta, mm, mv, mean_out, inv_out, coef, mom, eps, training):
    m, c = x.shape
    mean = np.zeros(c, np.float64)
    var = np.zeros(c, np.float64)
    if training != 0:
        for r in range(m):
            for ch in range(c):
                mean[ch] += x[r, ch]
        for ch in range(c):
            mean[ch] /= m
        for r in range(m):
            for ch in range(c):
                d = x[r, ch] - mean[ch]
                var[ch] += d * d
        for ch in range(c):
            var[ch] /= m
    for ch in range(c):
        bn_finish(
            ch,
            mean[ch],
            var[ch],
            gamma,
            beta,
            mm,
            mv,
            mean_out,
            inv_out,
            coef,
            mom,
            eps,
            training,
        )


def _stats_cuda(x, gamma, beta, mm, mv, mean_out, inv_out, coef, mom, eps, training):
    m, c = x.shape
    start, step = cuda.grid(1), cuda.gridsize(1)
    for ch in range(start, c, step):
        s = 0.0
        v = 0.0
        if training != 0:
            for r in range(m):
                s += x[r, ch]
            s /= m
            for r in range(m):
                d = x[r, ch] - s
                v += d * d
            v /= m
        bn_finish(
            ch,
            s,
            v,
            gamma,
            beta,
            mm,
            mv,
            mean_out,
            inv_out,
            coef,
            mom,
            eps,
            training,
        )


def _grad_stats_cpu(dy, x, mean, inv_std, gamma, dgamma, dbeta, coef):
    m, c = x.shape
    s_dy = np.zeros(c, np.float64)
    s_dyx = np.zeros(c, np.float64)
    for r in range(m):
        for ch in range(c):
            g = dy[r, ch]
            s_dy[ch] += g
            s_dyx[ch] += g * ((x[r, ch] - mean[ch]) * inv_std[ch])
    for ch in range(c):
        bn_grad_finish(
            ch,
            s_dy[ch],
            s_dyx[ch],
            float(m),
            mean,
            inv_std,
            gamma,
            dgamma,
            dbeta,
            coef,
        )


def _grad_stats_cuda(dy, x, mean, inv_std, gamma, dgamma, dbeta, coef):
    m, c = x.shape
    start, step = cuda.grid(1), cuda.gridsize(1)
    for ch in range(start, c, step):
        s_dy = 0.0
        s_dyx = 0.0
        mu = mean[ch]
        inv = inv_std[ch]
        for r in range(m):
            g = dy[r, ch]
            s_dy += g
            s_dyx += g * ((x[r, ch] - mu) * inv)
        bn_grad_finish(ch, s_dy, s_dyx, float(m), mean, inv_std, gamma, dgamma, dbeta, coef)


# ---------------------------------------------------------------- per element
def _apply(x, coef, y):
    m, c = x.shape
    per = 1 if CUDA_FLAVOUR else c
    groups = c // per
    start, step = thread_range()
    for u in range(start, m * groups, step):
        ch0 = (u % groups) * per
        r = u // groups
        for ch in range(ch0, ch0 + per):
            y[r, ch] = (x[r, ch] - coef[0, ch]) * coef[1, ch] + coef[2, ch]


def _grad_apply(dy, x, coef, dx):
    m, c = x.shape
    per = 1 if CUDA_FLAVOUR else c
    groups = c // per
    start, step = thread_range()
    for u in range(start, m * groups, step):
        ch0 = (u % groups) * per
        r = u // groups
        for ch in range(ch0, ch0 + per):
            dx[r, ch] = (
                coef[0, ch] * dy[r, ch] + coef[1, ch] * (x[r, ch] - coef[3, ch]) + coef[2, ch]
            )


SPECS = (
    KernelSpec(
        "bn_stats",
        "batch_norm",
        (
            arr("x", 2),
            arr("gamma"),
            arr("beta"),
            arr("moving_mean"),
            arr("moving_var"),
            arr("mean_out"),
            arr("inv_std_out"),
            arr("coef", 2),
            scalar("momentum"),
            scalar("epsilon"),
            scalar("training", INT),
        ),
        _stats_cpu,
        _stats_cuda,
    ),
    KernelSpec(
        "bn_apply", "batch_norm", (arr("x", 2), arr("coef", 2), arr("y", 2)), _apply, _apply
    ),
    KernelSpec(
        "bn_grad_stats",
        "batch_norm_grad",
        (
            arr("dy", 2),
            arr("x", 2),
            arr("mean"),
            arr("inv_std"),
            arr("gamma"),
            arr("dgamma"),
            arr("dbeta"),
            arr("coef", 2),
        ),
        _grad_stats_cpu,
        _grad_stats_cuda,
    ),
    KernelSpec(
        "bn_grad_apply",
        "batch_norm_grad",
        (arr("dy", 2), arr("x", 2), arr("coef", 2), arr("dx", 2)),
        _grad_apply,
        _grad_apply,
    ),
)

__all__ = ["SPECS", "bn_finish", "bn_grad_finish"]
