"""Image files to arrays and back, as ``keras.preprocessing.image`` (``keras.utils``) does it.

>>> from netcore.preprocessing import image                      # doctest: +SKIP
>>> img = image.load_img("letter.png", color_mode="grayscale", target_size=(28, 28))
>>> x = image.img_to_array(img).reshape(1, 28, 28, 1) / 255        # the course's scaling

:class:`ImageDataGenerator` (augmented batches from arrays, :mod:`.image_generator`) is
importable from here too, as in Keras.

Pillow reads the files (the ``images`` extra: ``pip install 'netcore[images]'``): PNG, JPEG,
BMP, GIF and the other formats it knows. Arrays are channels-last ``(height, width,
channels)``: 1 channel for "grayscale", 3 for "rgb", 4 for "rgba".
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .image_generator import ImageDataGenerator, NumpyArrayIterator  # noqa: F401 (re-export)

COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
_CHANNELS = (1, 3, 4)


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "reading and writing images needs Pillow: pip install 'netcore[images]'"
        ) from exc
    return Image


def load_img(
    path: str | os.PathLike,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
) -> Any:
    """The image file at ``path`` as a PIL image in ``color_mode`` ("grayscale", "rgb" or
    "rgba"; a colour file is converted with ITU-R 601-2 luma ``L = 0.299 R + 0.587 G +
    0.114 B`` for "grayscale"), resized to ``target_size`` ``(height, width)`` with
    ``interpolation`` (Keras' default "nearest") when given.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not an image Pillow can read, or an argument is out of range
            (named, with what was received).
    """
    if color_mode not in COLOR_MODES:
        raise ValueError(
            f"color_mode must be one of {list(COLOR_MODES)}. Received: color_mode={color_mode!r}"
        )
    if target_size is not None:
        target_size = _check_size(target_size)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {list(INTERPOLATIONS)}. "
            f"Received: interpolation={interpolation!r}"
        )
    Image = _pil()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no image file at {path!r}")
    try:
        with Image.open(path) as opened:
            img = opened.convert(COLOR_MODES[color_mode])  # reads the pixels, then closes
    except (Image.UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(
            f"{path!r} is not an image file that can be read (PNG, JPEG, BMP, GIF, ...): {exc}"
        ) from None
    if target_size is not None and img.size != (target_size[1], target_size[0]):
        resample = getattr(Image.Resampling, interpolation.upper())
        img = img.resize((target_size[1], target_size[0]), resample)
    return img


def _check_size(size: Any) -> tuple[int, int]:
    ok = isinstance(size, (tuple, list)) and len(size) == 2
    ok = ok and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
    if not ok or min(size) <= 0:
        raise ValueError(
            f"target_size must be (height, width), two positive integers. "
            f"Received: target_size={size!r}"
        )
    return int(size[0]), int(size[1])


def img_to_array(img: Any, dtype: Any = "float32") -> np.ndarray:
    """A PIL image as an array ``(height, width, channels)`` of ``dtype`` (pixel values as
    stored: 0-255 for 8-bit images); a grayscale image gets its channel axis ``(h, w, 1)``."""
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"img must be a 2-D image. Received: an array of shape {x.shape}")
    return x


def array_to_img(x: Any, scale: bool = True) -> Any:
    """An array ``(height, width, channels)`` (1, 3 or 4 channels) as a PIL image.

    With ``scale`` the values are stretched to 0-255 (``255 (x - min) / (max - min)``; a
    constant image becomes 0), as Keras does; without, they must already be in 0-255.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] not in _CHANNELS:
        raise ValueError(
            "x must be one image of shape (height, width, channels) with 1, 3 or 4 channels. "
            f"Received: x of shape {a.shape}"
        )
    if not np.isfinite(a).all():
        raise ValueError("x holds NaN or inf values; an image needs finite pixel values")
    if scale:
        a = a - a.min()
        top = a.max()
        a = a * (255.0 / top) if top > 0 else a
    elif a.min() < 0 or a.max() > 255:
        raise ValueError(
            f"with scale=False the values must be in [0, 255]. Received: values from "
            f"{a.min():g} to {a.max():g}"
        )
    pixels = np.round(a).astype(np.uint8)
    # uint8 (h, w) reads as "L", (h, w, 3) as "RGB", (h, w, 4) as "RGBA"
    return _pil().fromarray(pixels[:, :, 0] if a.shape[2] == 1 else pixels)
