"""Activation layer, and the forward/backward helpers Dense shares with it."""

from __future__ import annotations

from typing import Any

from .. import activations
from ..backend.base import Backend
from .base import BuildContext, Layer


def activation_forward(
    be: Backend, z: Any, bias: Any, activation: str, logits: bool, out: Any
) -> Any:
    """``act(z + bias)``; softmax/sigmoid are left out when ``logits`` (the loss fuses them)."""
    if logits or activation == "softmax":
        y = be.bias_act(z, bias, "linear", out=out)
        return y if logits or activation != "softmax" else be.softmax(y, out=y)
    return be.bias_act(z, bias, activation, out=out)


def activation_backward(
    be: Backend, dy: Any, y: Any, activation: str, need_db: bool, db_out: Any = None
) -> tuple[Any, Any]:
    """``dz = dy * act'(y)`` in place in ``dy`` and, if asked, ``db = sum_rows dz``."""
    if activation == "softmax":
        dy = be.softmax_grad(dy, y, out=dy)
        return be.bias_act_grad(dy, y, "linear", dz_out=dy, db_out=db_out, need_db=need_db)
    return be.bias_act_grad(dy, y, activation, dz_out=dy, db_out=db_out, need_db=need_db)


class Activation(Layer):
    """Applies an activation by name: ``Activation("relu")``."""

    #: As the last layer, it can hand its logits (its input) to a loss that takes them.
    can_emit_logits = True

    def __init__(self, activation: str, input_shape: Any = None, name: str | None = None) -> None:
        super().__init__(input_shape, name)
        self.activation = activations.canonical(activation)

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        if self.activation == "softmax" and len(input_shape) != 1:
            raise ValueError(
                f"softmax expects flat input (classes,), received input shape {input_shape}"
            )
        return input_shape

    def forward(self, x: Any, training: bool = False, logits: bool = False) -> Any:
        self._logits = logits
        self._y = activation_forward(
            self.backend, x, None, self.activation, logits, out=self.buffer("y", x.shape)
        )
        return self._y

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        act = "linear" if self._logits else self.activation
        dz, _ = activation_backward(self.backend, dy, self._y, act, need_db=False)
        return dz

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation}
