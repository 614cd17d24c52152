"""Callbacks (Keras names): History, EarlyStopping, ModelCheckpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from . import validation
from .keras_support import raise_missing


class Callback:
    """Hooks called by ``fit``; ``self.model`` is set before training starts."""

    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...


class History(Callback):
    """Per-epoch logs: ``history.history["loss"]``, ``["val_accuracy"]``, ...; ``history.epoch``."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be one of ['auto', 'min', 'max'], received {mode!r}")
    if mode == "auto":
        return "max" if monitor.endswith(("accuracy", "acc")) else "min"
    return mode


def _monitored(monitor: str, logs: dict | None, who: str) -> float:
    logs = logs or {}
    if monitor not in logs:
        raise ValueError(
            f"{who}: monitor={monitor!r} is not in this epoch's logs; available: "
            f"{sorted(logs)} (val_* needs validation_data or validation_split)"
        )
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the weights of the best epoch are put back when it stops.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        patience = validation.check_nonneg_int(patience, "patience")
        self.monitor, self.patience = monitor, patience
        self.min_delta = abs(float(min_delta))
        self.mode = _mode_for(monitor, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = float("inf") if self.mode == "min" else -float("inf")
        self.best_weights = None

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(self.monitor, logs, "EarlyStopping")
        self.wait += 1
        if self._improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model after each epoch (atomically). ``filepath`` may hold ``{epoch}`` and log
    keys, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.netcore"``; with ``save_best_only`` only
    when ``monitor`` improves."""

    def __init__(
        self,
        filepath: str,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.mode = _mode_for(monitor, mode)
        self.verbose = verbose
        self.best = float("inf") if self.mode == "min" else -float("inf")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = _monitored(self.monitor, logs, "ModelCheckpoint")
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                return
            self.best = current
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

    def __getattr__(name: str) -> NoReturn:
        """A Keras name netcore lacks (``LSTM``) raises ``NotInNetcoreError``, pointing to
        the table of what netcore has; any other missing name, ``AttributeError``."""
        raise_missing(__name__, name)
