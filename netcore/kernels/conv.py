"""im2col / col2im (NHWC), so that a convolution is one GEMM through ``backend.matmul``.

Why im2col + GEMM and not a direct convolution: at the course network's three layers (batch
32, float32, 3x3 "same"; 2-core CPU, one OpenBLAS thread, 2026-12-05, a loaded machine) a
numba direct loop took 16.6 / 149 / 13.9 ms and im2col + the OpenBLAS GEMM 3.5 / 29.5 / 1.0
ms for 28x28x1->75, 14x14x75->50, 7x7x50->25: the GEMM's blocking wins by 5-14x.

References (the oracles): :meth:`~netcore.backend.conv_ops.ConvOps.im2col` and
:meth:`~netcore.backend.conv_ops.ConvOps.col2im`. Geometry as
:class:`~netcore.backend.conv_ops.Window`: output ``(oy, ox)`` reads input row ``oy*sh - pt +
i`` and column ``ox*sw - pl + j``, zero outside the input.

* ``im2col``: ``cols[(n, oy, ox), (i, j, c)] = x[n, oy*sh - pt + i, ox*sw - pl + j, c]``.
* ``col2im`` (its adjoint, ``dx`` from ``dcols``), as a GATHER: each input element adds the
  column entries that read it, kernel positions in row-major order (the reference's order),
  so no two threads write one element: no atomics, deterministic on both targets.

A work unit is one output element on the GPU (one thread each, grid-stride; neighbouring
threads take neighbouring channels: coalesced) and a run of all ``C`` channels of one pixel
on the CPU (the inner loop is contiguous and vectorises; the index arithmetic is paid once
per pixel, not per element): ``col2im`` is one body for both targets; ``im2col``'s CPU
flavour walks whole column rows instead (see :func:`_im2col_cpu`).
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


def _im2col_cpu(x, cols, kh, kw, sh, sw, pt, pl, ho, wo):
    # One output row (n, oy, ox) per iteration: its index arithmetic once, then kh*kw runs of
    # C contiguous channels (measured 7 ms -> <1 ms at the course's first layer, C = 1,
    # batch 32, where a unit per pixel-run paid six divisions per copied element).
    n, h, w, c = x.shape
    for row in range(cols.shape[0]):
        ox = row % wo
        r = row // wo
        oy = r % ho
        b = r // ho
        for i in range(kh):
            yy = oy * sh - pt + i
            for j in range(kw):
                xx = ox * sw - pl + j
                col = (i * kw + j) * c
                if yy >= 0 and yy < h and xx >= 0 and xx < w:
                    for ch in range(c):
                        cols[row, col + ch] = x[b, yy, xx, ch]
                else:
                    for ch in range(c):
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
    KernelSpec("im2col", "im2col", (arr("x", 4), arr("cols", 2), *_GEOMETRY), _im2col_cpu, _im2col),
    KernelSpec("col2im", "col2im", (arr("cols", 2), arr("dx", 4), *_GEOMETRY), _col2im, _col2im),
)

__all__ = ["SPECS"]
