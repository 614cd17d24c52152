"""Activation functions by name, and host-side helpers for plotting and teaching.

Inside a model the activations run as backend ops (``Backend.bias_act`` fuses the bias add
with linear / relu / sigmoid / tanh; softmax has its own op), so this module only names them
and offers the same functions on NumPy arrays for users (``netcore.activations.relu(x)``).
"""

from __future__ import annotations

from typing import Any

ACTIVATION_NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax")
_ALIASES = {None: "linear", "identity": "linear"}


def canonical(name: Any, argument: str = "activation") -> str:
    """Validate an activation name and return its canonical spelling."""
    if name in _ALIASES:
        return _ALIASES[name]
    if isinstance(name, str) and name.lower() in ACTIVATION_NAMES:
        return name.lower()
    raise ValueError(
        f"{argument} must be one of {list(ACTIVATION_NAMES)} or None, received {name!r}"
    )


def _cpu():
    from .backend.cpu import CPUBackend

    return CPUBackend()


def apply(name: str, x: Any) -> Any:
    """Apply activation ``name`` to a host array (a float copy; the input is untouched)."""
    import numpy as np

    name = canonical(name)
    be = _cpu()
    z = np.array(x, dtype=np.result_type(np.asarray(x).dtype, np.float32), copy=True)
    if name == "softmax":
        z2 = z.reshape(1, -1) if z.ndim == 1 else z
        return be.softmax(z2, out=z2).reshape(z.shape)
    return be.bias_act(z, None, name, out=z)


def linear(x: Any) -> Any:
    """``f(x) = x``."""
    return apply("linear", x)


def relu(x: Any) -> Any:
    """``f(x) = max(x, 0)``."""
    return apply("relu", x)


def sigmoid(x: Any) -> Any:
    """``f(x) = 1 / (1 + exp(-x))``, computed without overflow for any finite x."""
    return apply("sigmoid", x)


def tanh(x: Any) -> Any:
    """``f(x) = tanh(x)``."""
    return apply("tanh", x)


def softmax(x: Any) -> Any:
    """``f(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)``, row-wise for 2-D input."""
    return apply("softmax", x)
