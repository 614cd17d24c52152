"""RMSprop (Keras' default optimizer in ``compile``)."""

from __future__ import annotations

from .base import Optimizer, _check_float


class RMSprop(Optimizer):
    """Keras 3 RMSprop (not centered):

    ``v <- rho * v + (1 - rho) * g^2``, ``inc = lr * g / sqrt(v + epsilon)``;
    without momentum ``w <- w - inc``; with momentum ``mu``: ``b <- mu * b + inc``, ``w <- w - b``.
    """

    name = "rmsprop"
    slots = ("velocity", "momentum")
    nonnegative_slots = ("velocity",)

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.rho = _check_float("rho", rho, 0.0, 1.0, low_inclusive=True)
        self.momentum = _check_float("momentum", momentum, 0.0, 1.0, low_inclusive=True)
        self.epsilon = _check_float("epsilon", epsilon, 0.0)

    def active_slots(self):
        return self.slots if self.momentum > 0 else ("velocity",)

    def _update(self, p, g, state, skip):
        self.backend.rmsprop_update(
            p,
            g,
            state["velocity"],
            state.get("momentum"),
            self._rate,
            self.rho,
            self.momentum,
            self.epsilon,
            skip,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }
