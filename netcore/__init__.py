"""netcore: a small, fast, honest deep-learning library (NumPy on the CPU, CuPy on the GPU)."""

from __future__ import annotations

__version__ = "0.1.0"

from . import activations, callbacks, layers, losses, metrics, optimizers, utils
from .backend import available_backends, backend_status, get_backend, set_backend, use_backend
from .errors import BackendUnavailableError, ModelFileError, NetcoreError, NonFiniteLossError
from .loading import load_model
from .models import Sequential

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
