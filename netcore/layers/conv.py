"""Conv2D: ``y = act(conv(x, kernel) + bias)``, channels last, as Keras 3."""

from __future__ import annotations

from typing import Any

from .. import activations, initializers, validation
from . import _spatial
from .activation import activation_backward, activation_forward
from .base import BuildContext, Layer


class Conv2D(Layer):
    """2-D convolution over ``(N, H, W, C_in)`` batches with a kernel ``(kh, kw, C_in, F)``.

    ``y[n, oy, ox, f] = act(sum_{i, j, c} x[n, oy*sh - pt + i, ox*sw - pl + j, c]
    kernel[i, j, c, f] + bias[f])``, with zeros outside the input. ``padding="valid"``: no
    padding, ``out = (in - k) // s + 1``; ``"same"``: ``out = ceil(in / s)``, the padding
    ``max((out - 1) s + k - in, 0)`` split with the odd pixel bottom/right (Keras/TF).

    Computed as im2col + one GEMM: ``cols (N*Ho*Wo, kh*kw*C_in) @ kernel (kh*kw*C_in, F)``
    (BLAS / cuBLAS), then the fused bias + activation on the ``(N*Ho*Wo, F)`` result.
    Backward: ``dz = dy * act'(y)`` and ``db`` (fused), ``dkernel = cols^T dz``,
    ``dx = col2im(dz kernel^T)``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        dilation_rate: Any = (1, 1),
        groups: int = 1,
        data_format: str | None = None,
        input_shape: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape, name)
        if not validation.is_integer(filters) or filters <= 0:
            raise ValueError(f"filters must be a positive integer, received filters={filters!r}")
        self.filters = int(filters)
        self.kernel_size = _spatial.pair(kernel_size, "kernel_size")
        self.strides = _spatial.pair(strides, "strides")
        self.padding = _spatial.padding(padding)
        if _spatial.pair(dilation_rate, "dilation_rate") != (1, 1):
            raise ValueError(
                f"Conv2D supports dilation_rate=(1, 1) only, received dilation_rate={dilation_rate!r}"
            )
        if groups != 1:
            raise ValueError(f"Conv2D supports groups=1 only, received groups={groups!r}")
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"Conv2D supports data_format='channels_last' only (images (height, width, "
                f"channels)), received data_format={data_format!r}"
            )
        self.activation = activations.canonical(activation)
        if not isinstance(use_bias, bool):
            raise ValueError(f"use_bias must be True or False, received use_bias={use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = initializers.canonical(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.canonical(bias_initializer, "bias_initializer")

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        shape = _spatial.image_shape("Conv2D", input_shape)
        self.win = _spatial.window(
            "Conv2D", "kernel_size", shape, self.kernel_size, self.strides, self.padding
        )
        kh, kw = self.kernel_size
        be, dt = ctx.backend, ctx.dtype
        kshape = (kh, kw, shape[2], self.filters)
        w = initializers.initialize(self.kernel_initializer, kshape, ctx.rng)
        self.params = {"kernel": be.asarray(w.astype(dt))}
        if self.use_bias:
            b = initializers.initialize(self.bias_initializer, (self.filters,), ctx.rng)
            self.params["bias"] = be.asarray(b.astype(dt))
        # 1x1 kernel, stride 1, no padding: the input itself is the column matrix
        self._pointwise = (kh, kw, *self.strides) == (1, 1, 1, 1)
        return (self.win.ho, self.win.wo, self.filters)

    def _cols(self, x: Any) -> Any:
        if self._pointwise:
            return x.reshape(-1, x.shape[-1])
        win = self.win
        k = win.kh * win.kw * x.shape[-1]
        return self.backend.im2col(
            x, win, out=self.buffer("cols", (x.shape[0] * win.ho * win.wo, k))
        )

    def forward(self, x: Any, training: bool = False) -> Any:
        be = self.backend
        if not x.flags.c_contiguous:
            x = be.xp.ascontiguousarray(x)
        n = x.shape[0]
        self._x_shape = x.shape
        self._cols_x = cols = self._cols(x)
        kernel = self.params["kernel"].reshape(-1, self.filters)
        z = be.matmul(cols, kernel, out=self.buffer("z", (cols.shape[0], self.filters)))
        self._y = activation_forward(be, z, self.params.get("bias"), self.activation, False, z)
        assert self.output_shape is not None
        return self._y.reshape(n, *self.output_shape)

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        be = self.backend
        dy2 = dy.reshape(-1, self.filters)
        dz, _ = activation_backward(
            be, dy2, self._y, self.activation, self.use_bias, self.grads.get("bias")
        )
        be.matmul(
            self._cols_x, dz, out=self.grads["kernel"].reshape(-1, self.filters), transpose_a=True
        )
        if not need_dx:
            return None
        kernel = self.params["kernel"].reshape(-1, self.filters)
        if self._pointwise:
            dx = be.matmul(
                dz, kernel, transpose_b=True, out=self.buffer("dx", (dz.shape[0], kernel.shape[0]))
            )
            return dx.reshape(self._x_shape)
        dcols = be.matmul(
            dz, kernel, transpose_b=True, out=self.buffer("dcols", self._cols_x.shape)
        )
        return be.col2im(dcols, self._x_shape, self.win, out=self.buffer("dx", self._x_shape))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }
