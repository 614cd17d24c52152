"""Guards of a training model: the device flag that turns updates into no-ops after a
non-finite step, the rule that one thread trains a model at a time, and the rule that an
optimizer instance serves one model."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Any

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


#: the model each optimizer instance was compiled into (Keras 3 builds one for one model)
_optimizer_models: weakref.WeakKeyDictionary[Any, weakref.ref] = weakref.WeakKeyDictionary()


def claim_optimizer(optimizer: Any, model: Any) -> Any:
    """``optimizer``, now this model's; refused while another model trains with it (its step
    count and slots would be shared between the two)."""
    ref = _optimizer_models.get(optimizer)
    other = ref() if ref is not None else None
    if other is not None and other is not model and other.optimizer is optimizer:
        raise ValueError(
            f"this {type(optimizer).__name__} optimizer is already compiled into model "
            f"{other.name!r}; an optimizer holds one model's step count and slots, so give "
            "each model its own, e.g. compile(optimizer='adam') or a new "
            f"optimizers.{type(optimizer).__name__}(...). Received: optimizer={optimizer!r}"
        )
    _optimizer_models[optimizer] = weakref.ref(model)
    return optimizer
