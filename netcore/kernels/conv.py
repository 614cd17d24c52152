"""im2col / col2im (NHWC), so that a convolution is one GEMM through ``backend.matmul``.

References (the oracles): :meth:`~netcore.backend.conv_ops.ConvOps.im2col` and
:meth:`~netcore.backend.conv_ops.ConvOps.col2im`. Geometry as
:class:`~netcore.backend.conv_ops.Window`: output ``(oy, ox)`` reads input row ``oy*sh - pt +
i`` and column ``ox*sw - pl + j``, zero outside the input.

* ``im2col``: ``cols[(n, oy, ox), (i, j, c)] = x[n, oy*sh - pt + i, ox*sw - pl + j, c]``.
* ``col2im`` (its adjoint, ``dx`` from ``dcols``), as a GATHER: each input element adds the
  column entries that read it, kernel positions in row-major order (the reference's order),
  so no two threads write one element: no atomics, deterministic on both targets.

One body per kernel for both targets. A work unit is one output element on the GPU (one
thread each, grid-stride; neighbouring threads take neighbouring channels: coalesced) and a
run of all ``C`` channels of one pixel on the CPU (the inner loop is contiguous and
vectorises; the index arithmetic is paid once per pixel, not per element).
"""

from __future__ import annotations

from ._common import CUDA_FLAVOUR, F0
from .optimizers import thread_range
from .spec import INT, KernelSpec, arr, scalar


def _im2col(x, cols, kh, kw, sh, sw, pt, pl, ho, wo):
    n, h, w, c = x.shape
    per = 1 if CUDA_FLAVOUR else c  # channels per work unit
    groups = c // per
    units = cols.shape[0] * kh * kw * groups
    start, step = thread_range()
    for u in range(start, units, step):
        ch0 = (u % groups) * per
        r = u // groups
        j = r % kw
        r = r // kw
        i = r % kh
        row = r // kh
        ox = row % wo
        r = row // wo
        oy = r % ho
        b = r // ho
        yy = oy * sh - pt + i
        xx = ox * sw - pl + j
        col = (i * kw + j) * c + ch0
        if yy >= 0 and yy < h and xx >= 0 and xx < w:
            for ch in range(per):
                cols[row, col + ch] = x[b, yy, xx, ch0 + ch]
        else:
            for ch in range(per):
                cols[row, col + ch] = F0


def _col2im(cols, dx, kh, kw, sh, sw, pt, pl, ho, wo):
    n, h, w, c = dx.shape
    per = 1 if CUDA_FLAVOUR else c
    groups = c // per
    units = n * h * w * groups
    start, step = thread_range()
    for u in range(start, units, step):
        ch0 = (u % groups) * per
        r = u // groups
        xx = r % w
        r = r // w
        yy = r % h
        b = r // h
        for ch in range(per):
            dx[b, yy, xx, ch0 + ch] = F0
        for i in range(kh):
            ty = yy + pt - i  # = oy * sh for the output row that reads it with kernel row i
            if ty < 0 or ty % sh != 0 or ty // sh >= ho:
                continue
            for j in range(kw):
                tx = xx + pl - j
                if tx < 0 or tx % sw != 0 or tx // sw >= wo:
                    continue
                row = (b * ho + ty // sh) * wo + tx // sw
                col = (i * kw + j) * c + ch0
                for ch in range(per):
                    dx[b, yy, xx, ch0 + ch] += cols[row, col + ch]


_GEOMETRY = tuple(scalar(s, INT) for s in ("kh", "kw", "sh", "sw", "pt", "pl", "ho", "wo"))

SPECS = (
    KernelSpec("im2col", "im2col", (arr("x", 4), arr("cols", 2), *_GEOMETRY), _im2col, _im2col),
    KernelSpec("col2im", "col2im", (arr("cols", 2), arr("dx", 4), *_GEOMETRY), _col2im, _col2im),
)

__all__ = ["SPECS"]
