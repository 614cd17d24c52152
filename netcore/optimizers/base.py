"""Optimizer base: per-parameter state on the parameter's device, a host step counter."""
from __future__ import annotations

from typing import Any, Sequence

from ..backend.base import Backend


def _check_float(name: str, value: Any, low: float, high: float | None = None,
                 low_inclusive: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (v >= low if low_inclusive else v > low) and (high is None or v < high)
    if not ok:
        lo = "[" if low_inclusive else "("
        hi = f"{high})" if high is not None else "inf)"
        raise ValueError(f"{name} must be a number in {lo}{low}, {hi}, received {value!r}")
    return float(value)


class Optimizer:
    """Updates parameters in place from their gradients, one fused op per tensor.

    ``iterations`` counts applied steps (the ``t`` in Adam's bias correction).
    """

    name = "optimizer"
    #: names of the per-parameter state slots, in order (saved with the model)
    slots: tuple[str, ...] = ()
    #: slots the update rule keeps >= 0 (sums of squares); a loaded file must respect it
    nonnegative_slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = _check_float("learning_rate", learning_rate, 0.0)
        self.iterations = 0
        self.state: list[dict[str, Any]] = []
        self.backend: Backend | None = None

    def build(self, be: Backend, params: Sequence[Any]) -> None:
        """Create zeroed state for each parameter (called once the model is built)."""
        self.backend = be
        self.state = [{s: self._init_slot(be, s, p) for s in self.active_slots()} for p in params]

    def active_slots(self) -> tuple[str, ...]:
        return self.slots

    def _init_slot(self, be: Backend, slot: str, p: Any) -> Any:
        return be.xp.zeros_like(p)

    def apply(self, params: Sequence[Any], grads: Sequence[Any], skip: Any = None) -> None:
        """One step over all parameters; nothing changes where ``skip[0] != 0``."""
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
        return {"name": self.name, "learning_rate": self.learning_rate}
