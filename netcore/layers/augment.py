"""Image augmentation layers, Keras 3's: RandomFlip, RandomRotation, RandomZoom, RandomTranslation.

Each draws one random transform per image and warps the batch with ONE fused op,
:meth:`~netcore.backend.base.Backend.affine_warp` (kernel :mod:`netcore.kernels.warp`): the
random numbers and the ``(N, 6)`` inverse affine maps are made on the backend's device, so on
a GPU the images never go back to the host. Active only while training (``fit``); identity in
``evaluate``, ``predict`` and validation. The batch handed in is only read.

Randomness: without ``seed`` a layer draws from the backend's generator, which the trainer
reseeds each epoch from the model's seed (a seeded model repeats its augmentations); with
``seed`` the layer keeps its own generator on the device, seeded once when built.

They have no weights and no gradient: they belong at the start of a model, before any layer
with weights. A model refuses, when built, one placed after a layer with weights.

Inverse maps (output pixel ``(x, y)`` samples the input at ``(a0 x + a1 y + a2,
b0 x + b1 y + b2)``), ``h x w`` images, ``u ~ U[lower, upper]`` per image:

* rotation by ``theta = 2 pi u`` (counter-clockwise for ``u > 0``) about the centre:
  ``(cos, -sin, ((w-1) - (cos (w-1) - sin (h-1)))/2, sin, cos, ((h-1) - (sin (w-1) + cos (h-1)))/2)``;
* zoom ``z = 1 + u`` per axis (``z > 1`` zooms out) about the centre:
  ``(z_w, 0, (w-1)/2 (1 - z_w), 0, z_h, (h-1)/2 (1 - z_h))``;
* translation by ``(u_w w, u_h h)`` pixels (right and down for ``u > 0``): ``(1, 0, -u_w w, 0, 1, -u_h h)``;
* flip: ``x -> (w-1) - x`` and/or ``y -> (h-1) - y``, each with probability 1/2.
"""

from __future__ import annotations

import math
from typing import Any

from .. import validation
from ..backend.warp_ops import FILL_MODES, INTERPOLATIONS, check_choice
from . import _spatial
from .base import BuildContext, Layer

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def factor_range(value: Any, name: str, bounds: tuple[float, float] = (-1.0, 1.0)) -> tuple:
    """``(lower, upper)`` from a number ``f`` (``(-|f|, |f|)``) or a pair, inside ``bounds``."""
    pair = (-abs(value), abs(value)) if validation.is_real_number(value) else value
    try:
        ok = len(pair) == 2 and all(validation.is_real_number(v) for v in pair)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} must be a number or a tuple (lower, upper) of two numbers. "
            f"Received: {name}={value!r}"
        )
    lo, hi = float(pair[0]), float(pair[1])
    if not (bounds[0] <= lo <= hi <= bounds[1]):
        raise ValueError(
            f"{name} must lie in [{bounds[0]}, {bounds[1]}] with lower <= upper. "
            f"Received: {name}={value!r}"
        )
    return lo, hi


def _seed(seed: Any) -> int | None:
    if seed is None or (validation.is_integer(seed) and seed >= 0):
        return None if seed is None else int(seed)
    raise ValueError(f"seed must be a non-negative integer or None. Received: seed={seed!r}")


class _RandomWarp(Layer):
    """A random affine warp per image while training; identity otherwise."""

    #: identity outside training: left out of an exported (ONNX) inference graph
    identity_at_inference = True

    #: A layer of input augmentation: no weights, no gradient (see the module docstring).
    augments = True
    default_name = "random_warp"

    def __init__(
        self,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        input_shape: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape, name or self.default_name)
        self.fill_mode = check_choice(fill_mode, "fill_mode", FILL_MODES)
        self.interpolation = check_choice(interpolation, "interpolation", INTERPOLATIONS)
        self.seed = _seed(seed)
        if not validation.is_real_number(fill_value):
            raise ValueError(f"fill_value must be a number. Received: fill_value={fill_value!r}")
        self.fill_value = float(fill_value)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"{type(self).__name__} supports data_format='channels_last' only. "
                f"Received: data_format={data_format!r}"
            )

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        _spatial.image_shape(type(self).__name__, input_shape)
        xp = ctx.backend.xp
        self._rng = None if self.seed is None else xp.random.default_rng(self.seed)
        return input_shape

    def _uniform(self, n: int, lo: float, hi: float) -> Any:
        """``n`` draws of ``U[lo, hi)`` (float64) on the device."""
        xp = self.backend.xp
        u = (
            self.backend.uniform((n,), xp.float64)
            if self._rng is None
            else self._rng.random((n,), dtype=xp.float64)
        )
        return lo + (hi - lo) * u

    def _transforms(self, n: int, h: int, w: int) -> Any:
        """The ``(n, 6)`` float64 inverse affine maps of this batch, on the device."""
        raise NotImplementedError

    def forward(self, x: Any, training: bool = False) -> Any:
        if not training:
            return x
        if getattr(x, "ndim", 0) != 4:
            raise ValueError(
                f"{type(self).__name__} expects a batch of images (N, height, width, "
                f"channels). Received: shape {getattr(x, 'shape', None)}"
            )
        n, h, w, _ = x.shape
        t = self._transforms(n, h, w)
        return self.backend.affine_warp(
            x,
            t,
            self.fill_mode,
            self.interpolation,
            self.fill_value,
            out=self.buffer("y", tuple(x.shape)),
        )

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if need_dx:  # the model refuses this placement when built
            raise RuntimeError(f"{self.name}: augmentation layers pass no gradient back")
        return None

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "seed": self.seed,
            "fill_value": self.fill_value,
        }


