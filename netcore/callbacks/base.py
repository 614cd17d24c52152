"""The callback base class, History, and the helpers of the callbacks that watch a log."""

from __future__ import annotations

from typing import Any


class Callback:
    """Hooks called by ``fit``; ``self.model`` is set before training starts.

    ``on_train_batch_begin(batch)`` / ``on_train_batch_end(batch, logs)`` (Keras' names;
    ``logs`` the epoch's running means) are called only when a callback defines them: the
    host then reads the loss after every step, and the epoch runs eagerly (no captured
    step). ``on_nonfinite(error)`` is called when training stops on a NaN or inf loss,
    before :class:`~netcore.NonFiniteLossError` is raised; a callback that sets
    ``model.stop_training`` there ends ``fit`` quietly instead (``TerminateOnNaN``).
    """

    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_nonfinite(self, error: Exception) -> None: ...


def uses_batch_hooks(cb: Callback) -> bool:
    """Does ``cb`` define a batch hook (in its class or, as LambdaCallback, on itself)?"""
    return any(
        name in vars(cb) or getattr(type(cb), name) is not getattr(Callback, name)
        for name in ("on_train_batch_begin", "on_train_batch_end")
    )


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


def mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be one of ['auto', 'min', 'max'], received {mode!r}")
    if mode == "auto":
        return "max" if monitor.endswith(("accuracy", "acc")) else "min"
    return mode


def monitored(monitor: str, logs: dict | None, who: str) -> float:
    logs = logs or {}
    if monitor not in logs:
        raise ValueError(
            f"{who}: monitor={monitor!r} is not in this epoch's logs; available: "
            f"{sorted(logs)} (val_* needs validation_data or validation_split)"
        )
    return logs[monitor]
