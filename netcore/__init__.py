"""netcore: a small, fast, honest deep-learning library (NumPy on the CPU, CuPy on the GPU)."""
from __future__ import annotations

__version__ = "0.1.0"

from .backend import (available_backends, backend_status, get_backend, set_backend,
                      use_backend)
from .errors import BackendUnavailableError, ModelFileError, NetcoreError, NonFiniteLossError
