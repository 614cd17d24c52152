"""Weight initializers (Keras names). Drawn on the host in float64 from the model's seeded
NumPy generator, so the same seed gives the same weights on every backend."""

from __future__ import annotations

from typing import Any

import numpy as np

INITIALIZER_NAMES = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros", "ones")


def canonical(name: Any, argument: str) -> str:
    if isinstance(name, str) and name.lower() in INITIALIZER_NAMES:
        return name.lower()
    raise ValueError(f"{argument} must be one of {list(INITIALIZER_NAMES)}, received {name!r}")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` (Keras' ``compute_fans``)."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def initialize(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Draw an array of ``shape``. Fans as Keras: a Dense kernel ``(in, out)`` has fan_in
    ``in`` and fan_out ``out``; a convolution kernel ``(kh, kw, c_in, c_out)`` has fan_in
    ``kh kw c_in`` and fan_out ``kh kw c_out`` (the receptive field times the channels)."""
    fan_in, fan_out = fans(shape)
    if name == "zeros":
        return np.zeros(shape)
    if name == "ones":
        return np.ones(shape)
    if name == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if name == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, size=shape)
    std = np.sqrt(2.0 / (fan_in + fan_out)) if name == "glorot_normal" else np.sqrt(2.0 / fan_in)
    # Keras draws normal initializers from a normal truncated at 2 std (std corrected by .8796).
    std /= 0.87962566103423978
    out = rng.standard_normal(size=shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(out) > 2
    return out * std
