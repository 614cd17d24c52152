"""The captured step checks itself: its first replay against the same step run eagerly.

A replay that computes wrong numbers raises nothing: a rate frozen into the graph, an input
buffer the graph no longer refills, a generator whose draws are baked in all train on
silently. So the first capture in a process for a given model, batch size and optimizer is
trusted only after this check (:meth:`netcore.training.capture.CapturedFit.run_epoch`):

1. snapshot the training state on the device (:func:`snapshot`: the flat weights, every
   optimizer slot, the skip flag, the dropout generator's state, the step count);
2. replay the graph once (step 1 of the epoch) and copy the state it leaves;
3. restore the snapshot and run the same step eagerly, on the same rows;
4. compare (:func:`compare`). The eager step's state is kept either way, so the check costs
   one replay and a few device copies, not a step.

Tolerance, per array (weights, each slot) with ``s`` the state before the step, ``r`` after
the replay and ``e`` after the eager step: ``max|r - e| <= rtol * max|e - s| + 8 eps max|e|``
(``eps``: the dtype's machine epsilon, the rounding of storing ``s + step``): the replay's
change must match the eager change to ``rtol`` = :data:`RTOL` (1e-3 in float32: room for
the GEMM summing in another order, far below a wrong rate or a wrong batch, which change the
step by tens of percent). The loss and each metric sum: ``|r - e| <= rtol_scalar
max(|e|, 1)`` with :data:`RTOL_SCALAR`. A difference in the skip flag always fails.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Relative tolerance of an array's change over the step, by dtype.
RTOL = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-9}
#: Relative tolerance of the loss and the metric sums, by dtype.
RTOL_SCALAR = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

#: Per model (weakly: a model that is gone needs no entry), the verdict of each checked
#: (batch size, optimizer name): True passed, else the mismatch's message.
_CHECKED: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], bool | str]] = (
    weakref.WeakKeyDictionary()
)


def _key(model: Any, batch_size: int) -> tuple[int, str]:
    return (batch_size, model.optimizer.name)


def needs_check(model: Any, batch_size: int) -> bool:
    """Is this the first capture in this process for ``model``, batch size and optimizer?"""
    return _key(model, batch_size) not in _CHECKED.get(model, {})


def failed_check(model: Any, batch_size: int) -> str | None:
    """The mismatch found by an earlier check of this model, batch size and optimizer (its
    later fits train eagerly without capturing again), or None."""
    verdict = _CHECKED.get(model, {}).get(_key(model, batch_size))
    return verdict if isinstance(verdict, str) else None


def mark_checked(model: Any, batch_size: int, verdict: bool | str = True) -> None:
    _CHECKED.setdefault(model, {})[_key(model, batch_size)] = verdict


# ---------------------------------------------------------------- the state of a step
def arrays(model: Any) -> dict[str, Any]:
    """Name -> device array of everything a training step writes: the weights, each
    optimizer slot, the skip flag and the layers' non-trainable state (BatchNormalization's
    moving statistics: the step updates them too)."""
    out = {"weights": model._flat_params, "skip flag": model._nonfinite.array}
    for i, slots in enumerate(model.optimizer.state):
        for name, a in slots.items():
            out[f"optimizer slot {name!r}" + (f" of buffer {i}" if i else "")] = a
    for layer in model.layers:
        for name, a in layer.state.items():
            out[f"{layer.name}.{name}"] = a
    return out


def _rng_state(rng: Any) -> Any:
    """A restorable copy of a generator's state: NumPy's state dict, or the device buffer of
    CuPy's bit generator (its draws read and advance that buffer)."""
    bits = rng.bit_generator
    device = getattr(bits, "_state", None)
    if device is not None and hasattr(device, "shape"):  # CuPy: cupy.zeros(bytes, int8)
        return ("device", device.copy())
    return ("host", bits.state)


