"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from .. import validation
from .base import Optimizer, _check_float


class SGD(Optimizer):
    """Keras 3 SGD.

    Without momentum: ``w <- w - lr * g``.
    With momentum ``mu``: ``v <- mu * v - lr * g``, then ``w <- w + v``, or with
    ``nesterov=True``: ``w <- w + mu * v - lr * g``.
    """

    name = "sgd"
    slots = ("velocity",)

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = _check_float("momentum", momentum, 0.0, 1.0, low_inclusive=True)
        self.nesterov = validation.check_bool(nesterov, "nesterov")

    def active_slots(self):
        return self.slots if self.momentum > 0 else ()

    def _update(self, p, g, state, skip):
        self.backend.sgd_update(
            p, g, state.get("velocity"), self._rate, self.momentum, self.nesterov, skip
        )

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
