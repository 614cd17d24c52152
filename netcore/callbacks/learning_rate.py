"""Callbacks that set the optimizer's learning rate: LearningRateScheduler, ReduceLROnPlateau.

Both assign ``model.optimizer.learning_rate``, which checks the value as the optimizer's
constructor does (a positive finite number, or a schedule), and both add the epoch's rate to
the logs as ``"learning_rate"`` (so it lands in the History), as Keras 3 does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import validation
from .base import Callback, mode_for, monitored


def _set_rate(model: Any, value: Any, who: str) -> float:
    try:
        model.optimizer.learning_rate = value
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{who}: {exc}") from None
    return float(model.optimizer.learning_rate)


class LearningRateScheduler(Callback):
    """At the start of each epoch, ``learning_rate = schedule(epoch, learning_rate)`` (or
    ``schedule(epoch)`` for a one-argument function), ``epoch`` counted from 0.

    ``verbose=1`` prints the new rate. A value the optimizer refuses (negative, NaN, not a
    number) raises at once, naming the callback and ``learning_rate``.
    """

    def __init__(self, schedule: Callable[..., Any], verbose: int = 0) -> None:
        if not callable(schedule):
            raise ValueError(f"schedule must be a function of the epoch. Received: {schedule!r}")
        self.schedule = schedule
        self.verbose = validation.check_verbose(verbose)

    def on_epoch_begin(self, epoch, logs=None):
        current = float(self.model.optimizer.learning_rate)
        try:
            value = self.schedule(epoch, current)
        except TypeError:  # a function of the epoch alone (Keras' older form)
            value = self.schedule(epoch)
        rate = _set_rate(self.model, value, "LearningRateScheduler")
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more
    than ``min_delta`` for ``patience`` epochs, then wait ``cooldown`` epochs before
    counting again; never below ``min_lr``: ``new = max(old * factor, min_lr)`` (Keras 3)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if not validation.is_real_number(factor) or not 0 <= float(factor) < 1:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0 (or a non-number). "
                f"Received: factor={factor!r}"
            )
        self.monitor, self.factor = monitor, float(factor)
        self.patience = validation.check_nonneg_int(patience, "patience")
        self.cooldown = validation.check_nonneg_int(cooldown, "cooldown")
        self.verbose = validation.check_verbose(verbose)
        self.mode = mode_for(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self) -> None:
        self.best = float("inf") if self.mode == "min" else -float("inf")
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = monitored(self.monitor, logs, "ReduceLROnPlateau")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = _set_rate(
                        self.model, max(old * self.factor, self.min_lr), "ReduceLROnPlateau"
                    )
                    if self.verbose:
                        print(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}."
                        )
                    self.cooldown_counter, self.wait = self.cooldown, 0
