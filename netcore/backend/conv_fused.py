"""The fused convolution, pooling, batch-norm and warp ops, written once for both fused backends.

:class:`ConvKernels` overrides the :class:`~netcore.backend.conv_ops.ConvOps` reference ops
(same signatures) with the kernels of :mod:`netcore.kernels.conv`, :mod:`~netcore.kernels.pool`
and :mod:`~netcore.kernels.batchnorm` (and :mod:`~netcore.kernels.warp`); a backend says only how it launches one
(:meth:`ConvKernels._launch`: a direct call on the CPU, a grid on the GPU). Arrays the kernels
cannot take as they are (another dtype, not contiguous, a wrong output shape) go to the
reference, as every fused op does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conv_ops import Window
from .fused import FusedBackend
from .warp_ops import FILL_MODES, INTERPOLATIONS, check_choice


class ConvKernels(FusedBackend):
    """im2col/col2im, pooling and batch normalization through the fused kernels."""

    def _launch(self, name: str, units: int, *args: Any) -> None:
        """Run kernel ``name`` over ``units`` work items (output elements on the GPU)."""
        raise NotImplementedError

    def _launch_columns(self, name: str, m: int, c: int, *args: Any) -> None:
        """Run per-channel reduction ``name`` over an ``(m, c)`` array (the GPU adds a grid
        over row chunks and its scratch)."""
        self._launch(name, c, *args)

    def _conv_kernels_on(self) -> bool:
        """Are the fused kernels in use (the CPU backend may run the reference only)?"""
        return True

    def _scratch(self, tag: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """A small device buffer reused across calls (batch norm's per-channel coefficients)."""
        bufs = self.__dict__.setdefault("_conv_scratch", {})
        key = (tag, shape, np.dtype(dtype).name)
        buf = bufs.get(key)
        if buf is None:
            buf = bufs[key] = self.xp.zeros(shape, dtype=dtype)
        return buf

    def _ready(self, out: Any, shape: tuple[int, ...], like: Any, dtype: Any = None) -> Any:
        """``out`` when given, else a new array of ``shape``."""
        if out is not None:
            return out
        return self.xp.empty(shape, dtype=like.dtype if dtype is None else dtype)

    def _ok(self, arrays: tuple[Any, ...], shapes: tuple[tuple[int, ...], ...]) -> bool:
        if not self._conv_kernels_on() or not self._fusable(*arrays):
            return False
        return all(tuple(a.shape) == s for a, s in zip(arrays, shapes))

    def _int_ok(self, idx: Any, shape: tuple[int, ...]) -> bool:
        return (
            idx.dtype == np.int32
            and tuple(idx.shape) == shape
            and idx.flags.c_contiguous
            and (not self.host_arrays or (isinstance(idx, np.ndarray) and idx.flags.writeable))
        )

    # ------------------------------------------------------------------ convolution
    def im2col(self, x: Any, win: Window, out: Any = None) -> Any:
        if getattr(x, "ndim", 0) != 4:
            return super().im2col(x, win, out)
        n, _, _, c = x.shape
        shape = (n * win.ho * win.wo, win.kh * win.kw * c)
        cols = self._ready(out, shape, x)
        if not self._ok((x, cols), (x.shape, shape)) or cols.size == 0:
            return super().im2col(x, win, out)
        self._launch("im2col", cols.size, x, cols, *win)
        return cols

    def col2im(self, cols: Any, x_shape: tuple[int, ...], win: Window, out: Any = None) -> Any:
        n, _, _, c = x_shape
        shape = (n * win.ho * win.wo, win.kh * win.kw * c)
        dx = self._ready(out, tuple(x_shape), cols)
        if not self._ok((cols, dx), (shape, tuple(x_shape))) or dx.size == 0:
            return super().col2im(cols, x_shape, win, out)
        self._launch("col2im", dx.size, cols, dx, *win)
        return dx

    # ------------------------------------------------------------------ pooling
    def max_pool(
        self, x: Any, win: Window, out: Any = None, idx_out: Any = None
    ) -> tuple[Any, Any]:
        if getattr(x, "ndim", 0) != 4:
            return super().max_pool(x, win, out, idx_out)
        shape = (x.shape[0], win.ho, win.wo, x.shape[3])
        y = self._ready(out, shape, x)
        idx = self._ready(idx_out, shape, x, np.int32)
        if not (self._ok((x, y), (x.shape, shape)) and self._int_ok(idx, shape)) or y.size == 0:
            return super().max_pool(x, win, out, idx_out)
        self._launch("max_pool_fwd", y.size, x, y, idx, *win[:6])
        return y, idx

    def max_pool_grad(
        self, dy: Any, idx: Any, x_shape: tuple[int, ...], win: Window, out: Any = None
    ) -> Any:
        dx = self._ready(out, tuple(x_shape), dy)
        shape = (x_shape[0], win.ho, win.wo, x_shape[3])
        if (
            not (self._ok((dy, dx), (shape, tuple(x_shape))) and self._int_ok(idx, shape))
            or dx.size == 0
        ):
            return super().max_pool_grad(dy, idx, x_shape, win, out)
        self._launch("max_pool_bwd", dx.size, dy, idx, dx, *win[:6])
        return dx

    def avg_pool(self, x: Any, win: Window, out: Any = None) -> Any:
        if getattr(x, "ndim", 0) != 4:
            return super().avg_pool(x, win, out)
        shape = (x.shape[0], win.ho, win.wo, x.shape[3])
        y = self._ready(out, shape, x)
        if not self._ok((x, y), (x.shape, shape)) or y.size == 0:
            return super().avg_pool(x, win, out)
        self._launch("avg_pool_fwd", y.size, x, y, *win[:6])
        return y

    def avg_pool_grad(self, dy: Any, x_shape: tuple[int, ...], win: Window, out: Any = None) -> Any:
        dx = self._ready(out, tuple(x_shape), dy)
        shape = (x_shape[0], win.ho, win.wo, x_shape[3])
        if not self._ok((dy, dx), (shape, tuple(x_shape))) or dx.size == 0:
            return super().avg_pool_grad(dy, x_shape, win, out)
        self._launch("avg_pool_bwd", dx.size, dy, dx, *win[:6])
        return dx

    # ------------------------------------------------------------------ augmentation warp
    def affine_warp(
        self,
        x: Any,
        transforms: Any,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        fill_value: float = 0.0,
        out: Any = None,
    ) -> Any:
        args = (x, transforms, fill_mode, interpolation, fill_value, out)
        mode = check_choice(fill_mode, "fill_mode", FILL_MODES)
        interp = check_choice(interpolation, "interpolation", INTERPOLATIONS)
        if getattr(x, "ndim", 0) != 4 or x.size == 0:
            return super().affine_warp(*args)
        y = self._ready(out, x.shape, x)
        t = transforms
        if not (
            self._ok((x, y), (x.shape, x.shape))
            and t.dtype == np.float64
            and tuple(t.shape) == (x.shape[0], 6)
            and t.flags.c_contiguous
            and (not self.host_arrays or isinstance(t, np.ndarray))
        ):
            return super().affine_warp(*args)
        self._launch(
            "affine_warp",
            y.size,
            x,
            t,
            y,
            FILL_MODES.index(mode),
            INTERPOLATIONS.index(interp),
            float(fill_value),
        )
        return y

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
        args = (x, gamma, beta, moving_mean, moving_var, momentum, epsilon, training)
        if getattr(x, "ndim", 0) != 2 or x.size == 0:
            return super().batch_norm(*args, out, mean_out, inv_std_out)
        c = x.shape[1]
        y = self._ready(out, x.shape, x)
        mean = self._ready(mean_out, (c,), x)
        inv = self._ready(inv_std_out, (c,), x)
        coef = self._scratch("bn", (3, c), x.dtype)
        vectors = (gamma, beta, moving_mean, moving_var, mean, inv)
        if not self._ok((x, y, coef, *vectors), (x.shape, x.shape, (3, c)) + ((c,),) * 6):
            return super().batch_norm(*args, out, mean_out, inv_std_out)
        t = x.dtype.type
        self._launch_columns(
            "bn_stats",
            x.shape[0],
            c,
            x,
            gamma,
            beta,
            moving_mean,
            moving_var,
            mean,
            inv,
            coef,
            t(momentum),
            t(epsilon),
            int(bool(training)),
        )
        self._launch("bn_apply", x.size, x, coef, y)
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
        args = (dy, x, mean, inv_std, gamma, dx_out, dgamma_out, dbeta_out)
        if getattr(x, "ndim", 0) != 2 or x.size == 0:
            return super().batch_norm_grad(*args)
        c = x.shape[1]
        dx = self._ready(dx_out, x.shape, x)
        dgamma = self._ready(dgamma_out, (c,), x)
        dbeta = self._ready(dbeta_out, (c,), x)
        coef = self._scratch("bn_grad", (4, c), x.dtype)
        arrays = (dy, x, dx, coef, mean, inv_std, gamma, dgamma, dbeta)
        if not self._ok(arrays, (x.shape,) * 3 + ((4, c),) + ((c,),) * 5):
            return super().batch_norm_grad(*args)
        self._launch_columns(
            "bn_grad_stats", x.shape[0], c, dy, x, mean, inv_std, gamma, dgamma, dbeta, coef
        )
        self._launch("bn_grad_apply", x.size, dy, x, coef, dx)
        return dx, dgamma, dbeta


__all__ = ["ConvKernels"]
