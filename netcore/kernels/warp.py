"""Per-sample affine warp of NHWC images (the augmentation layers and ``ImageDataGenerator``).

Reference (the oracle): :meth:`~netcore.backend.warp_ops.WarpOps.affine_warp`. Output pixel
``(oy, ox)`` of image ``b`` samples the input at

    ``sx = t[b, 0] * ox + t[b, 1] * oy + t[b, 2]``,  ``sy = t[b, 3] * ox + t[b, 4] * oy + t[b, 5]``

(``t`` maps output points to input points: Keras 3's ``affine_transform`` convention, its
last two projective terms dropped). Coordinates and weights are float64 whatever the image
dtype, so float32 images agree with the reference to rounding of the final store.

* ``interpolation`` 0, "nearest": the tap at ``round(sy), round(sx)`` (halves to even, as
  ``np.round``).
* ``interpolation`` 1, "bilinear": the four taps around ``(sy, sx)``,
  ``(1-fy)((1-fx) v00 + fx v01) + fy((1-fx) v10 + fx v11)``.

A tap index outside the image is mapped by ``fill_mode`` (SciPy's ``map_coordinates`` modes,
as Keras): 0 "reflect" ``(d c b a | a b c d | d c b a)``, 1 "wrap" ``(a b c d | a b c d)``,
2 "nearest" ``(a a | a b c d | d d)``, 3 "constant": the tap reads ``fill_value``.

One output element per CUDA thread (grid-stride); on the CPU plain loops over the output
pixels, each pixel's run of channels at once (the coordinates computed once per pixel).
"""

from __future__ import annotations

import math

from ..backend.warp_ops import FILL_MODES, INTERPOLATIONS
from ._common import CUDA_FLAVOUR, leaf
from .optimizers import thread_range
from .pool import pool_unit
from .spec import INT, KernelSpec, arr, scalar


@leaf
def pos_mod(a, m):
    """``a mod m`` in ``[0, m)`` for any sign of ``a`` (C and Python ``%`` differ below 0)."""
    r = a % m
    if r < 0:
        r += m
    return r


@leaf
def fix_index(i, size, mode):
    """The in-image index tap ``i`` reads under fill ``mode``; -1: the fill value."""
    if 0 <= i < size:
        return i
    if mode == 0:  # reflect about the outer edge: a triangle wave over 2*size, half-sample
        s2 = 2 * size
        m = pos_mod(2 * i + 1 + s2, 2 * s2)
        return (abs(m - s2) - 1) // 2
    if mode == 1:
        return pos_mod(i, size)
    if mode == 2:
        return 0 if i < 0 else size - 1
    return -1


@leaf
def round_even(v):
    """``v`` rounded to the nearest integer, halves to even (``np.round``)."""
    r = math.floor(v + 0.5)
    if r - v == 0.5 and r % 2 != 0:
        r -= 1
    return int(r)


@leaf
def warp_pixel(x, t, y, b, oy, ox, ch0, per, fill_mode, interp, fill_value):
    """Output pixel ``(b, oy, ox)``, channels ``ch0 .. ch0 + per - 1``."""
    h, w = x.shape[1], x.shape[2]
    fx_out = 1.0 * ox
    fy_out = 1.0 * oy
    sx = t[b, 0] * fx_out + t[b, 1] * fy_out + t[b, 2]
    sy = t[b, 3] * fx_out + t[b, 4] * fy_out + t[b, 5]
    if interp == 0:
        ry = fix_index(round_even(sy), h, fill_mode)
        rx = fix_index(round_even(sx), w, fill_mode)
        for ch in range(per):
            if ry < 0 or rx < 0:
                y[b, oy, ox, ch0 + ch] = fill_value
            else:
                y[b, oy, ox, ch0 + ch] = x[b, ry, rx, ch0 + ch]
        return
    y0 = math.floor(sy)
    x0 = math.floor(sx)
    wy = sy - y0
    wx = sx - x0
    iy = int(y0)
    ix = int(x0)
    ya = fix_index(iy, h, fill_mode)
    yb = fix_index(iy + 1, h, fill_mode)
    xa = fix_index(ix, w, fill_mode)
    xb = fix_index(ix + 1, w, fill_mode)
    for ch in range(per):
        k = ch0 + ch
        v00 = fill_value if ya < 0 or xa < 0 else 1.0 * x[b, ya, xa, k]
        v01 = fill_value if ya < 0 or xb < 0 else 1.0 * x[b, ya, xb, k]
        v10 = fill_value if yb < 0 or xa < 0 else 1.0 * x[b, yb, xa, k]
        v11 = fill_value if yb < 0 or xb < 0 else 1.0 * x[b, yb, xb, k]
        top = (1.0 - wx) * v00 + wx * v01
        bottom = (1.0 - wx) * v10 + wx * v11
        y[b, oy, ox, k] = (1.0 - wy) * top + wy * bottom


def _warp(x, t, y, fill_mode, interp, fill_value):
    n, ho, wo, c = y.shape
    if CUDA_FLAVOUR:
        start, step = thread_range()
        for u in range(start, n * ho * wo * c, step):
            b, oy, ox, ch = pool_unit(u, c, 1, wo, ho)
            warp_pixel(x, t, y, b, oy, ox, ch, 1, fill_mode, interp, fill_value)
    else:  # plain loops: no index divisions per pixel
        for b in range(n):
            for oy in range(ho):
                for ox in range(wo):
                    warp_pixel(x, t, y, b, oy, ox, 0, c, fill_mode, interp, fill_value)


SPECS = (
    KernelSpec(
        "affine_warp",
        "affine_warp",
        (
            arr("x", 4),
            arr("t", 2, "float64"),
            arr("y", 4),
            scalar("fill_mode", INT),
            scalar("interpolation", INT),
            scalar("fill_value", "float64"),
        ),
        _warp,
        _warp,
    ),
)

__all__ = ["SPECS", "FILL_MODES", "INTERPOLATIONS", "fix_index", "round_even", "pos_mod"]
