"""Adam."""

from __future__ import annotations

import math

from .base import Optimizer, _check_float


class Adam(Optimizer):
    """Keras 3 Adam. At step ``t`` (1-based):

    ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``,
    ``m <- m + (g - m) * (1 - beta_1)``, ``v <- v + (g^2 - v) * (1 - beta_2)``,
    ``w <- w - alpha * m / (sqrt(v) + epsilon)``.
    """

    name = "adam"
    slots = ("m", "v")
    nonnegative_slots = ("v",)

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1 = _check_float("beta_1", beta_1, 0.0, 1.0, low_inclusive=True)
        self.beta_2 = _check_float("beta_2", beta_2, 0.0, 1.0, low_inclusive=True)
        self.epsilon = _check_float("epsilon", epsilon, 0.0)

    @property
    def capturable(self) -> bool:
        return True  # the captured step reads alpha_t from a table filled by rate_at

    def rate_at(self, t: int, bias_corrected: bool = True) -> float:
        """The step size ``alpha`` of step ``t`` (1-based): the learning rate of step ``t``
        (a schedule's value at ``t - 1``) with the bias correction folded in."""
        lr = super().rate_at(t)
        if not bias_corrected:
            return lr
        return lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)

    def _update(self, p, g, state, skip):
        self.backend.adam_update(
            p, g, state["m"], state["v"], self._rate, self.beta_1, self.beta_2, self.epsilon, skip
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
