"""Callbacks around the logs: CSVLogger, LambdaCallback, TerminateOnNaN."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from typing import IO, Any

from ..distribution import is_chief
from .base import Callback


class CSVLogger(Callback):
    """Write one row per epoch to ``filename``: ``epoch`` then the logs' keys in sorted order
    (Keras 3's layout); ``append=True`` continues an existing file. Data parallel: rank 0
    writes."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character. Received: separator={separator!r}")
        self.filename = os.fspath(filename)
        self.sep, self.append = separator, bool(append)
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs=None):
        if not is_chief():
            return
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        self._keys = None
        self._continuing = bool(has_rows)
        self._file = open(self.filename, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        if self._file is None:
            return
        logs = dict(logs or {})
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(
                self._file, fieldnames=["epoch", *self._keys], delimiter=self.sep
            )
            if not self._continuing:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


_HOOKS = {
    "on_epoch_begin": "on_epoch_begin",
    "on_epoch_end": "on_epoch_end",
    "on_train_begin": "on_train_begin",
    "on_train_end": "on_train_end",
    "on_batch_begin": "on_train_batch_begin",
    "on_batch_end": "on_train_batch_end",
    "on_train_batch_begin": "on_train_batch_begin",
    "on_train_batch_end": "on_train_batch_end",
}


class LambdaCallback(Callback):
    """A callback from functions, with Keras' arguments: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_batch_begin(batch, logs)`` / ``on_batch_end(batch, logs)`` (the same as
    ``on_train_batch_begin`` / ``on_train_batch_end``)."""

    def __init__(self, **hooks: Callable[..., Any] | None) -> None:
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(
                f"LambdaCallback takes {sorted(_HOOKS)}. Received unknown argument(s) {unknown}"
            )
        for given, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise ValueError(f"{given} must be a function. Received: {given}={fn!r}")
            setattr(self, _HOOKS[given], fn)  # an instance attribute: uses_batch_hooks sees it


class TerminateOnNaN(Callback):
    """Stop training quietly when the loss becomes NaN or inf: ``fit`` returns its History
    (the epochs completed before) with the weights of the last good step, instead of raising
    :class:`~netcore.NonFiniteLossError` (which is what happens without this callback)."""

    def on_nonfinite(self, error):
        print(f"{error} (TerminateOnNaN: terminating training)")
        self.model.stop_training = True
