"""The course's convolutional network: three Conv2D / BatchNormalization / MaxPool2D stages,
then a dense head, on 28x28x1 images (channels-last)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import Sequential

__all__ = ["build_cnn", "CNN_INPUT_SHAPE"]

#: The course images with their one channel, as Conv2D takes them: ``x[..., None]``.
CNN_INPUT_SHAPE = (28, 28, 1)


def build_cnn(
    num_classes: int = 24,
    input_shape: tuple[int, int, int] = CNN_INPUT_SHAPE,
    seed: int = 0,
    backend: str | None = None,
    dtype: str = "float32",
) -> Sequential:
    """The course CNN, layer for layer as the course writes it in Keras::

        Conv2D(75, (3, 3), strides=1, padding="same", activation="relu")
        BatchNormalization()
        MaxPool2D((2, 2), strides=2, padding="same")      # 28 -> 14
        Conv2D(50, (3, 3), strides=1, padding="same", activation="relu")
        Dropout(0.2)
        BatchNormalization()
        MaxPool2D((2, 2), strides=2, padding="same")      # 14 -> 7
        Conv2D(25, (3, 3), strides=1, padding="same", activation="relu")
        BatchNormalization()
        MaxPool2D((2, 2), strides=2, padding="same")      # 7 -> 4 ("same": ceil(7 / 2))
        Flatten()                                         # 4 * 4 * 25 = 400
        Dense(512, activation="relu")
        Dropout(0.3)
        Dense(num_classes, activation="softmax")

    With 24 classes: 264,049 parameters, 300 of them the batch norms' moving means and
    variances (non-trainable). The course compiles it with
    ``loss="categorical_crossentropy", metrics=["accuracy"]`` and the default RMSprop.

    ``input_shape``: ``(height, width, channels)``; feed images as ``x[..., None]`` when they
    are ``(N, 28, 28)``. ``seed`` fixes the initial weights and the dropout masks; ``backend``
    None: ``$NETCORE_BACKEND``, else "auto"; ``dtype``: of the weights and activations.

    Raises:
        ValueError: ``num_classes`` is not an integer of at least 2, or ``input_shape`` is not
            three positive integers.
    """
    from .. import Sequential
    from ..layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPool2D

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, received {num_classes!r}")
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(shape) != 3 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
    ):
        raise ValueError(
            "input_shape must be (height, width, channels), three positive integers, "
            f"received {input_shape!r}"
        )

    def conv(filters: int) -> Conv2D:
        return Conv2D(filters, (3, 3), strides=1, padding="same", activation="relu")

    def pool() -> MaxPool2D:
        return MaxPool2D((2, 2), strides=2, padding="same")

    layers = [
        Conv2D(75, (3, 3), strides=1, padding="same", activation="relu", input_shape=shape),
        BatchNormalization(),
        pool(),
        conv(50),
        Dropout(0.2),
        BatchNormalization(),
        pool(),
        conv(25),
        BatchNormalization(),
        pool(),
        Flatten(),
        Dense(512, activation="relu"),
        Dropout(0.3),
        Dense(num_classes, activation="softmax"),
    ]
    return Sequential(layers, backend=backend, seed=seed, dtype=dtype)
