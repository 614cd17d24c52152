"""Pictures of ideas rather than of a run: activation functions, cross-entropy against
squared error, and a simple against an over-flexible trendline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import Polynomial

from ._base import finish, new_figure

#: The example vector whose softmax :func:`plot_activations` draws as a bar chart.
SOFTMAX_EXAMPLE = (2.0, 1.0, 0.1)


def plot_activations(
    path: str | os.PathLike[str] | None = None,
    x_range: tuple[float, float] = (-6.0, 6.0),
    softmax_input: Sequence[float] = SOFTMAX_EXAMPLE,
) -> Any:
    """Draw linear, ReLU and sigmoid, and the softmax of an example vector as a bar chart,
    side by side in one PNG. The curves come from :mod:`netcore.activations`, the same
    functions the layers apply.

    Raises:
        PlottingUnavailableError: matplotlib is not installed.
    """
    from .. import activations

    fig = new_figure(16.0, 3.9)
    axes = fig.subplots(1, 4)
    x = np.linspace(*x_range, 401)
    curves = [
        ("linear", "f(x) = x"),
        ("relu", "f(x) = max(0, x)"),
        ("sigmoid", "f(x) = 1 / (1 + e^-x)"),
    ]
    for ax, (name, formula) in zip(axes, curves):
        y = np.asarray(getattr(activations, name)(x), dtype=float)
        ax.plot(x, y, color="tab:blue", linewidth=2)
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.axvline(0, color="grey", linewidth=0.6)
        ax.set_title(f"{'ReLU' if name == 'relu' else name.capitalize()}: {formula}", fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.grid(True, alpha=0.3)
    z = np.asarray(softmax_input, dtype=float)
    p = np.asarray(activations.softmax(z), dtype=float)
    ax = axes[3]
    bars = ax.bar(np.arange(z.size), p, color="tab:green")
    for bar, prob in zip(bars, p):
        ax.annotate(
            f"{prob:.3f}",
            (bar.get_x() + bar.get_width() / 2, prob),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_xticks(np.arange(z.size), [f"z={v:g}" for v in z])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("probability")
    ax.set_title(f"Softmax of [{', '.join(f'{v:g}' for v in z)}] (sums to 1)", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Activation functions")
    return finish(fig, path)


def plot_xent(path: str | os.PathLike[str] | None = None) -> Any:
    """ "RMSE for probabilities?": the loss of one prediction whose true label is 1, as the
    predicted probability ``p`` of that label goes from 1 to 0.

    Cross-entropy ``-ln p`` grows without bound as ``p -> 0``, so a confidently wrong
    prediction is punished hard and keeps a strong gradient. Squared error ``(1 - p)^2``
    (and RMSE ``|1 - p|``) never exceed 1: it barely separates "wrong" from "very wrong". The
    values come from :mod:`netcore.losses` (categorical cross-entropy and MSE of the one-hot
    target ``[1, 0]`` against ``[p, 1 - p]``), the losses training uses.

    Returns:
        ``path`` as a :class:`~pathlib.Path`, or the ``Figure`` when no ``path`` is given.

    Raises:
        PlottingUnavailableError: matplotlib is not installed.
    """
    from .. import losses

    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    p = np.linspace(1.0, 0.002, 250)
    target = [[1.0, 0.0]]
    xent = np.array([losses.categorical_crossentropy(target, [[v, 1 - v]]) for v in p])
    squared = np.array([losses.mse(target, [[v, 1 - v]]) for v in p])
    rmse = np.array([losses.rmse(target, [[v, 1 - v]]) for v in p])
    ax.plot(p, xent, color="tab:red", linewidth=2, label="cross-entropy  -ln(p)")
    ax.plot(p, squared, color="tab:blue", linewidth=2, label="squared error  (1 - p)^2")
    ax.plot(p, rmse, ":", color="tab:blue", label="RMSE  |1 - p|")
    for v in (0.5, 0.1, 0.01):
        ce = float(losses.categorical_crossentropy(target, [[v, 1 - v]]))
        ax.annotate(
            f"p = {v:g}: -ln p = {ce:.2f}",
            (v, ce),
            xytext=(-8, 6),
            textcoords="offset points",
            fontsize=8,
            color="tab:red",
            ha="right",
        )
        ax.plot([v], [ce], "o", color="tab:red", markersize=4)
    ax.set_xlim(1.0, 0.0)  # the prediction gets worse from left to right
    ax.set_ylim(0.0, float(xent.max()) * 1.05)
    ax.set_xlabel("predicted probability p of the true label (1 = right, 0 = wrong)")
    ax.set_ylabel("loss")
    ax.set_title("RMSE for probabilities? The loss of one prediction, true label 1", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    return finish(fig, path)


@dataclass(frozen=True)
class Trendline:
    """A polynomial fitted to the training points, with its mean squared error on the
    training points and on the validation points."""

    degree: int
    polynomial: Polynomial
    train_mse: float
    valid_mse: float


@dataclass(frozen=True)
class OverfittingExample:
    """Noisy points from the line ``y = 1 + 2 x``, split in training and validation points,
    and a simple and a high-degree trendline fitted to the training points."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    simple: Trendline
    flexible: Trendline


