"""Warnings for two habits that train badly without an error: a probability loss on a layer
that does not output probabilities, and inputs far from unit scale. Each is given once per
model (through :mod:`warnings`, so ``warnings.simplefilter`` controls it)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

#: inputs whose largest magnitude exceeds this are "far outside [-10, 10]" (raw pixels: 255)
LARGE_INPUT = 100.0

_PROBABILITY_OUTPUTS = ("softmax", "sigmoid")


def output_activation(layers: Sequence[Any]) -> tuple[Any, str | None]:
    """The layer that sets the model's output values and its activation (layers without one,
    such as Dropout or Flatten, pass values through)."""
    for layer in reversed(layers):
        if hasattr(layer, "activation"):
            return layer, layer.activation
    return (layers[-1] if layers else None), None


def probability_loss_message(loss: Any, layers: Sequence[Any]) -> str | None:
    """Why ``loss`` will not learn on these layers, or None when the output is what the loss
    expects (probabilities; logits for a loss built with ``from_logits=True``)."""
    if not layers:
        return None
    layer, act = output_activation(layers)
    if getattr(loss, "from_logits", False) and act in _PROBABILITY_OUTPUTS:
        return (
            f"loss={loss.name!r} was built with from_logits=True, but the last layer "
            f"{layer.name!r} has activation={act!r}: its outputs are probabilities, which the "
            "loss takes for logits. Remove the activation (activation=None) or use "
            "from_logits=False"
        )
    if loss.logits_head is None:
        return None
    if act in _PROBABILITY_OUTPUTS:
        return None
    where = (
        f"the last layer {layer.name!r} has activation={act!r}"
        if act
        else "the model has no output activation"
    )
    return (
        f"loss={loss.name!r} expects probabilities, but {where}, so its outputs are not "
        f"probabilities and training will not learn the classes properly: use "
        f"activation={loss.logits_head!r} on the last layer (or a loss built with "
        "from_logits=True)"
    )


def input_scale_message(low: float, high: float) -> str | None:
    """Advice when training inputs span far more than [-10, 10], or None."""
    peak = max(abs(low), abs(high))
    if peak <= LARGE_INPUT:
        return None
    return (
        f"x holds values from {low:g} to {high:g}, far outside [-10, 10]: networks train "
        "badly on unscaled inputs (large first losses, saturated units). Scale them first, "
        "e.g. x / 255 for 8-bit images, or standardize: (x - x.mean(0)) / x.std(0)"
    )


class Advisor:
    """Gives each kind of advice once (``key`` names the kind)."""

    def __init__(self) -> None:
        self._given: set[str] = set()

    def warn(self, key: str, message: str | None, stacklevel: int) -> None:
        if message is None or key in self._given:
            return
        self._given.add(key)
        warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
