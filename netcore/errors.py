"""Exceptions raised by netcore."""

from __future__ import annotations


class NetcoreError(Exception):
    """Base class for netcore's own errors."""


class BackendUnavailableError(NetcoreError, RuntimeError):
    """A requested backend cannot run here; the message says exactly what is missing."""


class NonFiniteLossError(NetcoreError, FloatingPointError):
    """Training produced a NaN or infinite loss (``cause="loss"``), or an update that would
    have written a NaN or inf into a weight or optimizer slot (``cause="update"``, the loss
    ``value`` being finite); the weights of the last good step are kept."""

    def __init__(self, epoch: int, step: int, value: float, cause: str = "loss") -> None:
        self.epoch, self.step, self.value, self.cause = epoch, step, value, cause
        if cause == "update":
            what = (
                f"the update at epoch {epoch}, step {step} would have made a weight NaN or "
                f"inf (the loss was {value})"
            )
            hint = "try a smaller learning_rate, or scale the inputs"
        else:
            what = f"loss became {value} at epoch {epoch}, step {step}"
            hint = "try a smaller learning_rate, or check the data for NaN/inf"
        super().__init__(
            f"{what}; training stopped and the weights of the last good step were kept ({hint})"
        )


class ModelFileError(NetcoreError, ValueError):
    """A model file cannot be loaded: missing, not a regular file, truncated, corrupt, not a
    netcore file, or inconsistent with the architecture it declares. The message names the
    file and what is wrong with it."""