def overfitting_example(
    seed: int = 0, n: int = 10, high_degree: int = 9, noise: float = 0.6
) -> OverfittingExample:
    """The data and fits :func:`plot_overfitting` draws.

    ``n`` training points at roughly even ``x`` in [0, 3] (jittered), ``n - 1`` validation
    points between them, all ``y = 1 + 2 x + noise`` (Gaussian, standard deviation
    ``noise``). A straight line (degree 1) and a polynomial of ``high_degree`` are
    least-squares fits to the training points only. With ``high_degree = n - 1`` the
    polynomial passes through every training point (training error 0) and swings between
    them (a larger validation error than the line's).

    Raises:
        ValueError: ``n`` is not an integer of at least 2, ``high_degree`` not an integer in
            ``[1, n - 1]`` (a higher degree than the points can fix is ill-conditioned), or
            ``noise`` not a finite number of at least 0.
    """
    from ..validation import is_integer, is_real_number

    if not is_integer(n) or n < 2:
        raise ValueError(f"n must be an integer of at least 2, received {n!r}")
    if not is_integer(high_degree) or not 1 <= high_degree <= n - 1:
        raise ValueError(
            f"high_degree must be an integer in [1, n - 1] = [1, {n - 1}], received {high_degree!r}"
        )
    if not is_real_number(noise) or not 0 <= noise < np.inf:
        raise ValueError(f"noise must be a finite number of at least 0, received {noise!r}")
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.1, 2.9, n)
    jitter = 0.3 * (grid[1] - grid[0])
    x_train = grid + rng.uniform(-jitter, jitter, n)
    x_valid = (grid[:-1] + grid[1:]) / 2 + rng.uniform(-jitter, jitter, n - 1)
    y_train = 1 + 2 * x_train + rng.normal(0, noise, n)
    y_valid = 1 + 2 * x_valid + rng.normal(0, noise, n - 1)

    def fit(degree: int) -> Trendline:
        poly = Polynomial.fit(x_train, y_train, degree)
        return Trendline(
            degree,
            poly,
            float(np.mean((poly(x_train) - y_train) ** 2)),
            float(np.mean((poly(x_valid) - y_valid) ** 2)),
        )

    return OverfittingExample(x_train, y_train, x_valid, y_valid, fit(1), fit(high_degree))


def plot_overfitting(path: str | os.PathLike[str] | None = None, seed: int = 0) -> Any:
    """ "Which trendline is better?": the points of :func:`overfitting_example`, a straight
    line and a high-degree polynomial fitted to the training points, each with its training
    and validation mean squared error in the legend. The wiggly curve wins on the training
    points and loses on the validation points: it learned the noise (overfitting).

    Returns:
        ``path`` as a :class:`~pathlib.Path`, or the ``Figure`` when no ``path`` is given.

    Raises:
        PlottingUnavailableError: matplotlib is not installed.
    """
    ex = overfitting_example(seed)
    fig = new_figure(7.0, 5.0)
    ax = fig.add_subplot()
    every_x = np.concatenate([ex.x_train, ex.x_valid])
    xs = np.linspace(every_x.min(), every_x.max(), 600)
    for line, style in (
        (ex.simple, dict(color="tab:green", linewidth=2)),
        (ex.flexible, dict(color="tab:red", linewidth=1.6)),
    ):
        name = "straight line" if line.degree == 1 else f"degree-{line.degree} polynomial"
        ax.plot(
            xs,
            line.polynomial(xs),
            **style,
            label=f"{name}: training MSE {line.train_mse:.3f}, validation MSE {line.valid_mse:.3f}",
        )
    ax.plot(ex.x_train, ex.y_train, "o", color="black", label="training points")
    ax.plot(
        ex.x_valid,
        ex.y_valid,
        "s",
        color="tab:orange",
        markerfacecolor="none",
        markeredgewidth=1.5,
        label="validation points",
    )
    # The window holds every point; the polynomial's swings may leave it between them.
    ys = np.concatenate([ex.y_train, ex.y_valid])
    pad = 0.35 * (ys.max() - ys.min())
    ax.set_ylim(ys.min() - pad, ys.max() + pad)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(
        "Which trendline is better? Both fit the training points; only one fits new points",
        fontsize=10,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncol=2)
    return finish(fig, path)
