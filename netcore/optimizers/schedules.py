"""Learning-rate schedules (``keras.optimizers.schedules``): any optimizer's ``learning_rate``.

A schedule maps the optimizer's step count ``step`` (the updates applied before this one:
0 for the first update, as Keras 3's ``optimizer.iterations``) to a rate; each formula is
written once, over NumPy arrays of steps, so that ``schedule(step)`` and
``schedule.rates(first_step, n)`` (the rates of ``n`` consecutive steps, the per-epoch table
a captured training step reads on the device) are the same numbers. Computed in float64.
Saved with the model as ``{"class_name": ..., "config": get_config()}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import validation

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "InverseTimeDecay",
    "serialize",
    "deserialize",
]


def _number(value: Any, name: str, low: float | None = 0.0, strict: bool = False) -> float:
    ok = validation.is_real_number(value) and math.isfinite(float(value))
    if ok and low is not None:
        ok = float(value) > low if strict else float(value) >= low
    if not ok:
        bound = "" if low is None else f" {'>' if strict else '>='} {low}"
        raise ValueError(f"{name} must be a finite number{bound}. Received: {name}={value!r}")
    return float(value)


class LearningRateSchedule:
    """Base class: subclasses implement :meth:`_rates` over an array of steps."""

    name = "LearningRateSchedule"

    def _rates(self, steps: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, step: int) -> float:
        """The rate of the update made when ``step`` updates were applied before it."""
        return float(self._rates(np.array([step], dtype=np.float64))[0])

    def rates(self, first_step: int, n: int) -> np.ndarray:
        """The rates of steps ``first_step .. first_step + n - 1`` (float64, shape (n,))."""
        return self._rates(np.arange(first_step, first_step + n, dtype=np.float64))

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase``
    the exponent is ``floor(step / decay_steps)``."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", strict=True)
        self.decay_rate = _number(decay_rate, "decay_rate")
        self.staircase = validation.check_bool(staircase, "staircase")
        self.name = str(name)

    def _rates(self, steps):
        p = steps / self.decay_steps
        if self.staircase:
            p = np.floor(p)
        return self.initial_learning_rate * np.power(self.decay_rate, p)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class InverseTimeDecay(ExponentialDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with ``staircase``
    ``step / decay_steps`` is floored."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _rates(self, steps):
        p = steps / self.decay_steps
        if self.staircase:
            p = np.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(
        self, boundaries: Sequence[float], values: Sequence[float], name: str = "PiecewiseConstant"
    ) -> None:
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ValueError(
                f"boundaries and values must be lists. Received: boundaries={boundaries!r}, "
                f"values={values!r}"
            )
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "boundaries must have one element fewer than values. Received: "
                f"boundaries={list(boundaries)} ({len(boundaries)}), "
                f"values={list(values)} ({len(values)})"
            )
        self.boundaries = [_number(b, "boundaries", low=None) for b in boundaries]
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must increase. Received: boundaries={boundaries!r}")
        self.values = [_number(v, "values") for v in values]
        self.name = str(name)

    def _rates(self, steps):
        index = np.searchsorted(np.array(self.boundaries, dtype=np.float64), steps, side="left")
        return np.array(self.values, dtype=np.float64)[index]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warm-up (Keras 3).

    Without ``warmup_target``: ``initial_learning_rate * d(min(step, decay_steps))``, where
    ``d(s) = (1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha``. With it, the
    step is first capped at ``warmup_steps + decay_steps``; while ``step < warmup_steps``
    the rate goes linearly from ``initial_learning_rate`` to ``warmup_target``
    (``initial + (target - initial) * step / warmup_steps``), then it is
    ``warmup_target * d(step - warmup_steps)``.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: float = 0,
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", strict=True)
        self.alpha = _number(alpha, "alpha")
        self.name = str(name)
        self.warmup_target = (
            None if warmup_target is None else _number(warmup_target, "warmup_target")
        )
        self.warmup_steps = _number(warmup_steps, "warmup_steps")

    def _decayed(self, steps: np.ndarray, start: float) -> np.ndarray:
        cosine = 0.5 * (1.0 + np.cos(np.pi * steps / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def _rates(self, steps):
        if self.warmup_target is None:
            return self._decayed(np.minimum(steps, self.decay_steps), self.initial_learning_rate)
        steps = np.minimum(steps, self.decay_steps + self.warmup_steps)
        span = self.warmup_steps or 1.0  # no warm-up: the linear branch is never taken
        lin = self.initial_learning_rate + (self.warmup_target - self.initial_learning_rate) * (
            steps / span
        )
        after = self._decayed(steps - self.warmup_steps, self.warmup_target)
        return np.where(steps < self.warmup_steps, lin, after)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


_SCHEDULES = {
    cls.__name__: cls
    for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay, InverseTimeDecay)
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": schedule.get_config()}`` (JSON-ready)."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: Any) -> LearningRateSchedule:
    """The schedule :func:`serialize` describes."""
    kind = config.get("class_name") if isinstance(config, dict) else None
    if kind not in _SCHEDULES or not isinstance(config.get("config"), dict):
        raise ValueError(
            f"a schedule config is {{'class_name': one of {sorted(_SCHEDULES)}, 'config': "
            f"{{...}}}}. Received: {config!r:.200}"
        )
    return _SCHEDULES[kind].from_config(config["config"])
