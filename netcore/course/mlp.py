"""The course's image classifier: a multilayer perceptron on 28x28 grayscale images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Sequential

__all__ = ["build_mlp", "IMAGE_SHAPE"]

#: The input of every course data set (MNIST, Fashion-MNIST, Sign-Language-MNIST).
IMAGE_SHAPE = (28, 28)


def build_mlp(
    num_classes: int,
    hidden: Sequence[int] = (512, 512),
    dropout: float = 0.0,
    backend: str | None = None,
    seed: int = 0,
) -> Sequential:
    """The course MLP: ``Flatten(28x28)``, then ``Dense(h, relu)`` (and ``Dropout(dropout)``
    when above 0) per hidden size, then ``Dense(num_classes, softmax)``.

    ``backend`` None: ``$NETCORE_BACKEND``, else "auto". ``seed`` fixes the initial weights
    and the dropout masks.

    Raises:
        ValueError: ``hidden`` is not a sequence of layer sizes, or ``dropout`` is not a rate
            in [0, 1) (a negative rate would otherwise mean no Dropout, silently).
    """
    from .. import Sequential
    from ..layers import Dense, Dropout, Flatten
    from ..validation import is_real_number

    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise ValueError(
            f"hidden must be a sequence of layer sizes such as (512, 512), received {hidden!r}"
        )
    if not is_real_number(dropout) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), received {dropout!r}")

    layers: list[Any] = [Flatten(input_shape=IMAGE_SHAPE)]
    for units in hidden:
        layers.append(Dense(units, activation="relu"))
        if dropout > 0:
            layers.append(Dropout(dropout))
    layers.append(Dense(num_classes, activation="softmax"))
    return Sequential(layers, backend=backend, seed=seed)
