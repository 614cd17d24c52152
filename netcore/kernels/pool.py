"""Max and average pooling (NHWC), forward and backward.

References (the oracles): ``max_pool``, ``max_pool_grad``, ``avg_pool`` and ``avg_pool_grad``
of :class:`~netcore.backend.conv_ops.ConvOps`; geometry as
:class:`~netcore.backend.conv_ops.Window` (padding never takes part).

* Max forward: ``y`` = the window's maximum and ``idx`` (int32) = the window position
  ``i*kw + j`` of its FIRST maximum in row-major window order (a later equal value does not
  take it: strict ``>``), so the gradient goes to one input per window.
* Max backward, a gather: ``dx[n, y, x, c]`` adds the ``dy`` of each window whose ``idx``
  names this input, windows in kernel-position order (deterministic, no atomics).
* Average: ``y`` = the sum of the window's real inputs / their count (Keras' "same" pooling
  does not count the padding); backward gathers ``dy / count`` of every window holding the
  input.

Work units as in :mod:`.conv`: one output element per CUDA thread (grid-stride), one pixel's
run of channels per CPU iteration (the running maximum and sum live in ``y``: the inner
loop over channels is contiguous).
"""

from __future__ import annotations

from ._common import CUDA_FLAVOUR, F0, leaf
from .optimizers import thread_range
from .spec import INT, KernelSpec, arr, scalar


@leaf
def pool_unit(u, groups, per, wo, ho):
    """``(b, oy, ox, first channel)`` of work unit ``u`` over an ``(N, ho, wo, C)`` array."""
    ch0 = (u % groups) * per
    r = u // groups
    ox = r % wo
    r = r // wo
    return r // ho, r % ho, ox, ch0


@leaf
def window_count(oy, ox, kh, kw, sh, sw, pt, pl, h, w):
    """How many real (not padding) inputs window ``(oy, ox)`` holds."""
    y0 = oy * sh - pt
    x0 = ox * sw - pl
    rows = min(y0 + kh, h) - max(y0, 0)
    cols = min(x0 + kw, w) - max(x0, 0)
    return rows * cols


def _max_fwd(x, y, idx, kh, kw, sh, sw, pt, pl):
    n, h, w, c = x.shape
    ho, wo = y.shape[1], y.shape[2]
    per = 1 if CUDA_FLAVOUR else c
    groups = c // per
    start, step = thread_range()
    for u in range(start, n * ho * wo * groups, step):
        b, oy, ox, ch0 = pool_unit(u, groups, per, wo, ho)
        first = True
        for i in range(kh):
            yy = oy * sh - pt + i
            if yy < 0 or yy >= h:
                continue
            for j in range(kw):
                xx = ox * sw - pl + j
                if xx < 0 or xx >= w:
                    continue
                k = i * kw + j
                for ch in range(per):
                    v = x[b, yy, xx, ch0 + ch]
                    if first or v > y[b, oy, ox, ch0 + ch]:
                        y[b, oy, ox, ch0 + ch] = v
                        idx[b, oy, ox, ch0 + ch] = k
                first = False


def _max_bwd(dy, idx, dx, kh, kw, sh, sw, pt, pl):
    n, h, w, c = dx.shape
    ho, wo = dy.shape[1], dy.shape[2]
    per = 1 if CUDA_FLAVOUR else c
    groups = c // per
    start, step = thread_range()
    for u in range(start, n * h * w * groups, step):
        b, yy, xx, ch0 = pool_unit(u, groups, per, w, h)
        for ch in range(per):
            dx[b, yy, xx, ch0 + ch] = F0
        for i in range(kh):
            ty = yy + pt - i
            if ty < 0 or ty % sh != 0 or ty // sh >= ho:
                continue
            oy = ty // sh
            for j in range(kw):
                tx = xx + pl - j
                if tx < 0 or tx % sw != 0 or tx // sw >= wo:
                    continue
                ox = tx // sw
                k = i * kw + j
                for ch in range(per):
                    if idx[b, oy, ox, ch0 + ch] == k:
                        dx[b, yy, xx, ch0 + ch] += dy[b, oy, ox, ch0 + ch]


def _avg_fwd(x, y, kh, kw, sh, sw, pt, pl):
    n, h, w, c = x.shape
    ho, wo = y.shape[1], y.shape[2]
    per = 1 if CUDA_FLAVOUR else c
    groups = c // per
    start, step = thread_range()
    for u in range(start, n * ho * wo * groups, step):
        b, oy, ox, ch0 = pool_unit(u, groups, per, wo, ho)
        for ch in range(per):
            y[b, oy, ox, ch0 + ch] = F0
        for i in range(kh):
            yy = oy * sh - pt + i
            if yy < 0 or yy >= h:
                continue
            for j in range(kw):
                xx = ox * sw - pl + j
                if xx < 0 or xx >= w:
                    continue
                for ch in range(per):
                    y[b, oy, ox, ch0 + ch] += x[b, yy, xx, ch0 + ch]
        count = window_count(oy, ox, kh, kw, sh, sw, pt, pl, h, w)
        for ch in range(per):
            y[b, oy, ox, ch0 + ch] /= count


def _avg_bwd(dy, dx, kh, kw, sh, sw, pt, pl):
    n, h, w, c = dx.shape
    ho, wo = dy.shape[1], dy.shape[2]
    per = 1 if CUDA_FLAVOUR else c
    groups = c // per
    start, step = thread_range()
    for u in range(start, n * h * w * groups, step):
        b, yy, xx, ch0 = pool_unit(u, groups, per, w, h)
        for ch in range(per):
            dx[b, yy, xx, ch0 + ch] = F0
        for i in range(kh):
            ty = yy + pt - i
            if ty < 0 or ty % sh != 0 or ty // sh >= ho:
                continue
            oy = ty // sh
            for j in range(kw):
                tx = xx + pl - j
                if tx < 0 or tx % sw != 0 or tx // sw >= wo:
                    continue
                ox = tx // sw
                count = window_count(oy, ox, kh, kw, sh, sw, pt, pl, h, w)
                for ch in range(per):
                    dx[b, yy, xx, ch0 + ch] += dy[b, oy, ox, ch0 + ch] / count


_GEOMETRY = tuple(scalar(s, INT) for s in ("kh", "kw", "sh", "sw", "pt", "pl"))

SPECS = (
    KernelSpec(
        "max_pool_fwd",
        "max_pool",
        (arr("x", 4), arr("y", 4), arr("idx", 4, "int32"), *_GEOMETRY),
        _max_fwd,
        _max_fwd,
    ),
    KernelSpec(
        "max_pool_bwd",
        "max_pool_grad",
        (arr("dy", 4), arr("idx", 4, "int32"), arr("dx", 4), *_GEOMETRY),
        _max_bwd,
        _max_bwd,
    ),
    KernelSpec(
        "avg_pool_fwd", "avg_pool", (arr("x", 4), arr("y", 4), *_GEOMETRY), _avg_fwd, _avg_fwd
    ),
    KernelSpec(
        "avg_pool_bwd",
        "avg_pool_grad",
        (arr("dy", 4), arr("dx", 4), *_GEOMETRY),
        _avg_bwd,
        _avg_bwd,
    ),
)

__all__ = ["SPECS", "pool_unit", "window_count"]
