"""The device check's rows for the convolution, pooling, batch-norm and warp kernels.

At the course network's shapes (batch ``n``, float32): each fused op, the unfused reference
sequence it replaces (the base-class ops on the same array module), the bytes the fused
kernel moves at least (for the bandwidth against a copy), and a parity check of the fused
result against the reference (max relative difference, recorded in the row).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: The course network's layers: (h, w, c_in, filters) of each 3x3 "same" convolution, whose
#: output a 2x2 stride-2 "same" max pool and a batch norm follow.
COURSE_LAYERS = [(28, 28, 1, 75), (14, 14, 75, 50), (7, 7, 50, 25)]


def conv_ops(
    xp: Any, be: Any, n: int, smoke: bool
) -> list[tuple[str, str, Callable, Callable, int]]:
    """``(name, shape, fused call, reference call, bytes)``; each call returns its output."""
    from netcore.backend.base import Backend
    from netcore.backend.conv_ops import make_window

    ref = Backend(xp)
    rng = np.random.default_rng(0)
    f32, s = np.float32, 4
    layers = (
        [(6, 5, 3, 4)] if smoke else COURSE_LAYERS
    )  # smoke: odd sizes, seconds in the simulator
    ops: list[tuple[str, str, Callable, Callable, int]] = []

    def dev(*shape: int) -> Any:
        return xp.asarray(rng.normal(size=shape).astype(f32))

    for h, w, c, f in layers:
        tag = f"{n}x{h}x{w}x{c}->{f}"
        win = make_window(h, w, (3, 3), (1, 1), "same")
        x = dev(n, h, w, c)
        cols = xp.empty((n * h * w, 9 * c), dtype=f32)
        dcols = dev(n * h * w, 9 * c)
        dx = xp.empty_like(x)
        ops.append(
            (
                "im2col 3x3 same",
                tag,
                lambda x=x, win=win, o=cols: be.im2col(x, win, out=o),
                lambda x=x, win=win, o=cols: ref.im2col(x, win, out=o),
                (x.size + cols.size) * s,
            )
        )
        ops.append(
            (
                "col2im 3x3 same",
                tag,
                lambda d=dcols, sh=x.shape, win=win, o=dx: be.col2im(d, sh, win, out=o),
                lambda d=dcols, sh=x.shape, win=win, o=dx: ref.col2im(d, sh, win, out=o),
                (dcols.size + dx.size) * s,
            )
        )
        y = dev(n, h, w, f)
        pw = make_window(h, w, (2, 2), (2, 2), "same")
        pooled = xp.empty((n, pw.ho, pw.wo, f), dtype=f32)
        idx = xp.empty(pooled.shape, dtype=np.int32)
        dy_pool = dev(*pooled.shape)
        dxp = xp.empty_like(y)
        ptag = f"{n}x{h}x{w}x{f}"
        ops.append(
            (
                "max pool 2x2 fwd",
                ptag,
                lambda y=y, pw=pw, o=pooled, i=idx: be.max_pool(y, pw, out=o, idx_out=i)[0],
                lambda y=y, pw=pw, o=pooled, i=idx: ref.max_pool(y, pw, out=o, idx_out=i)[0],
                y.size * s + pooled.size * 2 * s,
            )
        )
        ops.append(
            (
                "max pool 2x2 bwd",
                ptag,
                lambda d=dy_pool, i=idx, sh=y.shape, pw=pw, o=dxp: be.max_pool_grad(
                    d, i, sh, pw, out=o
                ),
                lambda d=dy_pool, i=idx, sh=y.shape, pw=pw, o=dxp: ref.max_pool_grad(
                    d, i, sh, pw, out=o
                ),
                dy_pool.size * 2 * s + dxp.size * s,
            )
        )
        y2 = y.reshape(-1, f)
        gamma, beta = dev(f), dev(f)
        mm, mv = xp.zeros(f, dtype=f32), xp.ones(f, dtype=f32)
        mean, inv = xp.empty(f, dtype=f32), xp.empty(f, dtype=f32)
        out, dxb = xp.empty_like(y2), xp.empty_like(y2)
        dgb = (xp.empty(f, dtype=f32), xp.empty(f, dtype=f32))
        dy2 = dev(*y2.shape)
        ops.append(
            (
                "batch norm fwd (train)",
                ptag,
                lambda a=y2, g=gamma, b=beta, mm=mm, mv=mv, o=out, me=mean, iv=inv: be.batch_norm(
                    a, g, b, mm, mv, 0.99, 1e-3, True, out=o, mean_out=me, inv_std_out=iv
                ),
                lambda a=y2, g=gamma, b=beta, mm=mm, mv=mv, o=out, me=mean, iv=inv: ref.batch_norm(
                    a, g, b, mm, mv, 0.99, 1e-3, True, out=o, mean_out=me, inv_std_out=iv
                ),
                3 * y2.size * s,  # two statistics passes and the normalization
            )
        )
        ops.append(
            (
                "batch norm bwd",
                ptag,
                lambda d=dy2, a=y2, me=mean, iv=inv, g=gamma, o=dxb, dg=dgb: be.batch_norm_grad(
                    d, a, me, iv, g, o, *dg
                )[0],
                lambda d=dy2, a=y2, me=mean, iv=inv, g=gamma, o=dxb, dg=dgb: ref.batch_norm_grad(
                    d, a, me, iv, g, o, *dg
                )[0],
                5 * y2.size * s,  # statistics pass (dy, x) and dx pass (dy, x, dx)
            )
        )
    return ops


#: The rows of :func:`warp_ops`.
WARP_OP_NAMES = ["affine warp bilinear"]


def warp_ops(
    xp: Any, be: Any, n: int, smoke: bool
) -> list[tuple[str, str, Callable, Callable, int]]:
    """The augmentation warp's row, as :func:`conv_ops`: the course's 28x28 grey input images
    (batch ``n``), a random rotation and shift each."""
    from netcore.backend.base import Backend

    ref = Backend(xp)
    rng = np.random.default_rng(0)
    f32, s = np.float32, 4
    h, w = (6, 5) if smoke else (28, 28)
    imgs = xp.asarray(rng.random((n, h, w, 1)).astype(f32))
    ang = rng.uniform(-0.3, 0.3, n)
    rot = np.stack([np.cos(ang), -np.sin(ang), rng.uniform(-3, 3, n)], 1)
    tf = xp.asarray(np.concatenate([rot, rot[:, [1, 0, 2]] * [-1, 1, 1]], 1))
    warped = xp.empty_like(imgs)
    return [
        (
            "affine warp bilinear",
            f"{n}x{h}x{w}x1",
            lambda: be.affine_warp(imgs, tf, "reflect", "bilinear", 0.0, out=warped),
            lambda: ref.affine_warp(imgs, tf, "reflect", "bilinear", 0.0, out=warped),
            2 * imgs.size * s + tf.size * 8,
        )
    ]


def parity(xp: Any, fused: Callable, reference: Callable) -> float:
    """Max relative difference of the fused op's output to the reference's (same inputs)."""

    def host(a: Any) -> np.ndarray:
        return np.asarray(a.get() if hasattr(a, "get") else a, dtype=np.float64).copy()

    got = host(fused())
    want = host(reference())
    return float(np.max(np.abs(got - want)) / max(1e-30, float(np.max(np.abs(want)))))
