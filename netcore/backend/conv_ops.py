"""Reference ops of the convolutional layers (NHWC, channels last), mixed into ``Backend``.

Written against ``self.xp`` like the rest of :class:`netcore.backend.base.Backend`: these are
the oracles the fused kernels (:mod:`netcore.kernels.conv`, :mod:`netcore.kernels.pool`,
:mod:`netcore.kernels.batchnorm`) are tested against. Loops here run over kernel or window
positions (9 for a 3x3 kernel), never over pixels.

Geometry (:class:`Window`): a window of ``kh x kw`` moved by strides ``(sh, sw)`` over the
input padded by ``pt`` rows on top and ``pl`` columns on the left gives ``ho x wo`` outputs;
output ``(oy, ox)`` reads input rows ``oy*sh - pt + i`` and columns ``ox*sw - pl + j``
(``0 <= i < kh``, ``0 <= j < kw``); positions outside the input are padding.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

PADDINGS = ("valid", "same")


class Window(NamedTuple):
    """Kernel/pool size, strides, top/left padding and output size of a 2-D sliding window."""

    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pl: int
    ho: int
    wo: int


def out_size(size: int, k: int, s: int, padding: str) -> tuple[int, int]:
    """``(output size, padding before)`` along one axis, as Keras/TensorFlow.

    ``"valid"``: ``out = (size - k) // s + 1``, no padding (``size >= k``).
    ``"same"``: ``out = ceil(size / s)``; ``pad = max((out - 1) s + k - size, 0)``, of which
    ``pad // 2`` before and the rest (the odd pixel) after.
    """
    if padding == "valid":
        return (size - k) // s + 1, 0
    out = -(-size // s)
    return out, max((out - 1) * s + k - size, 0) // 2


def make_window(
    h: int, w: int, kernel: tuple[int, int], strides: tuple[int, int], padding: str
) -> Window:
    """The :class:`Window` of a ``kernel`` over an ``h x w`` input (see :func:`out_size`)."""
    ho, pt = out_size(h, kernel[0], strides[0], padding)
    wo, pl = out_size(w, kernel[1], strides[1], padding)
    return Window(kernel[0], kernel[1], strides[0], strides[1], pt, pl, ho, wo)


def _slices(win: Window, i: int, j: int) -> tuple[slice, slice]:
    """Rows and columns of the padded input that kernel position ``(i, j)`` reads."""
    return (
        slice(i, i + win.sh * (win.ho - 1) + 1, win.sh),
        slice(j, j + win.sw * (win.wo - 1) + 1, win.sw),
    )


def _padded_hw(shape: tuple[int, ...], win: Window) -> tuple[int, int]:
    """Height and width of the input padded enough for every window (bottom/right included)."""
    hp = max(shape[1] + win.pt, (win.ho - 1) * win.sh + win.kh)
    wp = max(shape[2] + win.pl, (win.wo - 1) * win.sw + win.kw)
    return hp, wp


class ConvOps:
    """Convolution (im2col/col2im), pooling and batch normalization, NumPy/CuPy reference."""

    xp: Any

    def _pad(self, x: Any, win: Window, fill: float) -> Any:
        n, h, w, c = x.shape
        hp, wp = _padded_hw(x.shape, win)
        xp_ = self.xp.full((n, hp, wp, c), fill, dtype=x.dtype)
        xp_[:, win.pt : win.pt + h, win.pl : win.pl + w, :] = x
        return xp_

    def _crop(self, padded: Any, x_shape: tuple[int, ...], win: Window, out: Any) -> Any:
        _, h, w, _ = x_shape
        inner = padded[:, win.pt : win.pt + h, win.pl : win.pl + w, :]
        if out is None:
            return self.xp.ascontiguousarray(inner)
        out[...] = inner
        return out

    # ------------------------------------------------------------------ convolution
    def im2col(self, x: Any, win: Window, out: Any = None) -> Any:
        """Columns of an NHWC batch: row ``(n, oy, ox)``, column ``(i, j, c)`` holds
        ``x[n, oy*sh - pt + i, ox*sw - pl + j, c]`` (0 in the padding), shape
        ``(N*ho*wo, kh*kw*C)``; so ``cols @ kernel.reshape(kh*kw*C, F)`` is the convolution."""
        n, _, _, c = x.shape
        xp = self._pad(x, win, 0.0)
        cols = (
            out
            if out is not None
            else self.xp.empty((n * win.ho * win.wo, win.kh * win.kw * c), dtype=x.dtype)
        )
        view = cols.reshape(n, win.ho, win.wo, win.kh, win.kw, c)
        for i in range(win.kh):
            for j in range(win.kw):
                rows, columns = _slices(win, i, j)
                view[:, :, :, i, j, :] = xp[:, rows, columns, :]
        return cols

    def col2im(self, cols: Any, x_shape: tuple[int, ...], win: Window, out: Any = None) -> Any:
        """Adjoint of :meth:`im2col`: each column entry is added back to the input pixel it was
        read from (padding dropped), giving ``dx`` of shape ``x_shape`` from ``dcols``."""
        n, _, _, c = x_shape
        acc = self._pad(self.xp.zeros(x_shape, dtype=cols.dtype), win, 0.0)
        view = cols.reshape(n, win.ho, win.wo, win.kh, win.kw, c)
        for i in range(win.kh):
            for j in range(win.kw):
                rows, columns = _slices(win, i, j)
                acc[:, rows, columns, :] += view[:, :, :, i, j, :]
        return self._crop(acc, x_shape, win, out)

    # ------------------------------------------------------------------ pooling
    def max_pool(
        self, x: Any, win: Window, out: Any = None, idx_out: Any = None
    ) -> tuple[Any, Any]:
        """``y = max`` over each window (padding never wins) and ``idx`` (int32): the window
        position ``i*kw + j`` of the FIRST maximum in row-major window order (ties go there)."""
        xp = self.xp
        n, _, _, c = x.shape
        padded = self._pad(x, win, -math.inf)
        shape = (n, win.ho, win.wo, c)
        y = out if out is not None else xp.empty(shape, dtype=x.dtype)
        idx = idx_out if idx_out is not None else xp.empty(shape, dtype=xp.int32)
        for i in range(win.kh):
            for j in range(win.kw):
                rows, columns = _slices(win, i, j)
                v = padded[:, rows, columns, :]
                if i == 0 and j == 0:
                    y[...] = v
                    idx[...] = 0
                    continue
                better = v > y  # strict: an equal later value does not take the argmax
                xp.copyto(y, v, where=better)
                xp.copyto(idx, i * win.kw + j, where=better)
        return y, idx

    def max_pool_grad(
        self, dy: Any, idx: Any, x_shape: tuple[int, ...], win: Window, out: Any = None
    ) -> Any:
        """``dx``: each ``dy`` goes to the one input its window's ``idx`` names (summed where
        windows overlap); every other input gets 0."""
        acc = self._pad(self.xp.zeros(x_shape, dtype=dy.dtype), win, 0.0)
        for i in range(win.kh):
            for j in range(win.kw):
                rows, columns = _slices(win, i, j)
                acc[:, rows, columns, :] += dy * (idx == i * win.kw + j)
        return self._crop(acc, x_shape, win, out)

    def _pool_counts(self, x_shape: tuple[int, ...], win: Window, dtype: Any) -> Any:
        """``(ho, wo, 1)``: how many real (not padding) inputs each window holds."""
        _, h, w, _ = x_shape
        xp = self.xp
        oy = xp.arange(win.ho) * win.sh - win.pt
        ox = xp.arange(win.wo) * win.sw - win.pl
        rows = xp.minimum(oy + win.kh, h) - xp.maximum(oy, 0)
        cols = xp.minimum(ox + win.kw, w) - xp.maximum(ox, 0)
        return (rows[:, None] * cols[None, :]).astype(dtype)[:, :, None]

    def avg_pool(self, x: Any, win: Window, out: Any = None) -> Any:
        """``y = mean`` over the real inputs of each window (Keras: "same" padding is not
        counted)."""
        n, _, _, c = x.shape
        padded = self._pad(x, win, 0.0)
        y = out if out is not None else self.xp.empty((n, win.ho, win.wo, c), dtype=x.dtype)
        y[...] = 0
        for i in range(win.kh):
            for j in range(win.kw):
                rows, columns = _slices(win, i, j)
                y += padded[:, rows, columns, :]
        y /= self._pool_counts(x.shape, win, x.dtype)
        return y

    def avg_pool_grad(self, dy: Any, x_shape: tuple[int, ...], win: Window, out: Any = None) -> Any:
        """``dx``: each input gets ``dy / count`` of every window holding it."""
        acc = self._pad(self.xp.zeros(x_shape, dtype=dy.dtype), win, 0.0)
        share = dy / self._pool_counts(x_shape, win, dy.dtype)
        for i in range(win.kh):
            for j in range(win.kw):
                rows, columns = _slices(win, i, j)
                acc[:, rows, columns, :] += share
        return self._crop(acc, x_shape, win, out)

    # ------------------------------------------------------------------ batch normalization
    def batch_norm(
        self,
        x: Any,
        gamma: Any,
        beta: Any,
        moving_mean: Any,
        moving_var: Any,
        momentum: float,
        epsilon: float,
        training: bool,
        out: Any = None,
        mean_out: Any = None,
        inv_std_out: Any = None,
    ) -> Any:
        """Batch normalization of ``x`` ``(M, C)`` per channel (column), Keras 3:
        ``y = gamma (x - mean) / sqrt(var + epsilon) + beta``.

        Training: ``mean`` and the biased ``var`` of the batch (over the M rows), and the
        moving statistics updated in place, ``moving = moving * momentum + batch * (1 -
        momentum)`` (the batch's biased variance, as Keras). Inference: the moving statistics.
        ``mean_out`` and ``inv_std_out`` (C,) receive ``mean`` and ``1 / sqrt(var + eps)``
        (what :meth:`batch_norm_grad` needs).
        """
        xp = self.xp
        if training:
            mean = x.mean(axis=0)
            var = ((x - mean) ** 2).mean(axis=0)
            moving_mean[...] = moving_mean * momentum + mean * (1 - momentum)
            moving_var[...] = moving_var * momentum + var * (1 - momentum)
        else:
            mean, var = moving_mean, moving_var
        inv_std = 1 / xp.sqrt(var + epsilon)
        if mean_out is not None:
            mean_out[...] = mean
        if inv_std_out is not None:
            inv_std_out[...] = inv_std
        y = out if out is not None else xp.empty_like(x)
        y[...] = (x - mean) * (inv_std * gamma) + beta
        return y

    def batch_norm_grad(
        self,
        dy: Any,
        x: Any,
        mean: Any,
        inv_std: Any,
        gamma: Any,
        dx_out: Any = None,
        dgamma_out: Any = None,
        dbeta_out: Any = None,
    ) -> tuple[Any, Any, Any]:
        """Backward of training-mode :meth:`batch_norm` (``x`` ``(M, C)``), the closed form:
        ``xhat = (x - mean) inv_std``, ``dbeta = sum dy``, ``dgamma = sum dy xhat``,
        ``dx = gamma inv_std / M (M dy - dbeta - xhat dgamma)`` (sums over the M rows)."""
        xp = self.xp
        m = x.shape[0]
        xhat = (x - mean) * inv_std
        dbeta = xp.sum(dy, axis=0, out=dbeta_out)
        dgamma = xp.sum(dy * xhat, axis=0, out=dgamma_out)
        dx = dx_out if dx_out is not None else xp.empty_like(x)
        dx[...] = (gamma * inv_std / m) * (m * dy - dbeta - xhat * dgamma)
        return dx, dgamma, dbeta


__all__ = ["ConvOps", "Window", "PADDINGS", "make_window", "out_size"]
