"""Keras' one-batch shortcuts over a trainer: ``model(x)``, ``predict_on_batch``,
``test_on_batch`` and ``metrics_names``. Each is the full method on one batch holding every
row, so it gives exactly what ``predict``/``evaluate`` give."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import validation


def _rows(x: Any) -> int:
    """The batch size that puts every row of ``x`` in one batch (the checks come later)."""
    try:
        return max(1, len(x))
    except TypeError:
        return 1


class Shortcuts:
    """Mixed into the model beside :class:`~netcore.training.trainer.Trainer`."""

    predict: Any
    evaluate: Any
    metrics: list[Any]
    loss: Any
    backend: Any
    _lock: Any
    _prepare: Any
    _forward: Any

    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        """The model's outputs for the batch ``x`` as a NumPy array (Keras' ``model(x)``).

        ``training=False`` (default) is inference, as ``predict``; ``training=True`` runs the
        layers in training mode (dropout active) without updating anything.
        """
        validation.check_bool(training, "training")
        if not training:
            return self.predict(x, batch_size=_rows(x))
        feed = self._prepare(x, None, "x", targets=False)
        with self._lock, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = self._forward(feed.batch(0, feed.n)[0], training=True)
            return np.array(self.backend.to_numpy(out), copy=True)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """``predict`` on one batch holding every row of ``x``."""
        return self.predict(x, batch_size=_rows(x))

    def test_on_batch(
        self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        """``evaluate`` on one batch holding every row of ``x`` (same return value)."""
        return self.evaluate(
            x, y, batch_size=_rows(x), sample_weight=sample_weight, return_dict=return_dict
        )

    @property
    def metrics_names(self) -> list[str]:
        """The names of ``evaluate``'s values, in order: ``["loss", *metrics]`` (``[]``
        before ``compile``)."""
        if self.loss is None:
            return []
        return ["loss", *(m.name for m in self.metrics)]
