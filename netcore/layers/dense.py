"""Dense: ``y = act(x @ kernel + bias)`` with kernel of shape (in, out), as in Keras."""

from __future__ import annotations

from typing import Any

from .. import activations, initializers, validation
from .activation import activation_backward, activation_forward
from .base import BuildContext, Layer, _check_input_shape


class Dense(Layer):
    """Fully connected layer.

    Forward: ``z = x W`` (BLAS), then one fused op ``y = act(z + b)`` in place.
    Backward: ``dz = dy * act'(y)`` and ``db = sum_rows dz`` (one fused op),
    ``dW = x^T dz``, ``dx = dz W^T`` (skipped for the first layer).

    On inputs of more than one axis ``(..., features)`` it acts on the last axis, as Keras:
    the kernel is ``(features, units)`` and the output ``(..., units)``.
    """

    can_emit_logits = True

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        input_shape: Any = None,
        input_dim: int | None = None,
        name: str | None = None,
    ) -> None:
        units = validation.check_positive_int(units, "units")  # NumPy integers accepted
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError("give input_shape or input_dim, not both")
            input_shape = (
                _check_input_shape((input_dim,)) if validation.is_integer(input_dim) else None
            )
            if input_shape is None:
                raise ValueError(f"input_dim must be a positive integer, received {input_dim!r}")
        super().__init__(input_shape, name)
        self.units = units
        self.activation = activations.canonical(activation)
        if not isinstance(use_bias, bool):
            raise ValueError(f"use_bias must be True or False, received {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = initializers.canonical(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.canonical(bias_initializer, "bias_initializer")

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        be, dt = ctx.backend, ctx.dtype
        w = initializers.initialize(self.kernel_initializer, (input_shape[-1], self.units), ctx.rng)
        self.params = {"kernel": be.asarray(w.astype(dt))}
        if self.use_bias:
            b = initializers.initialize(self.bias_initializer, (self.units,), ctx.rng)
            self.params["bias"] = be.asarray(b.astype(dt))
        return (*input_shape[:-1], self.units)

    def forward(self, x: Any, training: bool = False, logits: bool = False) -> Any:
        """``logits=True`` stops before softmax/sigmoid (the loss fuses them)."""
        be = self.backend
        self._shape = x.shape
        if x.ndim != 2:  # acts on the last axis: rows of every other axis
            x = be.xp.ascontiguousarray(x).reshape(-1, x.shape[-1])
        z = be.matmul(x, self.params["kernel"], out=self.buffer("z", (x.shape[0], self.units)))
        self._x = x
        self._logits = logits
        self._y = activation_forward(be, z, self.params.get("bias"), self.activation, logits, out=z)
        return self._y if len(self._shape) == 2 else self._y.reshape(*self._shape[:-1], self.units)

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        be = self.backend
        dy = dy.reshape(self._y.shape)
        act = "linear" if self._logits else self.activation
        dz, db = activation_backward(
            be, dy, self._y, act, need_db=self.use_bias, db_out=self.grads.get("bias")
        )
        be.matmul(self._x, dz, out=self.grads["kernel"], transpose_a=True)
        if not need_dx:
            return None
        dx = be.matmul(
            dz, self.params["kernel"], transpose_b=True, out=self.buffer("dx", self._x.shape)
        )
        return dx.reshape(self._shape)

    @property
    def kernel(self) -> Any:
        """The kernel ``(in, out)`` as a read-only host array (``set_weights`` assigns)."""
        return self._weight("kernel")

    @property
    def bias(self) -> Any:
        """The bias ``(out,)`` as a read-only host array; AttributeError when ``use_bias=False``."""
        return self._weight("bias")

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }
