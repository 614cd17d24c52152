"""Input: Keras' ``keras.Input(shape=...)`` as the first element of a ``Sequential`` model."""

from __future__ import annotations

from typing import Any

from .base import _check_input_shape


class Input:
    """Declares the per-sample input shape: ``Sequential([Input(shape=(784,)), Dense(10)])``
    is ``Sequential([Dense(10, input_shape=(784,))])``.

    It has no weights and is not one of ``model.layers`` (as in Keras 3): the model hands
    ``shape`` to its first layer, so ``get_config()`` and saved files are those of the model
    written with ``input_shape=`` on the first layer.
    """

    def __init__(self, shape: Any, name: str | None = None) -> None:
        self.shape = _check_input_shape(shape, "shape")
        self.name = name or "input"

    def __repr__(self) -> str:
        return f"Input(shape={self.shape})"