def _stack(xp: Any, n: int, *cols: Any) -> Any:
    t = xp.empty((n, 6), dtype=xp.float64)
    for k, col in enumerate(cols):
        t[:, k] = col
    return t


class RandomRotation(_RandomWarp):
    """Rotate each image by ``2 pi u`` radians, ``u ~ U[lower, upper]`` from ``factor``
    (a number ``f``: ``[-f, f]``; a fraction of a full turn, in [-1, 1]; positive is
    counter-clockwise)."""

    default_name = "random_rotation"

    def __init__(self, factor: Any, fill_mode: str = "reflect", **kwargs: Any) -> None:
        super().__init__(fill_mode, **kwargs)
        self.factor = factor_range(factor, "factor")

    def _transforms(self, n: int, h: int, w: int) -> Any:
        xp = self.backend.xp
        angle = self._uniform(n, *self.factor) * (2.0 * math.pi)
        c, s = xp.cos(angle), xp.sin(angle)
        x_off = ((w - 1) - (c * (w - 1) - s * (h - 1))) / 2.0
        y_off = ((h - 1) - (s * (w - 1) + c * (h - 1))) / 2.0
        return _stack(xp, n, c, -s, x_off, s, c, y_off)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_RandomWarp):
    """Zoom each image by ``1 + u`` per axis, ``u ~ U[lower, upper]`` from ``height_factor``
    and ``width_factor`` (in [-1, 1]; positive zooms out, negative in). ``width_factor=None``
    uses the height's draw: the aspect ratio is kept."""

    default_name = "random_zoom"

    def __init__(
        self,
        height_factor: Any,
        width_factor: Any = None,
        fill_mode: str = "reflect",
        **kwargs: Any,
    ) -> None:
        super().__init__(fill_mode, **kwargs)
        self.height_factor = factor_range(height_factor, "height_factor")
        self.width_factor = (
            None if width_factor is None else factor_range(width_factor, "width_factor")
        )

    def _transforms(self, n: int, h: int, w: int) -> Any:
        xp = self.backend.xp
        zh = 1.0 + self._uniform(n, *self.height_factor)
        zw = zh if self.width_factor is None else 1.0 + self._uniform(n, *self.width_factor)
        zero = xp.zeros(n)
        x_off = (w - 1) / 2.0 * (1.0 - zw)
        y_off = (h - 1) / 2.0 * (1.0 - zh)
        return _stack(xp, n, zw, zero, x_off, zero, zh, y_off)

    def get_config(self) -> dict:
        width = None if self.width_factor is None else list(self.width_factor)
        return {
            **super().get_config(),
            "height_factor": list(self.height_factor),
            "width_factor": width,
        }


class RandomTranslation(_RandomWarp):
    """Shift each image by ``u_h * height`` rows and ``u_w * width`` columns,
    ``u ~ U[lower, upper]`` from ``height_factor`` and ``width_factor`` (fractions of the
    size, in [-1, 1]; positive moves the content down and right)."""

    default_name = "random_translation"

    def __init__(
        self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect", **kwargs: Any
    ) -> None:
        super().__init__(fill_mode, **kwargs)
        self.height_factor = factor_range(height_factor, "height_factor")
        self.width_factor = factor_range(width_factor, "width_factor")

    def _transforms(self, n: int, h: int, w: int) -> Any:
        xp = self.backend.xp
        dy = self._uniform(n, *self.height_factor) * h
        dx = self._uniform(n, *self.width_factor) * w
        one, zero = xp.ones(n), xp.zeros(n)
        return _stack(xp, n, one, zero, -dx, zero, one, -dy)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "height_factor": list(self.height_factor),
            "width_factor": list(self.width_factor),
        }


class RandomFlip(_RandomWarp):
    """Flip each image left-right (``mode="horizontal"``), top-bottom (``"vertical"``) or
    each independently (``"horizontal_and_vertical"``), each with probability 1/2. As Keras,
    it takes no ``fill_mode`` or ``interpolation`` (a flip lands on whole pixels)."""

    default_name = "random_flip"

    def __init__(
        self,
        mode: str = "horizontal_and_vertical",
        seed: int | None = None,
        data_format: str | None = None,
        input_shape: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            "reflect", "nearest", seed, 0.0, data_format, input_shape=input_shape, name=name
        )
        self.mode = check_choice(mode, "mode", FLIP_MODES)

    def _flip(self, n: int, size: int, on: bool) -> tuple[Any, Any]:
        """(scale, offset) of one axis: ``-1, size-1`` for a flipped image, else ``1, 0``."""
        xp = self.backend.xp
        if not on:
            return xp.ones(n), xp.zeros(n)
        flipped = self._uniform(n, 0.0, 1.0) < 0.5
        return 1.0 - 2.0 * flipped, (size - 1) * flipped.astype(xp.float64)

    def _transforms(self, n: int, h: int, w: int) -> Any:
        sx, ox = self._flip(n, w, self.mode != "vertical")
        sy, oy = self._flip(n, h, self.mode != "horizontal")
        zero = self.backend.xp.zeros(n)
        return _stack(self.backend.xp, n, sx, zero, ox, zero, sy, oy)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            **({"input_shape": list(self.input_shape)} if self.input_shape else {}),
            "mode": self.mode,
            "seed": self.seed,
        }


AUGMENTATION_LAYERS = (RandomFlip, RandomRotation, RandomZoom, RandomTranslation)

__all__ = [
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "AUGMENTATION_LAYERS",
    "factor_range",
]
