"""The two-parameter model ``y-hat = m x + b``: its loss surface, and its line on the data."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import finish, new_figure, require_matplotlib

if TYPE_CHECKING:
    from ..course.linear import Walkthrough


def _levels(z: np.ndarray, n: int = 24) -> np.ndarray:
    """Contour levels spaced evenly on a log scale: a quadratic bowl's floor and its steep
    walls both get detail (linear levels would paint the floor one colour)."""
    hi = float(np.nanmax(z))
    lo = max(float(np.nanmin(z)), hi * 1e-4, 1e-12)
    if not hi > lo:
        return np.linspace(lo, lo + 1.0, n)
    return np.concatenate([[min(0.0, float(np.nanmin(z)))], np.geomspace(lo, hi, n - 1)])


def plot_loss_surface(
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray],
    descent: Sequence[tuple[float, float]],
    surface_path: str | os.PathLike[str] | None,
    contour_path: str | os.PathLike[str] | None,
    m_range: tuple[float, float],
    b_range: tuple[float, float],
    minimum: tuple[float, float] | None = None,
    title: str = "MSE of y-hat = m x + b",
    resolution: int = 121,
) -> list[Any]:
    """Draw the loss of a two-parameter model as a 3D surface and as filled contours, with
    the gradient-descent path on both.

    Args:
        loss: vectorised ``loss(m, b)`` taking and returning arrays of equal shape.
        descent: the ``(m, b)`` points gradient descent visited, start first. Points outside
            the ranges are left out of the drawing (a diverging run leaves the picture).
        surface_path, contour_path: the PNGs to write; ``None`` skips one; both ``None``:
            both figures are returned instead (a notebook shows them inline).
        m_range, b_range: the plotted window of each parameter.
        minimum: where the loss is smallest, marked with a star.
        title: figure title.
        resolution: grid points per axis.

    Returns:
        The paths written, or the two ``Figure`` objects when neither path is given.

    Raises:
        PlottingUnavailableError: matplotlib is not installed.
    """
    require_matplotlib()
    from matplotlib.colors import BoundaryNorm

    ms = np.linspace(*m_range, resolution)
    bs = np.linspace(*b_range, resolution)
    mm, bb = np.meshgrid(ms, bs)
    zz = np.asarray(loss(mm, bb), dtype=float)
    pts = np.asarray(descent, dtype=float).reshape(-1, 2)
    inside = (
        (pts[:, 0] >= m_range[0])
        & (pts[:, 0] <= m_range[1])
        & (pts[:, 1] >= b_range[0])
        & (pts[:, 1] <= b_range[1])
        & np.isfinite(pts).all(axis=1)
    )
    # Keep the leading run of visible points: a line to a point off the plot would mislead.
    stop = int(np.argmin(inside)) if not inside.all() else len(pts)
    shown = pts[:stop]
    shown_z = np.asarray(loss(shown[:, 0], shown[:, 1]), dtype=float) if len(shown) else np.empty(0)
    left_note = (
        f" ({len(pts) - stop} later points fall outside the plot)" if stop < len(pts) else ""
    )
    levels = _levels(zz)
    written: list[Any] = []
    figures_only = surface_path is None and contour_path is None

    if surface_path is not None or figures_only:
        fig = new_figure(7.0, 5.6)
        # computed_zorder=False: draw the path over the surface instead of depth-sorting it away.
        ax = fig.add_subplot(projection="3d", computed_zorder=False)
        ax.plot_surface(
            mm,
            bb,
            zz,
            cmap="viridis",
            alpha=0.75,
            linewidth=0,
            antialiased=True,
            rcount=60,
            ccount=60,
            zorder=1,
        )
        if len(shown):
            ax.plot(
                shown[:, 0],
                shown[:, 1],
                shown_z,
                "o-",
                color="red",
                markersize=4,
                linewidth=1.8,
                zorder=3,
                label="gradient descent",
            )
            ax.scatter(
                [shown[0, 0]],
                [shown[0, 1]],
                [shown_z[0]],
                color="white",
                edgecolor="black",
                s=50,
                zorder=4,
                label="start",
            )
        if minimum is not None:
            mz = float(np.asarray(loss(np.array([minimum[0]]), np.array([minimum[1]])))[0])
            ax.scatter(
                [minimum[0]],
                [minimum[1]],
                [mz],
                marker="*",
                color="gold",
                edgecolor="black",
                s=160,
                zorder=4,
                label="minimum",
            )
        ax.set_xlabel("m (slope)")
        ax.set_ylabel("b (intercept)")
        ax.set_zlabel("loss")
        ax.set_title(title + left_note, fontsize=10)
        ax.view_init(elev=32, azim=-130)
        ax.legend(loc="upper left", fontsize=8)
        written.append(finish(fig, surface_path))

    if contour_path is not None or figures_only:
        fig = new_figure(6.4, 5.2)
        ax = fig.add_subplot()
        norm = BoundaryNorm(levels, ncolors=256, extend="max")
        filled = ax.contourf(mm, bb, zz, levels=levels, cmap="viridis", norm=norm, extend="max")
        ax.contour(mm, bb, zz, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
        fig.colorbar(filled, ax=ax, label="loss", format="%.3g")
        if len(shown):
            ax.plot(
                shown[:, 0],
                shown[:, 1],
                "o-",
                color="red",
                markersize=4,
                linewidth=1.8,
                label="gradient descent",
            )
            ax.plot(
                shown[0, 0],
                shown[0, 1],
                "o",
                color="white",
                markeredgecolor="black",
                markersize=9,
                label="start",
            )
        if minimum is not None:
            ax.plot(
                *minimum, "*", color="gold", markeredgecolor="black", markersize=15, label="minimum"
            )
        ax.set_xlim(*m_range)
        ax.set_ylim(*b_range)
        ax.set_xlabel("m (slope)")
        ax.set_ylabel("b (intercept)")
        ax.set_title(title + left_note, fontsize=10)
        ax.legend(loc="lower left", fontsize=8)
        written.append(finish(fig, contour_path))
    return written


def _equation(m: float, b: float) -> str:
    """``y-hat = 2 x + 1``, ``y-hat = -0.7 x - 5.1``: three significant digits, one sign."""
    return f"y-hat = {m:.3g} x {'-' if b < 0 else '+'} {abs(b):.3g}"


def plot_linear_fit(walk: Walkthrough, path: str | os.PathLike[str] | None = None) -> Any:
    """Draw a gradient-descent run of the linear walk-through in two panels: the data points
    with the starting line and the current (last) line ``y-hat = m x + b``, and the MSE over
    the steps.

    The loss panel switches to a log scale when the loss blows up (it ends higher than it
    started, or spans more than three orders of magnitude), so every step stays on the plot.

    Args:
        walk: what :func:`netcore.course.linear.run_walkthrough` returns.
        path: the PNG to write (folders are created); default: none, the ``Figure``
            is returned (a notebook shows it inline).

    Returns:
        ``path`` as a :class:`~pathlib.Path`, or the ``Figure`` when no ``path`` is given.

    Raises:
        PlottingUnavailableError: matplotlib is not installed.
    """
    from ..course.linear import BEST, X, Y

    first, last = walk.steps[0], walk.steps[-1]
    fig = new_figure(10.0, 4.0)
    # after new_figure, which checks that matplotlib is installed
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax_fit, ax_loss = fig.subplots(1, 2)
    xs = np.linspace(X.min() - 0.5, X.max() + 0.5, 50)
    ax_fit.plot(
        xs,
        first.m * xs + first.b,
        "--",
        color="grey",
        label=f"start: {_equation(first.m, first.b)}",
    )
    ax_fit.plot(
        xs, BEST[0] * xs + BEST[1], ":", color="tab:green", label=f"best: {_equation(*BEST)}"
    )
    if np.isfinite([last.m, last.b]).all():
        ax_fit.plot(
            xs,
            last.m * xs + last.b,
            "-",
            color="tab:red",
            linewidth=2,
            label=f"after {last.index} steps: {_equation(last.m, last.b)}",
        )
    ax_fit.plot(X, Y, "o", color="black", markersize=8, label="data", zorder=3)
    # The window holds the data and the start line; a line that has blown up leaves it,
    # and its equation in the legend says where it went.
    near = np.concatenate([Y, first.m * xs + first.b, BEST[0] * xs + BEST[1]])
    pad = 0.15 * (near.max() - near.min())
    ax_fit.set_ylim(near.min() - pad, near.max() + pad)
    ax_fit.set_xlabel("x")
    ax_fit.set_ylabel("y")
    ax_fit.set_title("The data and the line", fontsize=10)
    ax_fit.legend(fontsize=8, loc="upper left")
    ax_fit.grid(True, alpha=0.3)

    steps = np.array([s.index for s in walk.steps])
    mse = np.array([s.mse for s in walk.steps], dtype=float)
    shown = np.isfinite(mse)
    positive = mse[shown & (mse > 0)]
    # Log scale when the loss grows or spans more than three orders of magnitude (compared
    # as logarithms: the ratio of an overflowing loss to a tiny one is not a float).
    log = bool(
        positive.size
        and (mse[shown].max() > mse[0] or np.log10(positive.max()) - np.log10(positive.min()) > 3)
    )
    if log:
        # log10 of the loss on a linear axis, ticks labelled 10^k: matplotlib's own log axis
        # computes ticks past the largest float when the loss spans hundreds of decades.
        shown &= mse > 0
        ax_loss.plot(steps[shown], np.log10(mse[shown]), "o-", color="tab:blue", markersize=4)
        ax_loss.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_loss.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"$10^{{{v:.0f}}}$"))
    else:
        ax_loss.plot(steps[shown], mse[shown], "o-", color="tab:blue", markersize=4)
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_xlabel("step (updates made)")
    ax_loss.set_ylabel("MSE" + (" (log scale)" if log else ""))
    if last.index == 0:
        trend = "no update yet"
    elif walk.overshoot:
        trend = "grows: overshoot"
    else:
        trend = "shrinks" if last.mse < first.mse else "unchanged"
    ax_loss.set_title(f"Loss per step: {first.mse:.4g} -> {last.mse:.4g} ({trend})", fontsize=10)
    ax_loss.grid(True, alpha=0.3, which="both")
    overflowed = ~np.isfinite(mse)
    if overflowed.any():
        ax_loss.annotate(
            f"the loss overflowed at step {int(steps[overflowed][0])}",
            (0.02, 0.95),
            xycoords="axes fraction",
            fontsize=8,
            va="top",
            color="tab:red",
        )
    fig.suptitle(
        f"Gradient descent on y-hat = m x + b, learning rate {walk.learning_rate:g}"
        + (" (the loss overflowed; the run stopped)" if walk.diverged else "")
    )
    return finish(fig, path)
