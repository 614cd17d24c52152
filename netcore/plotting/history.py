"""Training curves: one panel per metric, training against validation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._base import finish, new_figure

_TITLES = {"loss": "Loss", "accuracy": "Accuracy"}


def plot_history(
    history: Mapping[str, Any] | Any,
    path: str | os.PathLike[str] | None = None,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
) -> Any:
    """Plot per-epoch training (and validation) curves into one PNG, one panel per metric.

    Args:
        history: the :class:`~netcore.callbacks.History` that ``fit`` returns, its
            ``.history`` dict (``{"loss": [...], "val_loss": [...], ...}``), or the contents
            of the CLI's ``history.json`` (which holds that dict under ``"history"``).
        path: the PNG to write (folders are created); default: none, the ``Figure``
            is returned (a notebook shows it inline).
        metrics: the metrics to draw, e.g. ``("loss",)``; default: every metric that has
            no ``val_`` prefix, in the history's order.
        title: a title above the panels.

    Returns:
        ``path`` as a :class:`~pathlib.Path`, or the ``Figure`` when no ``path`` is given.

    Raises:
        TypeError: ``history`` is neither a ``History`` nor a dict.
        ValueError: the history is empty or lacks a requested metric.
        PlottingUnavailableError: matplotlib is not installed.
    """
    if not isinstance(history, Mapping):
        if not isinstance(getattr(history, "history", None), Mapping):
            raise TypeError(
                "history must be a History (what fit returns) or its .history dict, "
                f"received {type(history).__name__}"
            )
        history = history.history
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
    fig = new_figure(5.0 * len(metrics), 3.8)
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
        ax.set_title(
            title if title and len(metrics) == 1 else f"{_TITLES.get(name, name)} per epoch"
        )
        ax.set_xticks(epochs if epochs.size <= 20 else np.linspace(1, epochs.size, 10).round())
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title and len(metrics) > 1:
        fig.suptitle(title)
    return finish(fig, path)
