"""Adagrad."""

from __future__ import annotations

from .base import Optimizer, _check_float


class Adagrad(Optimizer):
    """Keras 3 Adagrad: ``a <- a + g^2``, ``w <- w - lr * g / sqrt(a + epsilon)``,
    with ``a`` starting at ``initial_accumulator_value``."""

    name = "adagrad"
    slots = ("accumulator",)
    nonnegative_slots = ("accumulator",)

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.initial_accumulator_value = _check_float(
            "initial_accumulator_value", initial_accumulator_value, 0.0, low_inclusive=True
        )
        self.epsilon = _check_float("epsilon", epsilon, 0.0)

    def _init_slot(self, be, slot, p):
        return be.xp.full_like(p, self.initial_accumulator_value)

    def _update(self, p, g, state, skip):
        self.backend.adagrad_update(p, g, state["accumulator"], self._rate, self.epsilon, skip)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
