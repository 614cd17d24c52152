"""Plots for the course: training curves, a two-parameter loss surface, activation functions.

Needs matplotlib (``pip install 'netcore[plot]'``). Figures are drawn on
``matplotlib.figure.Figure`` objects and written straight to PNG, never through ``pyplot``:
that needs no display, and it leaves the matplotlib backend of a notebook or script that
imports this module untouched.

>>> from netcore.plotting import plot_history, plot_activations      # doctest: +SKIP
>>> plot_history(model.history.history, "loss.png", metrics=("loss",)) # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = ["PlottingUnavailableError", "INSTALL_HINT", "require_matplotlib", "plot_history",
           "plot_loss_surface", "plot_activations", "SOFTMAX_EXAMPLE"]

INSTALL_HINT = "pip install 'netcore[plot]'"
#: The example vector whose softmax :func:`plot_activations` draws as a bar chart.
SOFTMAX_EXAMPLE = (2.0, 1.0, 0.1)


class PlottingUnavailableError(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> None:
    """Raise :class:`PlottingUnavailableError` (with the install command) without matplotlib."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:
        raise PlottingUnavailableError(
            f"plotting needs matplotlib, which is not installed ({exc}): {INSTALL_HINT}") from None


def _figure(width: float, height: float) -> Any:
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


_TITLES = {"loss": "Loss", "accuracy": "Accuracy"}


