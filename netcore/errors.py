"""Exceptions raised by netcore."""
from __future__ import annotations


class NetcoreError(Exception):
    """Base class for netcore's own errors."""


class BackendUnavailableError(NetcoreError, RuntimeError):
    """A requested backend cannot run here; the message says exactly what is missing."""


class NonFiniteLossError(NetcoreError, FloatingPointError):
    """Training produced a NaN or infinite loss; weights of the last good step are kept."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        self.epoch, self.step, self.value = epoch, step, value
        super().__init__(
            f"loss became {value} at epoch {epoch}, step {step}; training stopped and the "
            "weights of the last good step were kept (try a smaller learning_rate, or check "
            "the data for NaN/inf)"
        )


class ModelFileError(NetcoreError, ValueError):
    """A model file is missing, truncated, corrupt or not a netcore file."""
