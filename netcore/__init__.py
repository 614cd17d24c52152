"""netcore: a small, fast, honest deep-learning library (NumPy on the CPU, CuPy on the GPU)."""

from __future__ import annotations

from . import activations, callbacks, layers, losses, metrics, optimizers, utils
from ._version import __version__
from .backend import available_backends, backend_status, get_backend, set_backend, use_backend
from .errors import BackendUnavailableError, ModelFileError, NetcoreError, NonFiniteLossError
from .models import Sequential
from .saving.loader import load_model

__all__ = [
    "Sequential",
    "load_model",
    "set_backend",
    "get_backend",
    "available_backends",
    "backend_status",
    "use_backend",
    "BackendUnavailableError",
    "NonFiniteLossError",
    "ModelFileError",
    "NetcoreError",
    "activations",
    "callbacks",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "utils",
    "__version__",
]