def plot_history(history: Mapping[str, Any], path: str | os.PathLike[str],
                 metrics: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Plot per-epoch training (and validation) curves into one PNG, one panel per metric.

    Args:
        history: ``History.history`` (``{"loss": [...], "val_loss": [...], ...}``), or the
            contents of the CLI's ``history.json`` (which holds that under ``"history"``).
        path: the PNG to write (folders are created).
        metrics: the metrics to draw, e.g. ``("loss",)``; default: every metric that has
            no ``val_`` prefix, in the history's order.
        title: a title above the panels.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: the history is empty or lacks a requested metric.
        PlottingUnavailableError: matplotlib is not installed.
    """
    # The CLI's history.json wraps the Keras-style dict with run details.
    logs = history["history"] if isinstance(history.get("history"), Mapping) else history
    if metrics is None:
        metrics = [k for k in logs if not k.startswith("val_")]
    metrics = list(metrics)
    if not metrics:
        raise ValueError("the history holds no metrics to plot")
    for name in metrics:
        if name not in logs or len(logs[name]) == 0:
            raise ValueError(f"the history has no values for {name!r}; it holds {sorted(logs)}")
    fig = _figure(5.0 * len(metrics), 3.8)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, name in zip(axes, metrics):
        train = np.asarray(logs[name], dtype=float)
        epochs = np.arange(1, train.size + 1)
        # Markers as well as lines: a one-epoch run is a single point and must still show.
        ax.plot(epochs, train, "o-", color="tab:blue", label="training")
        val = logs.get(f"val_{name}")
        if val is not None and len(val):
            val = np.asarray(val, dtype=float)
            ax.plot(np.arange(1, val.size + 1), val, "s--", color="tab:orange", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        # One panel: the caller's title replaces the generic one rather than stacking on it.
        ax.set_title(title if title and len(metrics) == 1 else f"{_TITLES.get(name, name)} per epoch")
        ax.set_xticks(epochs if epochs.size <= 20 else np.linspace(1, epochs.size, 10).round())
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title and len(metrics) > 1:
        fig.suptitle(title)
    return _save(fig, path)


def _levels(z: np.ndarray, n: int = 24) -> np.ndarray:
    """Contour levels spaced evenly on a log scale: a quadratic bowl's floor and its steep
    walls both get detail (linear levels would paint the floor one colour)."""
    hi = float(np.nanmax(z))
    lo = max(float(np.nanmin(z)), hi * 1e-4, 1e-12)
    if not hi > lo:
        return np.linspace(lo, lo + 1.0, n)
    return np.concatenate([[min(0.0, float(np.nanmin(z)))], np.geomspace(lo, hi, n - 1)])


def plot_loss_surface(loss: Callable[[np.ndarray, np.ndarray], np.ndarray],
                      descent: Sequence[tuple[float, float]],
                      surface_path: str | os.PathLike[str] | None,
                      contour_path: str | os.PathLike[str] | None,
                      m_range: tuple[float, float], b_range: tuple[float, float],
                      minimum: tuple[float, float] | None = None,
                      title: str = "MSE of y-hat = m x + b", resolution: int = 121) -> list[Path]:
    """Draw the loss of a two-parameter model as a 3D surface and as filled contours, with
    the gradient-descent path on both.

    Args:
        loss: vectorised ``loss(m, b)`` taking and returning arrays of equal shape.
        descent: the ``(m, b)`` points gradient descent visited, start first. Points outside
            the ranges are left out of the drawing (a diverging run leaves the picture).
        surface_path, contour_path: the PNGs to write; ``None`` skips one.
        m_range, b_range: the plotted window of each parameter.
        minimum: where the loss is smallest, marked with a star.
        title: figure title.
        resolution: grid points per axis.

    Returns:
        The paths written.

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
    inside = ((pts[:, 0] >= m_range[0]) & (pts[:, 0] <= m_range[1])
              & (pts[:, 1] >= b_range[0]) & (pts[:, 1] <= b_range[1]) & np.isfinite(pts).all(axis=1))
    # Keep the leading run of visible points: a line to a point off the plot would mislead.
    stop = int(np.argmin(inside)) if not inside.all() else len(pts)
    shown = pts[:stop]
    shown_z = np.asarray(loss(shown[:, 0], shown[:, 1]), dtype=float) if len(shown) else np.empty(0)
    left_note = f" ({len(pts) - stop} later points fall outside the plot)" if stop < len(pts) else ""
    levels = _levels(zz)
    written: list[Path] = []

    if surface_path is not None:
        fig = _figure(7.0, 5.6)
        # computed_zorder=False: draw the path over the surface instead of depth-sorting it away.
        ax = fig.add_subplot(projection="3d", computed_zorder=False)
        ax.plot_surface(mm, bb, zz, cmap="viridis", alpha=0.75, linewidth=0, antialiased=True,
                        rcount=60, ccount=60, zorder=1)
        if len(shown):
            ax.plot(shown[:, 0], shown[:, 1], shown_z, "o-", color="red", markersize=4,
                    linewidth=1.8, zorder=3, label="gradient descent")
            ax.scatter([shown[0, 0]], [shown[0, 1]], [shown_z[0]], color="white",
                       edgecolor="black", s=50, zorder=4, label="start")
        if minimum is not None:
            mz = float(np.asarray(loss(np.array([minimum[0]]), np.array([minimum[1]])))[0])
            ax.scatter([minimum[0]], [minimum[1]], [mz], marker="*", color="gold",
                       edgecolor="black", s=160, zorder=4, label="minimum")
        ax.set_xlabel("m (slope)")
        ax.set_ylabel("b (intercept)")
        ax.set_zlabel("loss")
        ax.set_title(title + left_note, fontsize=10)
        ax.view_init(elev=32, azim=-130)
        ax.legend(loc="upper left", fontsize=8)
        written.append(_save(fig, surface_path))

    if contour_path is not None:
        fig = _figure(6.4, 5.2)
        ax = fig.add_subplot()
        norm = BoundaryNorm(levels, ncolors=256, extend="max")
        filled = ax.contourf(mm, bb, zz, levels=levels, cmap="viridis", norm=norm, extend="max")
        ax.contour(mm, bb, zz, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
        fig.colorbar(filled, ax=ax, label="loss", format="%.3g")
        if len(shown):
            ax.plot(shown[:, 0], shown[:, 1], "o-", color="red", markersize=4, linewidth=1.8,
                    label="gradient descent")
            ax.plot(shown[0, 0], shown[0, 1], "o", color="white", markeredgecolor="black",
                    markersize=9, label="start")
        if minimum is not None:
            ax.plot(*minimum, "*", color="gold", markeredgecolor="black", markersize=15,
                    label="minimum")
        ax.set_xlim(*m_range)
        ax.set_ylim(*b_range)
        ax.set_xlabel("m (slope)")
        ax.set_ylabel("b (intercept)")
        ax.set_title(title + left_note, fontsize=10)
        ax.legend(loc="lower left", fontsize=8)
        written.append(_save(fig, contour_path))
    return written


def plot_activations(path: str | os.PathLike[str], x_range: tuple[float, float] = (-6.0, 6.0),
                     softmax_input: Sequence[float] = SOFTMAX_EXAMPLE) -> Path:
    """Draw linear, ReLU and sigmoid, and the softmax of an example vector as a bar chart,
    side by side in one PNG. The curves come from :mod:`netcore.activations`, the same
    functions the layers apply.

    Raises:
        PlottingUnavailableError: matplotlib is not installed.
    """
    from . import activations

    fig = _figure(16.0, 3.9)
    axes = fig.subplots(1, 4)
    x = np.linspace(*x_range, 401)
    curves = [("linear", "f(x) = x"), ("relu", "f(x) = max(0, x)"),
              ("sigmoid", "f(x) = 1 / (1 + e^-x)")]
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
        ax.annotate(f"{prob:.3f}", (bar.get_x() + bar.get_width() / 2, prob),
                    ha="center", va="bottom", fontsize=9)
    ax.set_xticks(np.arange(z.size), [f"z={v:g}" for v in z])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("probability")
    ax.set_title(f"Softmax of [{', '.join(f'{v:g}' for v in z)}] (sums to 1)", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Activation functions")
    return _save(fig, path)
