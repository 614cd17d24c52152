"""Saving during training: ModelCheckpoint, and BackupAndRestore (resume an interrupted fit)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..distribution import is_chief
from ..saving.weights import restore_training_state
from .base import Callback, mode_for, monitored


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
        self.mode = mode_for(monitor, mode)
        self.verbose = verbose
        self.best = float("inf") if self.mode == "min" else -float("inf")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = monitored(self.monitor, logs, "ModelCheckpoint")
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                return
            self.best = current
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class BackupAndRestore(Callback):
    """Back up the training state at every epoch end and resume from it after an interruption.

    In ``backup_dir``: ``epoch-<n>.netcore`` (the model with its optimizer state and step
    count, ``model.save``) and ``training.json`` naming it with the epoch it ends; the JSON
    is replaced atomically after the model file is complete, so a run killed at any point
    leaves a consistent pair. When ``fit`` starts and a backup exists, the model takes its
    weights, optimizer state and step count, and training goes on at the next epoch (with
    the shuffles and dropout masks the uninterrupted run would have had). The backup is
    deleted when ``fit`` ends normally (``delete_checkpoint=True``). ``save_freq`` is
    ``"epoch"`` (Keras' default; per-batch backups are not supported).
    """

    STATE = "training.json"

    def __init__(
        self,
        backup_dir: str | os.PathLike,
        save_freq: str = "epoch",
        delete_checkpoint: bool = True,
    ) -> None:
        if save_freq != "epoch":
            raise ValueError(
                f"BackupAndRestore saves at epoch ends: save_freq must be 'epoch'. "
                f"Received: save_freq={save_freq!r}"
            )
        if not backup_dir:
            raise ValueError(f"backup_dir must be a folder name. Received: {backup_dir!r}")
        self.backup_dir = Path(os.fspath(backup_dir))
        self.delete_checkpoint = bool(delete_checkpoint)

    def _state(self) -> dict[str, Any] | None:
        try:
            state = json.loads((self.backup_dir / self.STATE).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"BackupAndRestore: {str(self.backup_dir / self.STATE)!r} is unreadable "
                f"({exc}); delete the backup folder to start afresh"
            ) from None
        if not isinstance(state, dict) or not {"epoch", "seed_epoch", "file"} <= set(state):
            raise ValueError(
                f"BackupAndRestore: {str(self.backup_dir / self.STATE)!r} is not a backup "
                "state; delete the backup folder to start afresh"
            )
        return state

    def on_train_begin(self, logs=None):
        state = self._state()
        if state is None:
            return
        restore_training_state(self.model, self.backup_dir / str(state["file"]))
        # fit goes on at the epoch after the backed-up one, with its seeds
        self.model._resume = (int(state["epoch"]) + 1, int(state["seed_epoch"]))

    def on_epoch_end(self, epoch, logs=None):
        if not is_chief():
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        old = self._state()
        name = f"epoch-{epoch + 1}.netcore"
        self.model.save(self.backup_dir / name)
        state = {"epoch": epoch, "seed_epoch": self.model._next_epoch, "file": name}
        fd, tmp = tempfile.mkstemp(dir=self.backup_dir, prefix=".training-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.backup_dir / self.STATE)
        if old is not None and old["file"] != name:
            (self.backup_dir / str(old["file"])).unlink(missing_ok=True)

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not is_chief():
            return
        state = self._state()
        if state is not None:
            (self.backup_dir / str(state["file"])).unlink(missing_ok=True)
            (self.backup_dir / self.STATE).unlink(missing_ok=True)
        try:
            self.backup_dir.rmdir()
        except OSError:
            pass  # the folder holds other files: leave it
