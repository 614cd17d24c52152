"""The course's first model, worked by hand and by netcore: ``y-hat = m x + b``.

Two points, (1, 3) and (2, 5), and a first guess m = -1, b = 5. The predictions are 4 and 3,
the squared errors 1 and 4, so MSE = 2.5 and RMSE = sqrt(2.5) = 1.58. The chain rule gives

    dMSE/dm = 2/N * sum((y-hat - y) * x) = -3        dMSE/db = 2/N * sum(y-hat - y) = -1

and one gradient-descent step with learning rate 0.1 moves to m = -0.7, b = 5.1. The best
line, m = 2 and b = 1, passes through both points (MSE 0).

The model here *is* a netcore model: ``Sequential([Dense(1)])`` in float64 whose kernel is m
and whose bias is b (set with ``set_weights``), trained by ``SGD`` on the ``mse`` loss with
``train_on_batch``. The numbers printed are what the library computes; :func:`analytic_gradients`
is the hand formula, kept for comparison and for the tests.

>>> walk = run_walkthrough(learning_rate=0.1, steps=1)
>>> walk.steps[0].mse, walk.steps[0].grad_m, walk.steps[0].grad_b
(2.5, -3.0, -1.0)
>>> round(walk.steps[1].m, 10), round(walk.steps[1].b, 10)
(-0.7, 5.1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "X",
    "Y",
    "START",
    "BEST",
    "MAX_STEPS",
    "ZIGZAG_LEARNING_RATE",
    "Step",
    "Walkthrough",
    "run_walkthrough",
    "mse_surface",
    "analytic_gradients",
    "stable_learning_rate",
    "report_lines",
    "plot_window",
]

X = np.array([1.0, 2.0])
Y = np.array([3.0, 5.0])
START = (-1.0, 5.0)  # (m, b) of the first guess
BEST = (2.0, 1.0)  # the line through both points
#: Most updates a walk-through runs: far more than the two points need.
MAX_STEPS = 10_000
#: A learning rate just under :func:`stable_learning_rate` (0.29): each step jumps across the
#: valley and back, and the zig-zag slowly settles. Above 0.29 it grows instead (0.3 slowly,
#: 2 at once).
ZIGZAG_LEARNING_RATE = 0.28


@dataclass(frozen=True)
class Step:
    """The model after ``index`` updates, and the gradient there (None after the last)."""

    index: int
    m: float
    b: float
    y_hat: tuple[float, ...]
    squared_errors: tuple[float, ...]
    mse: float
    rmse: float
    grad_m: float | None
    grad_b: float | None


@dataclass
class Walkthrough:
    """A gradient-descent run from :data:`START`; ``steps[0]`` is the start."""

    learning_rate: float
    steps: list[Step] = field(default_factory=list)
    #: set when the loss overflowed (NaN/inf) and training stopped early
    diverged: bool = False

    @property
    def path(self) -> list[tuple[float, float]]:
        """The ``(m, b)`` points visited, start first."""
        return [(s.m, s.b) for s in self.steps]

    @property
    def overshoot(self) -> bool:
        """True when the loss ended higher than it started: the steps jump past the minimum."""
        return self.diverged or self.steps[-1].mse > self.steps[0].mse


def mse_surface(m: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """The MSE of the line ``m x + b`` on the two points, for arrays of m and b (any shape)."""
    m = np.asarray(m, dtype=float)[..., None]
    b = np.asarray(b, dtype=float)[..., None]
    return np.mean((m * X + b - Y) ** 2, axis=-1)


def analytic_gradients(m: float, b: float) -> tuple[float, float]:
    """The hand-derived ``(dMSE/dm, dMSE/db)`` at ``(m, b)``."""
    err = m * X + b - Y
    return float(2 * np.mean(err * X)), float(2 * np.mean(err))


def stable_learning_rate() -> float:
    """The learning rate above which plain gradient descent on this MSE diverges:
    ``2 / largest eigenvalue`` of the (constant) Hessian ``2/N * A^T A``, ``A = [x, 1]``."""
    a = np.stack([X, np.ones_like(X)], axis=1)
    hessian = 2.0 / len(X) * a.T @ a
    return float(2.0 / np.linalg.eigvalsh(hessian).max())


def _step(index: int, model: Any, grads: tuple[float, float] | None) -> Step:
    from .. import losses

    (kernel, bias) = model.get_weights()
    y_hat = model.predict(X[:, None])
    yt = Y[:, None]
    return Step(
        index=index,
        m=float(kernel[0, 0]),
        b=float(bias[0]),
        y_hat=tuple(float(v) for v in y_hat[:, 0]),
        squared_errors=tuple(float(v) for v in ((y_hat - yt) ** 2)[:, 0]),
        mse=float(losses.mse(yt, y_hat)),
        rmse=float(losses.rmse(yt, y_hat)),
        grad_m=None if grads is None else grads[0],
        grad_b=None if grads is None else grads[1],
    )


def run_walkthrough(learning_rate: float = 0.1, steps: int = 20) -> Walkthrough:
    """Run ``steps`` gradient-descent updates from m = -1, b = 5 with netcore's SGD.

    Returns a :class:`Walkthrough` with ``steps + 1`` entries (fewer if the loss overflowed).
    """
    from .. import Sequential, optimizers
    from ..layers import Dense

    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an integer in [0, {MAX_STEPS}], received {steps!r}")
    # float64 on the CPU: the course's numbers (-0.7, 5.1, ...) come out exact, not 5.0999999.
    model = Sequential([Dense(1, input_shape=(1,))], backend="cpu", dtype="float64", seed=0)
    model.set_weights([np.array([[START[0]]]), np.array([START[1]])])
    model.compile(optimizer=optimizers.SGD(learning_rate=learning_rate), loss="mse")
    walk = Walkthrough(learning_rate=float(learning_rate))
    # A diverging run overflows on purpose; its report says so, NumPy need not warn.
    with np.errstate(over="ignore", invalid="ignore"):
        _descend(walk, model, steps)
    return walk


def _descend(walk: Walkthrough, model: Any, steps: int) -> None:
    from ..errors import NonFiniteLossError

    dense = model.layers[0]
    x, y = X[:, None], Y[:, None]
    for i in range(steps):
        state = _step(i, model, None)
        try:
            model.train_on_batch(x, y)
        except NonFiniteLossError:
            # The update was skipped: keep the last finite point as the end of the path.
            walk.steps.append(state)
            walk.diverged = True
            break
        # The layer's gradients are those of the loss at the weights before this update.
        grads = (
            float(np.asarray(dense.grads["kernel"])[0, 0]),
            float(np.asarray(dense.grads["bias"])[0]),
        )
        walk.steps.append(replace(state, grad_m=grads[0], grad_b=grads[1]))
        if not all(np.isfinite(w).all() for w in model.get_weights()):
            walk.diverged = True
            break
    else:
        walk.steps.append(_step(steps, model, None))


def _num(v: float | None) -> str:
    """Short exact-looking numbers: -0.7, 5.1, 2.5, 1.5811, -3; huge ones in e-notation."""
    if v is None:
        return ""
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 1e6:
        return f"{v:.4e}"
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _gradient_lines(s0: Step) -> list[str]:
    if s0.grad_m is not None:
        return [f"  dMSE/dm = {_num(s0.grad_m)}", f"  dMSE/db = {_num(s0.grad_b)}"]
    # No update ran, so netcore computed no gradient: show the hand formula's value.
    gm, gb = analytic_gradients(s0.m, s0.b)
    return [f"  dMSE/dm = {_num(gm)} (hand formula: no update was run)", f"  dMSE/db = {_num(gb)}"]


def report_lines(walk: Walkthrough) -> list[str]:
    """The walk-through as text: the table, MSE, RMSE, gradients and each step."""
    s0 = walk.steps[0]
    lr = _num(walk.learning_rate)
    out = [
        "The model: y-hat = m * x + b, a netcore Dense(1) layer (kernel m, bias b), "
        f"starting from m = {_num(s0.m)}, b = {_num(s0.b)}.",
        "",
        f"{'x':>6} {'y':>6} {'y-hat':>8} {'(y - y-hat)^2':>15}",
    ]
    for xv, yv, yh, se in zip(X, Y, s0.y_hat, s0.squared_errors):
        out.append(f"{_num(xv):>6} {_num(yv):>6} {_num(yh):>8} {_num(se):>15}")
    errs = " + ".join(_num(e) for e in s0.squared_errors)
    out += [
        "",
        f"MSE  = ({errs}) / {len(X)} = {_num(s0.mse)}",
        f"RMSE = sqrt(MSE) = {_num(s0.rmse)} (about {s0.rmse:.2f})",
        "",
        "Gradients of the MSE (chain rule): dMSE/dm = 2/N * sum((y-hat - y) * x), "
        "dMSE/db = 2/N * sum(y-hat - y)",
        *_gradient_lines(s0),
        "",
        f"Gradient descent with learning rate {lr}: m <- m - {lr} * dMSE/dm, "
        f"b <- b - {lr} * dMSE/db",
    ]
    if len(walk.steps) > 1 and s0.grad_m is not None:
        s1 = walk.steps[1]
        out.append(
            f"  step 1: m = {_num(s0.m)} - {lr} * ({_num(s0.grad_m)}) = {_num(s1.m)}, "
            f"b = {_num(s0.b)} - {lr} * ({_num(s0.grad_b)}) = {_num(s1.b)}"
        )
    out += [
        "",
        f"{'step':>5} {'m':>12} {'b':>12} {'MSE':>12} {'RMSE':>12} {'dMSE/dm':>12} {'dMSE/db':>12}",
    ]
    for s in walk.steps:
        out.append(
            f"{s.index:>5} {_num(s.m):>12} {_num(s.b):>12} {_num(s.mse):>12} "
            f"{_num(s.rmse):>12} {_num(s.grad_m):>12} {_num(s.grad_b):>12}"
        )
    last = walk.steps[-1]
    out.append("")
    limit = stable_learning_rate()
    if last.index == 0 and not walk.diverged:
        out.append(
            f"No update was made (0 steps): MSE stays {_num(s0.mse)} at m = {_num(s0.m)}, "
            f"b = {_num(s0.b)}. Run some steps (--steps 20) to see it go down."
        )
    elif walk.overshoot:
        how = (
            "the loss overflowed and training stopped"
            if walk.diverged
            else f"MSE went from {_num(s0.mse)} to {_num(last.mse)}"
        )
        out.append(
            f"OVERSHOOT: the loss grows ({how}). With learning rate {lr} each step jumps "
            "past the minimum and lands higher on the other side of the valley. "
            f"Use a smaller learning rate: above about {limit:.2f} gradient descent "
            "diverges on this data."
        )
    else:
        out.append(
            f"The loss went down: MSE {_num(s0.mse)} -> {_num(last.mse)} after "
            f"{last.index} step(s), now at m = {_num(last.m)}, b = {_num(last.b)}. "
            f"The best line is m = {_num(BEST[0])}, b = {_num(BEST[1])} (MSE 0); more "
            "steps get closer."
        )
    return out


def plot_window(walk: Walkthrough) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(m_range, b_range)`` that shows the start, the minimum and the path while it stays
    near them (a diverging path soon leaves any sensible window)."""
    pts = [START, BEST]
    for m, b in walk.path:
        if max(abs(m - BEST[0]), abs(b - BEST[1])) > 12:
            break
        pts.append((m, b))
    arr = np.array(pts)
    lo, hi = arr.min(axis=0), arr.max(axis=0)
    pad = np.maximum((hi - lo) * 0.15, 1.0)
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))
