"""``ImageDataGenerator``: Keras' legacy augmentation pipeline over arrays, on the warp kernel.

``ImageDataGenerator(rotation_range=10, zoom_range=0.1, width_shift_range=0.1, ...)``, then
``fit(x)`` (per-channel statistics, used only by the featurewise options) and
``flow(x, y, batch_size=32, shuffle=True, seed=None)``: a :class:`NumpyArrayIterator` of
augmented batches, both a :class:`~netcore.utils.PyDataset` (``len``, ``[i]``,
``on_epoch_end``: what ``fit`` takes) and an endless iterator, as Keras' is. Each batch is ONE call of the fused
:meth:`~netcore.backend.base.Backend.affine_warp` on the CPU backend.

Per image (legacy semantics), in degrees and fractions:

* ``theta ~ U[-rotation_range, rotation_range]`` degrees (counter-clockwise for ``theta > 0``);
* a shift of ``U[-r, r] * height`` rows for ``height_shift_range=r < 1`` (``r >= 1``: a whole
  number of pixels in ``[0, r)`` with a random sign; a list: one of its values, random sign),
  columns likewise from ``width_shift_range``;
* ``shear ~ U[-shear_range, shear_range]`` degrees;
* zooms ``z_x, z_y ~ U[1 - z, 1 + z]`` drawn apart for ``zoom_range=z`` (or ``[lo, hi]``);
  ``z > 1`` zooms out;
* left-right / top-bottom flips with probability 1/2 when asked.

In ``(x, y)`` pixel coordinates about the centre ``((w-1)/2, (h-1)/2)`` the output pixel
samples the input at ``R(theta) T(shift) S(shear) Z(z_x, z_y)`` of its position (``R``
``[[cos, -sin], [sin, cos]]``, ``S`` ``[[1, -sin s], [0, cos s]]``), flips applied last,
with ``interpolation_order`` 1 (bilinear, the default) or 0 (nearest) and ``fill_mode``
("nearest", "reflect", "wrap", "constant" with ``cval``) tap by tap. Then, in Keras' order:
``preprocessing_function``, ``rescale``, samplewise and featurewise centring and scaling.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import validation
from ..backend.cpu import CPUBackend
from ..backend.warp_ops import FILL_MODES, check_choice
from ..utils import PyDataset

_UNSUPPORTED = {
    "zca_whitening": False,
    "brightness_range": None,
    "channel_shift_range": 0.0,
    "validation_split": 0.0,
}


def _range(value: Any, name: str, low: float = 0.0) -> float:
    if not validation.is_real_number(value) or value < low:
        raise ValueError(f"{name} must be a number >= {low}. Received: {name}={value!r}")
    return float(value)


def _zoom(value: Any) -> tuple[float, float]:
    if validation.is_real_number(value) and 0 <= value < 1:
        return 1.0 - float(value), 1.0 + float(value)
    try:
        lo, hi = (float(v) for v in value)
        ok = 0 < lo <= hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            "zoom_range must be a number in [0, 1) or a pair [lower, upper] with "
            f"0 < lower <= upper. Received: zoom_range={value!r}"
        )
    return lo, hi


def _shift(value: Any, name: str) -> Any:
    if validation.is_integer(value) and value >= 0:
        return int(value)
    if validation.is_real_number(value) and 0 <= value < 1:
        return float(value)
    if (
        isinstance(value, (list, tuple))
        and value
        and all(validation.is_real_number(v) for v in value)
    ):
        return [float(v) for v in value]
    raise ValueError(
        f"{name} must be a fraction in [0, 1), a number of pixels (int >= 0) or a list of "
        f"values. Received: {name}={value!r}"
    )


class ImageDataGenerator:
    """Random rotations, shifts, shear, zooms and flips of image batches (see the module)."""

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        rotation_range: float = 0,
        width_shift_range: Any = 0.0,
        height_shift_range: Any = 0.0,
        shear_range: float = 0.0,
        zoom_range: Any = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: float | None = None,
        preprocessing_function: Callable | None = None,
        data_format: str | None = None,
        interpolation_order: int = 1,
        dtype: Any = "float32",
        **unsupported: Any,
    ) -> None:
        for name, value in unsupported.items():
            if name not in _UNSUPPORTED:
                raise TypeError(f"ImageDataGenerator got an unexpected argument {name!r}")
            if value != _UNSUPPORTED[name]:
                raise NotImplementedError(
                    f"ImageDataGenerator does not support {name}. Received: {name}={value!r}"
                )
        self.featurewise_center = validation.check_bool(featurewise_center, "featurewise_center")
        self.samplewise_center = validation.check_bool(samplewise_center, "samplewise_center")
        self.featurewise_std_normalization = validation.check_bool(
            featurewise_std_normalization, "featurewise_std_normalization"
        )
        self.samplewise_std_normalization = validation.check_bool(
            samplewise_std_normalization, "samplewise_std_normalization"
        )
        self.rotation_range = _range(rotation_range, "rotation_range")
        self.width_shift_range = _shift(width_shift_range, "width_shift_range")
        self.height_shift_range = _shift(height_shift_range, "height_shift_range")
        self.shear_range = _range(shear_range, "shear_range")
        self.zoom_range = _zoom(zoom_range)
        self.fill_mode = check_choice(fill_mode, "fill_mode", FILL_MODES)
        if not validation.is_real_number(cval):
            raise ValueError(f"cval must be a number. Received: cval={cval!r}")
        self.cval = float(cval)
        self.horizontal_flip = validation.check_bool(horizontal_flip, "horizontal_flip")
        self.vertical_flip = validation.check_bool(vertical_flip, "vertical_flip")
        if rescale is not None and not validation.is_real_number(rescale):
            raise ValueError(f"rescale must be a number or None. Received: rescale={rescale!r}")
        self.rescale = rescale
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise ValueError(
                "preprocessing_function must be callable or None. "
                f"Received: preprocessing_function={preprocessing_function!r}"
            )
        self.preprocessing_function = preprocessing_function
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "ImageDataGenerator supports data_format='channels_last' only. "
                f"Received: data_format={data_format!r}"
            )
        if interpolation_order not in (0, 1):
            raise ValueError(
                "interpolation_order must be 0 (nearest) or 1 (bilinear). "
                f"Received: interpolation_order={interpolation_order!r}"
            )
        self.interpolation = "bilinear" if interpolation_order == 1 else "nearest"
        self.dtype = validation.check_dtype(dtype)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self._backend: CPUBackend | None = None

    # ------------------------------------------------------------------ statistics
    def fit(self, x: Any, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Per-channel mean and standard deviation of ``x`` (``(N, H, W, C)``), for
        ``featurewise_center`` / ``featurewise_std_normalization`` (``augment``: over
        ``rounds`` augmented copies)."""
        x = check_images(x, "x").astype(self.dtype)
        if augment:
            rng = np.random.default_rng(seed)
            x = np.concatenate(
                [self.apply(x, self.random_transforms(x.shape, rng)) for _ in range(rounds)]
            )
        self.mean = x.mean(axis=(0, 1, 2)).astype(self.dtype)
        self.std = x.std(axis=(0, 1, 2)).astype(self.dtype)

    # ------------------------------------------------------------------ transforms
    def _draw_shift(self, rng: np.random.Generator, r: Any, size: int, n: int) -> np.ndarray:
        if isinstance(r, list):
            return rng.choice(r, n) * rng.choice([-1.0, 1.0], n)
        if isinstance(r, int) and r >= 1:
            return rng.integers(0, r, n) * rng.choice([-1.0, 1.0], n)
        return rng.uniform(-r, r, n) * size

    def random_transforms(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """``(N, 6)`` inverse affine maps (the warp kernel's rows) for a batch of ``shape``."""
        n, h, w = shape[0], shape[1], shape[2]
        theta = np.deg2rad(rng.uniform(-self.rotation_range, self.rotation_range, n))
        ty = self._draw_shift(rng, self.height_shift_range, h, n)
        tx = self._draw_shift(rng, self.width_shift_range, w, n)
        shear = np.deg2rad(rng.uniform(-self.shear_range, self.shear_range, n))
        zx, zy = rng.uniform(*self.zoom_range, (2, n))
        flip_x = (rng.random(n) < 0.5) & self.horizontal_flip
        flip_y = (rng.random(n) < 0.5) & self.vertical_flip
        m = np.zeros((n, 3, 3))
        m[:, 2, 2] = 1.0
        c, s = np.cos(theta), np.sin(theta)
        # R(theta) T(tx, ty) S(shear) Z(zx, zy), written out
        a00, a01 = c * zx, (-c * np.sin(shear) - s * np.cos(shear)) * zy
        a10, a11 = s * zx, (-s * np.sin(shear) + c * np.cos(shear)) * zy
        m[:, 0, :] = np.stack([a00, a01, c * tx - s * ty], 1)
        m[:, 1, :] = np.stack([a10, a11, s * tx + c * ty], 1)
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        centre = np.array([[1.0, 0, cx], [0, 1.0, cy], [0, 0, 1.0]])
        back = np.array([[1.0, 0, -cx], [0, 1.0, -cy], [0, 0, 1.0]])
        flips = np.zeros((n, 3, 3))
        flips[:, 0, 0] = np.where(flip_x, -1.0, 1.0)
        flips[:, 0, 2] = np.where(flip_x, w - 1.0, 0.0)
        flips[:, 1, 1] = np.where(flip_y, -1.0, 1.0)
        flips[:, 1, 2] = np.where(flip_y, h - 1.0, 0.0)
        flips[:, 2, 2] = 1.0
        full = centre @ m @ back @ flips
        return np.ascontiguousarray(full[:, :2, :].reshape(n, 6))

    def apply(self, x: np.ndarray, transforms: np.ndarray) -> np.ndarray:
        """Warp the batch ``x`` by ``transforms`` into a new array (``x`` is only read)."""
        if self._backend is None:
            self._backend = CPUBackend()
        x = np.ascontiguousarray(x, dtype=self.dtype)
        return self._backend.affine_warp(
            x, transforms, self.fill_mode, self.interpolation, self.cval, out=np.empty_like(x)
        )

    def random_transform(self, x: Any, seed: int | None = None) -> np.ndarray:
        """One image ``(H, W, C)``, randomly transformed."""
        img = np.asarray(x)
        if img.ndim != 3:
            raise ValueError(
                f"random_transform expects one image (height, width, channels). Received: shape {img.shape}"
            )
        batch = img[None]
        return self.apply(batch, self.random_transforms(batch.shape, np.random.default_rng(seed)))[
            0
        ]

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Keras' order: preprocessing_function, rescale, samplewise, featurewise (in place)."""
        if self.preprocessing_function is not None:
            x = np.stack([np.asarray(self.preprocessing_function(img), self.dtype) for img in x])
        if self.rescale:
            x *= self.dtype.type(self.rescale)
        if self.samplewise_center:
            x -= x.mean(axis=(1, 2, 3), keepdims=True)
        if self.samplewise_std_normalization:
            x /= x.std(axis=(1, 2, 3), keepdims=True) + 1e-6
        for on, stat, name in (
            (self.featurewise_center, self.mean, "featurewise_center"),
            (self.featurewise_std_normalization, self.std, "featurewise_std_normalization"),
        ):
            if not on:
                continue
            if stat is None:
                raise RuntimeError(f"{name} needs the data's statistics: call fit(x_train) first")
            if name == "featurewise_center":
                x -= stat
            else:
                x /= stat + 1e-6
        return x

    def flow(
        self,
        x: Any,
        y: Any = None,
        batch_size: int = 32,
        shuffle: bool = True,
        sample_weight: Any = None,
        seed: int | None = None,
    ) -> NumpyArrayIterator:
        """Augmented batches of ``(x, y)`` (see :class:`NumpyArrayIterator`)."""
        return NumpyArrayIterator(self, x, y, batch_size, shuffle, sample_weight, seed)


def check_images(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 4 or not np.issubdtype(arr.dtype, np.number):
        hint = (
            " (grey images without a channel axis: add one, x[..., None])" if arr.ndim == 3 else ""
        )
        raise ValueError(
            f"{name} must be a numeric 4-D array of images (N, height, width, channels)"
            f"{hint}. Received: shape {arr.shape}, dtype {arr.dtype}"
        )
    return arr


class NumpyArrayIterator(PyDataset):
    """Augmented batches: ``len()`` batches per pass, ``it[i]`` the ``i``-th batch of this
    pass (``(x, y)``, ``(x, y, sample_weight)`` or ``x``), ``on_epoch_end()`` starts the next
    pass (new order when ``shuffle``, new transforms); ``next(it)`` walks the passes forever,
    as Keras' iterator does. Batch ``i`` of pass ``e`` depends only on ``(seed, e, i)``."""

    def __init__(
        self,
        gen: ImageDataGenerator,
        x: Any,
        y: Any,
        batch_size: int,
        shuffle: bool,
        sample_weight: Any,
        seed: int | None,
    ) -> None:
        super().__init__()
        self.gen = gen
        self.x = check_images(x, "x")
        n = len(self.x)
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != n:
            raise ValueError(
                f"x and y must hold the same number of samples. Received: len(x)={n}, "
                f"len(y)={len(self.y)}"
            )
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        if self.sample_weight is not None and len(self.sample_weight) != n:
            raise ValueError(
                f"sample_weight must hold one weight per sample. Received: {len(self.sample_weight)} for {n} samples"
            )
        self.batch_size = validation.check_batch_size(batch_size)
        self.shuffle = validation.check_bool(shuffle, "shuffle")
        if seed is not None and not (validation.is_integer(seed) and seed >= 0):
            raise ValueError(
                f"seed must be a non-negative integer or None. Received: seed={seed!r}"
            )
        self.seed = (
            int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        )
        self.epoch = 0
        self._next = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        n = len(self.x)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch, 0]).permutation(n)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        if not validation.is_integer(index) or not 0 <= index < len(self):
            raise IndexError(f"batch index must be in [0, {len(self)}). Received: {index!r}")
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, 1 + int(index)])
        batch = self.x[idx].astype(self.gen.dtype)
        out = self.gen.standardize(
            self.gen.apply(batch, self.gen.random_transforms(batch.shape, rng))
        )
        if self.y is None:
            return out
        if self.sample_weight is None:
            return out, self.y[idx]
        return out, self.y[idx], self.sample_weight[idx]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._make_order()

    def __iter__(self) -> NumpyArrayIterator:
        return self

    def __next__(self) -> Any:
        if self._next >= len(self):
            self.on_epoch_end()
            self._next = 0
        self._next += 1
        return self[self._next - 1]


__all__ = ["ImageDataGenerator", "NumpyArrayIterator"]
