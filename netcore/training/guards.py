"""Two guards of a training model: the device flag that turns updates into no-ops after a
non-finite step, and the rule that one thread trains a model at a time."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

from ..backend.base import Backend


class NonFiniteFlag:
    """A 1-element device flag set when a step's loss is NaN/inf (``NONFINITE_LOSS``) or when
    the optimizer refused an update that would have written a NaN or inf
    (``NONFINITE_UPDATE``); while it is set the optimizer updates do nothing, so the weights
    of the last good step survive without a host read per step. Each training step records a
    device copy of it for the epoch tracker; cleared once the host has reported the failure."""

    def __init__(self, backend: Backend) -> None:
        self.array = backend.xp.zeros(1, dtype=np.int32)

    def reset(self) -> None:
        self.array[...] = 0


class TrainingGuard:
    """``fit``/``train_on_batch`` hold the model from one thread at a time; a second call
    (from another thread, or from a callback of the running ``fit``) raises ``RuntimeError``.
    Inference does not claim it: ``predict``/``evaluate`` interleave with training batch by
    batch under the model's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._thread: int | None = None

    @contextlib.contextmanager
    def claim(self, what: str) -> Iterator[None]:
        with self._lock:
            if self._thread is not None:
                where = (
                    "this thread (from a callback?)"
                    if self._thread == threading.get_ident()
                    else "another thread"
                )
                raise RuntimeError(
                    f"model.{what}() was called while model.fit() is running in "
                    f"{where}; a model trains from one thread at a time "
                    "(predict and evaluate may run concurrently)"
                )
            self._thread = threading.get_ident()
        try:
            yield
        finally:
            self._thread = None
