"""Optimizer base: per-parameter state on the parameter's device, a host step counter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import validation
from ..backend.base import Backend
from .schedules import LearningRateSchedule, deserialize, serialize


def _check_float(
    name: str, value: Any, low: float, high: float | None = None, low_inclusive: bool = False
) -> float:
    """``value`` as a finite float in the interval (NumPy scalars accepted; NaN, inf and
    out-of-range values refused: one of them in a hyper-parameter turns every weight NaN)."""
    ok = validation.is_real_number(value)
    if ok:
        v = float(value)
        ok = (
            math.isfinite(v)
            and (v >= low if low_inclusive else v > low)
            and (high is None or v < high)
        )
    if not ok:
        lo = "[" if low_inclusive else "("
        hi = f"{high})" if high is not None else "inf)"
        raise ValueError(f"{name} must be a number in {lo}{low}, {hi}, received {value!r}")
    return float(value)


class Optimizer:
    """Updates parameters in place from their gradients, one fused op per tensor.

    ``iterations`` counts applied steps (the ``t`` in Adam's bias correction).
    ``learning_rate`` is a positive number or a schedule
    (:mod:`netcore.optimizers.schedules`); update ``t`` (1-based) uses
    ``rate_at(t) = schedule(t - 1)``, Keras 3's ``schedule(iterations)`` before the update.
    """

    name = "optimizer"
    #: names of the per-parameter state slots, in order (saved with the model)
    slots: tuple[str, ...] = ()
    #: slots the update rule keeps >= 0 (sums of squares); a loaded file must respect it
    nonnegative_slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float | LearningRateSchedule) -> None:
        self.iterations = 0
        self._learning_rate: float | LearningRateSchedule = 0.0
        self.learning_rate = learning_rate
        self.state: list[dict[str, Any]] = []
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        """The backend of the parameters this optimizer was built for (set by ``build``)."""
        if self._backend is None:
            raise RuntimeError(f"the {self.name} optimizer is not built yet: compile a built model")
        return self._backend

    def build(
        self, be: Backend, params: Sequence[Any], carried: Sequence[tuple[slice, slice]] = ()
    ) -> None:
        """Create the state of each parameter buffer (called once the model is built).

        When the model is rebuilt (a layer added), ``carried`` lists ``(old, new)`` slices of
        parameter buffer 0 whose state moves over: the layers that stay keep their moments
        and accumulators; the rest start from the initial state. ``iterations`` is kept.
        """
        previous = self.state
        self._backend = be
        self.state = [{s: self._init_slot(be, s, p) for s in self.active_slots()} for p in params]
        if carried and previous and self.state:
            for slot, arr in self.state[0].items():
                old = previous[0].get(slot)
                if old is not None:
                    for src, dst in carried:
                        arr[dst] = old[src]

    @property
    def learning_rate(self) -> float:
        """The rate of the next update (a schedule's value at ``iterations``). Assigning it
        (by hand or from a callback) is checked as the constructor's argument: a positive
        finite number, or a schedule, which replaces the rate."""
        return self.rate_at(self.iterations + 1, bias_corrected=False)

    @learning_rate.setter
    def learning_rate(self, value: float | LearningRateSchedule) -> None:
        if isinstance(value, dict):  # a saved schedule (get_config)
            value = deserialize(value)
        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(
                f"the {self.name} optimizer's learning_rate is the schedule "
                f"{self._learning_rate!r}; a number cannot replace a value it computes "
                "per step (assign another schedule, or build the optimizer with a number). "
                f"Received: learning_rate={value!r}"
            )
        self._learning_rate = _check_float("learning_rate", value, 0.0)

    @property
    def schedule(self) -> LearningRateSchedule | None:
        """The learning-rate schedule, or None when the rate is a constant."""
        lr = self._learning_rate
        return lr if isinstance(lr, LearningRateSchedule) else None

    def rate_at(self, t: int, bias_corrected: bool = True) -> float:
        """The learning rate of update ``t`` (1-based); Adam folds in its bias correction
        unless ``bias_corrected=False``."""
        lr = self._learning_rate
        return lr(t - 1) if isinstance(lr, LearningRateSchedule) else lr

    @property
    def capturable(self) -> bool:
        """Can a captured (CUDA-graph) step take this optimizer's rate? Its update must read
        a per-step rate from the device where the rate changes within an epoch: Adam's does
        (its table is filled from ``rate_at``); the others' take it as a constant."""
        return self.schedule is None

    def active_slots(self) -> tuple[str, ...]:
        return self.slots

    def _init_slot(self, be: Backend, slot: str, p: Any) -> Any:
        return be.xp.zeros_like(p)

    def apply(self, params: Sequence[Any], grads: Sequence[Any], skip: Any = None) -> None:
        """One step over all parameters; nothing changes where ``skip[0] != 0``."""
        self._rate = self.rate_at(self.iterations + 1)  # the step's rate, on the host
        self.iterations += 1
        for p, g, st in zip(params, grads, self.state):
            self._update(p, g, st, skip)

    def discount_skipped_steps(self, count: int) -> None:
        """Take ``count`` steps back from ``iterations``: updates the skip flag made no-ops
        (a non-finite loss) did not happen, so Adam's ``t`` stays the number of real steps."""
        self.iterations -= int(count)

    def _update(self, p: Any, g: Any, state: dict[str, Any], skip: Any) -> None:
        raise NotImplementedError

    def get_config(self) -> dict:
        lr = self._learning_rate
        rate = serialize(lr) if isinstance(lr, LearningRateSchedule) else lr
        return {"name": self.name, "learning_rate": rate}
