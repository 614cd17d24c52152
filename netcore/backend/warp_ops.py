"""Reference op of the augmentation warp (NHWC), mixed into ``Backend``.

:meth:`WarpOps.affine_warp` is the oracle of the fused kernel :mod:`netcore.kernels.warp`
(whose docstring states the math: coordinates, the two interpolations, the four fill modes).
Written against ``self.xp`` over whole batches; coordinates in float64.
"""

from __future__ import annotations

from typing import Any

#: ``fill_mode`` and ``interpolation`` names; their index is the code the kernel takes.
FILL_MODES = ("reflect", "wrap", "nearest", "constant")
INTERPOLATIONS = ("nearest", "bilinear")


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``, else a ValueError naming ``name``."""
    if isinstance(value, str) and value in choices:
        return value
    raise ValueError(f"{name} must be one of {list(choices)}. Received: {name}={value!r}")


class WarpOps:
    """The per-sample affine warp, NumPy/CuPy reference."""

    xp: Any

    def _fix_index(self, i: Any, size: int, mode: str) -> tuple[Any, Any]:
        """(index inside the image, valid mask): see :func:`netcore.kernels.warp.fix_index`."""
        xp = self.xp
        inside = (i >= 0) & (i < size)
        if mode == "reflect":
            s2 = 2 * size
            m = xp.mod(2 * i + 1 + s2, 2 * s2)
            j = (xp.abs(m - s2) - 1) // 2
        elif mode == "wrap":
            j = xp.mod(i, size)
        else:  # nearest, and constant (whose outside taps are masked)
            j = xp.clip(i, 0, size - 1)
        valid = inside if mode == "constant" else xp.ones_like(inside)
        return xp.where(inside, i, j), valid

    def affine_warp(
        self,
        x: Any,
        transforms: Any,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        fill_value: float = 0.0,
        out: Any = None,
    ) -> Any:
        """Warp each image ``x[b]`` (``(N, H, W, C)``) by the inverse affine map
        ``transforms[b] = (a0, a1, a2, b0, b1, b2)``: output pixel ``(oy, ox)`` samples the
        input at ``(sy, sx) = (b0 ox + b1 oy + b2, a0 ox + a1 oy + a2)``, by ``interpolation``
        ("nearest", "bilinear"), taps outside the image mapped by ``fill_mode`` ("reflect",
        "wrap", "nearest", "constant": ``fill_value``). ``x`` is only read."""
        check_choice(fill_mode, "fill_mode", FILL_MODES)
        check_choice(interpolation, "interpolation", INTERPOLATIONS)
        xp = self.xp
        f64 = xp.float64
        n, h, w, c = x.shape
        t = xp.asarray(transforms, dtype=f64)
        ox = xp.arange(w, dtype=f64)[None, None, :]
        oy = xp.arange(h, dtype=f64)[None, :, None]
        col = [t[:, k, None, None] for k in range(6)]
        sx = col[0] * ox + col[1] * oy + col[2]
        sy = col[3] * ox + col[4] * oy + col[5]
        b = xp.arange(n)[:, None, None]

        def tap(iy: Any, ix: Any) -> Any:
            ry, vy = self._fix_index(iy, h, fill_mode)
            rx, vx = self._fix_index(ix, w, fill_mode)
            v = x[b, xp.clip(ry, 0, h - 1), xp.clip(rx, 0, w - 1)].astype(f64)
            return xp.where((vy & vx)[..., None], v, float(fill_value))

        if interpolation == "nearest":
            res = tap(xp.round(sy).astype(xp.int64), xp.round(sx).astype(xp.int64))
        else:
            y0 = xp.floor(sy)
            x0 = xp.floor(sx)
            wy = (sy - y0)[..., None]
            wx = (sx - x0)[..., None]
            iy = y0.astype(xp.int64)
            ix = x0.astype(xp.int64)
            top = (1.0 - wx) * tap(iy, ix) + wx * tap(iy, ix + 1)
            bottom = (1.0 - wx) * tap(iy + 1, ix) + wx * tap(iy + 1, ix + 1)
            res = (1.0 - wy) * top + wy * bottom
        if out is None:
            return res.astype(x.dtype)
        out[...] = res
        return out


__all__ = ["WarpOps", "check_choice", "FILL_MODES", "INTERPOLATIONS"]
