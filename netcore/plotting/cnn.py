"""What a convolutional network sees: its first layer's filters, and one image's feature maps
through the convolution and pooling layers."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ._base import new_figure, save_png

__all__ = ["plot_filters", "plot_feature_maps", "feature_maps"]


def _conv_layers(model: Any) -> list[Any]:
    """The layers holding a 4-D convolution kernel ``(kh, kw, c_in, filters)``."""
    return [
        layer
        for layer in getattr(model, "layers", ())
        if getattr(layer.params.get("kernel"), "ndim", 0) == 4
    ]


def _figure_or_file(fig: Any, path: str | os.PathLike[str] | None) -> Any:
    return fig if path is None else save_png(fig, path)


def plot_filters(
    model: Any,
    path: str | os.PathLike[str] | None = None,
    layer: int | str | None = None,
    channel: int = 0,
    title: str | None = None,
) -> Any:
    """Draw a Conv2D layer's filters as small images: filter ``f`` is
    ``kernel[:, :, channel, f]``, the weights it multiplies its ``kh x kw`` window of input
    channel ``channel`` by. One colour scale, symmetric about 0, for every filter (red:
    positive, blue: negative), so that their strengths compare.

    Args:
        model: a built model with at least one Conv2D layer.
        path: the PNG to write; None returns the ``matplotlib.figure.Figure`` instead.
        layer: which Conv2D: its index among the model's Conv2D layers or its name;
            default the first (the one that looks at the pixels).
        channel: the input channel to show for layers with more than one.
        title: the title; default names the layer and its kernel shape.

    Returns:
        the :class:`~pathlib.Path` written, or the Figure when ``path`` is None.

    Raises:
        ValueError: the model has no Conv2D layer, ``layer`` names none, or ``channel`` is
            outside the layer's input channels.
        PlottingUnavailableError: matplotlib is not installed.
    """
    convs = _conv_layers(model)
    if not convs:
        raise ValueError(
            "model must hold a built Conv2D layer (a 4-D kernel) to draw filters of, received "
            f"layers {[type(ly).__name__ for ly in getattr(model, 'layers', ())]}"
        )
    chosen = _pick(convs, layer)
    kernel = np.asarray(chosen.backend.to_numpy(chosen.params["kernel"]), dtype=np.float64)
    kh, kw, c_in, n = kernel.shape
    if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < c_in:
        raise ValueError(
            f"channel must be an input channel of {chosen.name!r}, 0..{c_in - 1}, "
            f"received {channel!r}"
        )
    weights = kernel[:, :, channel, :]
    limit = float(np.max(np.abs(weights))) or 1.0
    cols = min(n, max(1, math.ceil(math.sqrt(n * 1.6))))
    rows = math.ceil(n / cols)
    fig = new_figure(0.75 * cols + 0.9, 0.75 * rows + 0.7)
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for f, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if f < n:
            image = ax.imshow(weights[:, :, f], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(f), fontsize=7, pad=1)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="weight")
    fig.suptitle(
        title
        or f"{chosen.name}: {n} filters of {kh}x{kw}"
        + (f" (input channel {channel} of {c_in})" if c_in > 1 else "")
    )
    return _figure_or_file(fig, path)


def _pick(convs: list[Any], layer: int | str | None) -> Any:
    if layer is None:
        return convs[0]
    if isinstance(layer, str):
        for conv in convs:
            if conv.name == layer:
                return conv
    elif isinstance(layer, int) and not isinstance(layer, bool) and 0 <= layer < len(convs):
        return convs[layer]
    raise ValueError(
        f"layer must be the index (0..{len(convs) - 1}) or the name of a Conv2D layer, one of "
        f"{[c.name for c in convs]}, received {layer!r}"
    )


def _image_batch(model: Any, image: Any) -> np.ndarray:
    """``image`` as a batch of one of the model's input shape, pixels as they are."""
    shape = tuple(getattr(model, "input_shape", None) or ())
    if not shape:
        raise ValueError("model must be built (its input shape known) to draw feature maps")
    arr = np.asarray(image.get() if hasattr(image, "__cuda_array_interface__") else image)
    if arr.size != math.prod(shape) or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"image must be one image of the model's input shape {shape} (or the same pixels "
            f"without the channel axis), received an array of shape {arr.shape}, "
            f"dtype {arr.dtype}"
        )
    return arr.reshape((1, *shape))


def feature_maps(model: Any, image: Any) -> list[tuple[str, np.ndarray]]:
    """``(layer name, maps (H, W, C))`` for one image, after each layer that changes a 4-D
    shape (convolutions and pooling; batch norm, dropout and activations keep it), with the
    input first. Inference mode: batch norm uses its moving statistics, dropout is off."""
    be = model.backend
    x = be.asarray(_image_batch(model, image).astype(model.dtype))
    maps = [("input", np.array(be.to_numpy(x))[0])]
    for layer in model.layers:
        y = layer.forward(x, False)
        if len(y.shape) != 4:
            break
        if tuple(y.shape) != tuple(x.shape):
            maps.append((layer.name, np.array(be.to_numpy(y))[0]))
        x = y
    return maps


def plot_feature_maps(
    model: Any,
    image: Any,
    path: str | os.PathLike[str] | None = None,
    max_maps: int = 8,
    title: str | None = None,
) -> Any:
    """Draw one image as it passes through a CNN: a row per layer that changes the 4-D shape
    (each Conv2D: one map per filter, ``relu(filter * image + bias)``; each pooling layer: the
    maps shrunk), its first ``max_maps`` channels, each on its own grey scale.

    Args:
        model: a built model whose first layers take images ``(H, W, C)``.
        image: one image, ``(H, W, C)`` or ``(H, W)`` when ``C`` is 1, pixels as the model
            takes them (the course scales them to 0-1).
        path: the PNG to write; None returns the ``matplotlib.figure.Figure`` instead.
        max_maps: how many channels to draw per layer (at least 1).
        title: the title; default says what the rows are.

    Returns:
        the :class:`~pathlib.Path` written, or the Figure when ``path`` is None.

    Raises:
        ValueError: the image does not fit the model, the model has no 4-D layer, or
            ``max_maps`` is not a positive integer.
        PlottingUnavailableError: matplotlib is not installed.
    """
    if isinstance(max_maps, bool) or not isinstance(max_maps, int) or max_maps < 1:
        raise ValueError(f"max_maps must be a positive integer, received {max_maps!r}")
    maps = feature_maps(model, image)
    if len(maps) < 2:
        raise ValueError(
            "model must start with layers on images (Conv2D, pooling) to draw feature maps of; "
            f"its first layer gives {model.layers[0].name!r} no 4-D output"
        )
    cols = min(max_maps, max(m.shape[-1] for _, m in maps))
    fig = new_figure(1.1 * cols + 1.4, 1.15 * len(maps) + 0.6)
    axes = fig.subplots(len(maps), cols, squeeze=False)
    for row, (name, m) in zip(axes, maps):
        for c, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= m.shape[-1]:
                ax.set_axis_off()
                continue
            ax.imshow(m[:, :, c], cmap="gray")
        row[0].set_ylabel(f"{name}\n{m.shape[0]}x{m.shape[1]}x{m.shape[2]}", fontsize=8)
    fig.suptitle(
        title or f"One image through the network: the first {cols} channels after each layer"
    )
    return _figure_or_file(fig, path)
