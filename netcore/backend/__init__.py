"""Backend selection: per model, per process (``set_backend`` / ``NETCORE_BACKEND``), per block."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from ..errors import BackendUnavailableError
from .base import Backend
from .cpu import CPUBackend

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "available_backends",
    "get_backend",
    "set_backend",
    "use_backend",
    "backend_status",
    "BACKEND_NAMES",
]

BACKEND_NAMES = ("cpu", "cuda", "auto")
logger = logging.getLogger("netcore")
_default: str | None = None


def _check_name(name: object) -> str:
    if not isinstance(name, str) or name.lower() not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {list(BACKEND_NAMES)}, received {name!r}")
    return name.lower()


def _default_name() -> str:
    if _default is not None:
        return _default
    env = os.environ.get("NETCORE_BACKEND")
    if env:
        try:
            return _check_name(env)
        except ValueError as exc:
            raise ValueError(f"environment variable NETCORE_BACKEND: {exc}") from None
    return "auto"


def get_backend(name: str | Backend | None = None, seed: int | None = None) -> Backend:
    """Return a fresh backend object for ``name`` ("cpu", "cuda", "auto"; None = process default).

    "cuda" raises :class:`BackendUnavailableError` with the reason when it cannot run;
    "auto" picks CUDA when usable, else the CPU, and logs the choice.
    """
    if isinstance(name, Backend):
        return name
    name = _default_name() if name is None else _check_name(name)
    if name == "cpu":
        return CPUBackend(seed)
    if name == "cuda":
        from .cuda import CudaBackend

        return CudaBackend(seed)
    from .cuda import probe

    ok, reason = probe()
    if ok:
        from .cuda import CudaBackend

        backend = CudaBackend(seed)
        logger.info("netcore: backend 'auto' chose cuda: %s", backend.describe())
        return backend
    logger.info("netcore: backend 'auto' chose cpu (CUDA unusable: %s)", reason)
    return CPUBackend(seed)


def set_backend(name: str | None) -> None:
    """Set the process-wide default backend name (None restores NETCORE_BACKEND / "auto")."""
    global _default
    _default = None if name is None else _check_name(name)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """``with use_backend("cpu"):`` models created inside default to that backend."""
    global _default
    previous = _default
    _default = _check_name(name)
    try:
        yield get_backend(_default)
    finally:
        _default = previous


def available_backends() -> list[str]:
    """Names of the backends that can run here, e.g. ``["cpu"]`` or ``["cpu", "cuda"]``."""
    return [name for name, (ok, _) in backend_status().items() if ok]


def backend_status() -> dict[str, tuple[bool, str]]:
    """Each concrete backend with ``(usable, reason)``: why CUDA is missing, or its device."""
    from .cuda import probe

    return {"cpu": (True, "NumPy"), "cuda": probe()}
