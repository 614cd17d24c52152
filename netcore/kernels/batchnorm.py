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

The per-channel kernels differ by target in their loop: the CPU sweeps rows in memory order
with one float64 accumulator per channel (two passes for the variance); on the GPU a block
takes 32 channels x a power-of-two of row lanes, grid.y splits the rows into chunks, and the
last chunk of each channel tile adds the chunks' sums in order (one launch, deterministic;
the variance from float64 sums of x and x^2). Both are deterministic. The per-channel finish is shared math (:func:`bn_finish`,
:func:`bn_grad_finish`). The per-element kernels are one body (units as in :mod:`.conv`).
"""

from __future__ import annotations

import math

import numba
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
BX, BY = 32, 32  # CUDA block bounds of the per-channel kernels (the shared arrays' shape)


@leaf
def lanes_sum2(sh_s, sh_q, s, q):
    """Sums of ``s`` and ``q`` over the block's row lanes (threadIdx.y), for each channel
    lane (threadIdx.x); fixed tree order (blockDim.y is a power of two)."""
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    sh_s[ty, tx] = s
    sh_q[ty, tx] = q
    cuda.syncthreads()
    k = cuda.blockDim.y // 2
    while k > 0:
        if ty < k:
            sh_s[ty, tx] += sh_s[ty + k, tx]
            sh_q[ty, tx] += sh_q[ty + k, tx]
        cuda.syncthreads()
        k //= 2
    return sh_s[0, tx], sh_q[0, tx]


@leaf
def column_ticket(flag, part, tick, s, q, ch, c):
    """Store this chunk's sums (``part`` rows ``2 * chunk`` and ``2 * chunk + 1``); True in
    the block that finishes its channel tile last (it then resets the tile's ticket)."""
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    if ty == 0 and ch < c:
        part[2 * cuda.blockIdx.y, ch] = s
        part[2 * cuda.blockIdx.y + 1, ch] = q
        cuda.threadfence()  # the partials are visible grid-wide before the ticket
    cuda.syncthreads()
    if tx == 0 and ty == 0:
        ticket = cuda.atomic.add(tick, cuda.blockIdx.x, 1)
        flag[0] = 1 if ticket == cuda.gridDim.y - 1 else 0
    cuda.syncthreads()
    last = flag[0] == 1
    if last and tx == 0 and ty == 0:
        tick[cuda.blockIdx.x] = 0  # ready for the next launch
    return last


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


def _stats_cuda(x, gamma, beta, mm, mv, mean_out, inv_out, coef, mom, eps, training, part, tick):
    # Block: BX channels (a warp reads 32 neighbouring channels of a row: coalesced) x
    # blockDim.y row lanes; grid.y splits the rows into chunks. Each thread sums x and x^2 of
    # its rows in float64; a tree over the lanes gives the chunk's sums, stored in ``part``;
    # the last chunk of a channel tile to finish (atomic ticket) adds the chunks in order and
    # finishes: one launch, deterministic. var = E[x^2] - mean^2 from float64 sums: exact
    # enough unless |mean| / std is beyond ~1e4 (the CPU flavour takes two passes instead).
    sh_s = cuda.shared.array((BY, BX), numba.float64)
    sh_q = cuda.shared.array((BY, BX), numba.float64)
    flag = cuda.shared.array(1, numba.int32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    m, c = x.shape
    ch = cuda.blockIdx.x * cuda.blockDim.x + tx
    s = 0.0
    q = 0.0
    if training != 0 and ch < c:
        chunk = (m + cuda.gridDim.y - 1) // cuda.gridDim.y
        r1 = min(m, (cuda.blockIdx.y + 1) * chunk)
        r = cuda.blockIdx.y * chunk + ty
        while r < r1:
            v = float(x[r, ch])  # float64 before squaring: x^2 exact enough for E[x^2] - mean^2
            s += v
            q += v * v
            r += cuda.blockDim.y
    s, q = lanes_sum2(sh_s, sh_q, s, q)
    if column_ticket(flag, part, tick, s, q, ch, c) and ty == 0 and ch < c:
        s = 0.0
        q = 0.0
        for k in range(cuda.gridDim.y):
            s += part[2 * k, ch]
            q += part[2 * k + 1, ch]
        mean = s / m
        var = max(q / m - mean * mean, 0.0)
        bn_finish(ch, mean, var, gamma, beta, mm, mv, mean_out, inv_out, coef, mom, eps, training)


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


def _grad_stats_cuda(dy, x, mean, inv_std, gamma, dgamma, dbeta, coef, part, tick):
    # The launch and the reduction of _stats_cuda: sums of dy and dy * xhat per channel.
    sh_s = cuda.shared.array((BY, BX), numba.float64)
    sh_q = cuda.shared.array((BY, BX), numba.float64)
    flag = cuda.shared.array(1, numba.int32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    m, c = x.shape
    ch = cuda.blockIdx.x * cuda.blockDim.x + tx
    s = 0.0
    q = 0.0
    if ch < c:
        mu = mean[ch]
        inv = inv_std[ch]
        chunk = (m + cuda.gridDim.y - 1) // cuda.gridDim.y
        r1 = min(m, (cuda.blockIdx.y + 1) * chunk)
        r = cuda.blockIdx.y * chunk + ty
        while r < r1:
            g = dy[r, ch]
            s += g
            q += g * ((x[r, ch] - mu) * inv)
            r += cuda.blockDim.y
    s, q = lanes_sum2(sh_s, sh_q, s, q)
    if column_ticket(flag, part, tick, s, q, ch, c) and ty == 0 and ch < c:
        s = 0.0
        q = 0.0
        for k in range(cuda.gridDim.y):
            s += part[2 * k, ch]
            q += part[2 * k + 1, ch]
        bn_grad_finish(ch, s, q, float(m), mean, inv_std, gamma, dgamma, dbeta, coef)


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
            arr("partial", 2, "float64", cuda_only=True),
            arr("tickets", 1, "int32", cuda_only=True),
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
            arr("partial", 2, "float64", cuda_only=True),
            arr("tickets", 1, "int32", cuda_only=True),
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