def _set_rng_state(rng: Any, saved: Any) -> None:
    kind, value = saved
    if kind == "device":
        rng.bit_generator._state[...] = value  # in place: a captured graph holds its address
    else:
        rng.bit_generator.state = value


@dataclass
class Snapshot:
    arrays: dict[str, Any]
    rng: Any
    iterations: int


def snapshot(model: Any) -> Snapshot:
    """Device copies of :func:`arrays`, the generator's state and the step count."""
    return Snapshot(
        {k: a.copy() for k, a in arrays(model).items()},
        _rng_state(model.backend.rng),
        model.optimizer.iterations,
    )


def restore(model: Any, snap: Snapshot) -> None:
    """Put ``snap`` back in place (the same buffers: a graph holds their addresses)."""
    for k, a in arrays(model).items():
        a[...] = snap.arrays[k]
    _set_rng_state(model.backend.rng, snap.rng)
    model.optimizer.iterations = snap.iterations


# ---------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class Verdict:
    """``ok``; otherwise where the largest difference (relative to its tolerance) was."""

    ok: bool
    where: str = ""
    replayed: float = 0.0
    eager: float = 0.0
    difference: float = 0.0
    tolerance: float = 0.0

    def message(self) -> str:
        return (
            f"the replayed step differs from the same step run eagerly: largest difference "
            f"{self.difference:.3g} in {self.where} (replay {self.replayed!r}, eager "
            f"{self.eager!r}; tolerance {self.tolerance:.3g})"
        )


def compare(
    before: dict[str, Any],
    replayed: dict[str, Any],
    eager: dict[str, Any],
    dtype: Any,
    xp: Any = np,
) -> Verdict:
    """The replayed and eager steps, arrays by name (:func:`arrays`'s names, plus "loss" and
    "metric <name>" 0-d values), against the module's tolerances. ``xp``: the arrays' module
    (NumPy or CuPy): the comparison runs where they are; only scalars reach the host."""
    dt = np.dtype(dtype)
    eps = float(np.finfo(dt).eps)
    worst: Verdict | None = None
    worst_ratio = 0.0
    for name, e in eager.items():
        # In the arrays' own dtype (a float64 copy of every weight would cost more than a step)
        e = xp.asarray(e)
        r = xp.asarray(replayed[name], dtype=e.dtype)
        if not e.size:
            continue
        diff = xp.abs(r - e).reshape(-1)
        if name == "skip flag":
            tol = 0.0
        elif name in before:
            change = float(xp.max(xp.abs(e - xp.asarray(before[name], dtype=e.dtype))))
            tol = RTOL[dt] * change + 8 * eps * float(xp.max(xp.abs(e)))
        else:  # the loss, a metric sum
            tol = RTOL_SCALAR[dt] * max(float(xp.max(xp.abs(e))), 1.0)
        # NaN compares False, so a NaN on one side fails; the same NaN or inf on both sides
        # (a non-finite loss in both steps) is agreement.
        r1, e1 = r.reshape(-1), e.reshape(-1)
        same = (r1 == e1) | (xp.isnan(r1) & xp.isnan(e1))
        bad = ~(diff <= tol) & ~same
        if not bool(bad.any()):
            continue
        i = int(xp.argmax(xp.where(bad, xp.nan_to_num(diff, nan=np.inf), -1)))
        d = float(diff[i])
        d = np.inf if np.isnan(d) else d
        ratio = np.inf if tol == 0 else d / tol
        if worst is None or ratio > worst_ratio:
            worst_ratio = ratio
            where = name if e.ndim == 0 else f"{name}[{i}]"
            worst = Verdict(False, where, float(r.reshape(-1)[i]), float(e.reshape(-1)[i]), d, tol)
    return worst if worst is not None else Verdict(True)


__all__ = [
    "RTOL",
    "RTOL_SCALAR",
    "Snapshot",
    "Verdict",
    "arrays",
    "compare",
    "failed_check",
    "mark_checked",
    "needs_check",
    "restore",
    "snapshot",
]
