"""Argument checks and shape rules shared by the 2-D convolution and pooling layers."""

from __future__ import annotations

from typing import Any

from .. import validation
from ..backend.conv_ops import PADDINGS, Window, make_window


def pair(value: Any, name: str) -> tuple[int, int]:
    """``value`` (an int or two ints, each > 0) as ``(rows, columns)``, as Keras."""
    items = (value, value) if validation.is_integer(value) else value
    try:
        ok = len(items) == 2 and all(validation.is_integer(v) and v > 0 for v in items)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} must be a positive integer or a tuple of 2 positive integers, "
            f"received {name}={value!r}"
        )
    return int(items[0]), int(items[1])


def padding(value: Any) -> str:
    """``"valid"`` or ``"same"`` (any case)."""
    if isinstance(value, str) and value.lower() in PADDINGS:
        return value.lower()
    raise ValueError(f"padding must be one of {list(PADDINGS)}, received padding={value!r}")


def image_shape(layer: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(height, width, channels)``; a 2-D shape gets told to add the channel axis."""
    if len(input_shape) == 3:
        return (input_shape[0], input_shape[1], input_shape[2])
    hint = (
        " (a grayscale image without its channel axis: add it, e.g. x[..., None], and "
        f"input_shape={(*input_shape, 1)})"
        if len(input_shape) == 2
        else ""
    )
    raise ValueError(
        f"{layer} expects images of shape (height, width, channels) per sample "
        f"(channels last), received input shape {input_shape}{hint}"
    )


def window(
    layer: str,
    what: str,
    shape: tuple[int, int, int],
    size: tuple[int, int],
    strides: tuple[int, int],
    pad: str,
) -> Window:
    """The sliding window of ``size`` over ``shape``; an empty output is an error."""
    h, w, _ = shape
    if pad == "valid" and (size[0] > h or size[1] > w):
        raise ValueError(
            f"{layer}: {what}={size} is larger than the input ({h}, {w}) with "
            f"padding='valid'; use a smaller {what}, padding='same', or a larger input"
        )
    return make_window(h, w, size, strides, pad)
