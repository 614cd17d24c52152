"""Every picture of the course: data, predictions, training curves, the linear model, and the
ideas (activations, cross-entropy, overfitting).

Needs matplotlib (``pip install 'netcore[plot]'``). Figures are drawn on
``matplotlib.figure.Figure`` objects and written straight to PNG, never through ``pyplot``:
that needs no display, and it leaves the matplotlib backend of a notebook or script that
imports this module untouched. Given a file name, each function writes one PNG and returns its
:class:`~pathlib.Path`; given none, it returns the ``Figure``, which a notebook cell shows inline
(no ``%matplotlib inline`` needed) and ``fig.savefig(...)`` can write later. Each picture has a
title and labelled axes, so it reads on its own.

===============================  ==========================================================
:func:`plot_samples`             a grid of images with their labels
:func:`plot_predictions`         a grid of images with predicted labels, mistakes in red
:func:`plot_history`             loss and metrics per epoch, training against validation
:func:`plot_linear_fit`          the linear walk-through: data with its line, loss per step
:func:`plot_loss_surface`        the loss over ``(m, b)`` with the gradient-descent path
:func:`plot_activations`         linear, ReLU, sigmoid and softmax
:func:`plot_xent`                cross-entropy against squared error for one probability
:func:`plot_overfitting`         "Which trendline is better?": a simple and a wiggly fit
:func:`plot_filters`             a Conv2D layer's filters as small images
:func:`plot_feature_maps`        one image through a CNN's convolution and pooling layers
:func:`plot_augmented`           one image and eight augmented versions of it
===============================  ==========================================================

>>> from netcore.plotting import plot_history, plot_samples          # doctest: +SKIP
>>> plot_samples(x_train, y_train, "samples.png")                   # doctest: +SKIP
>>> plot_history(history)          # in a notebook: drawn below the cell # doctest: +SKIP
>>> plot_history(model.fit(x, y, validation_split=0.2), "curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

from ._base import INSTALL_HINT, PlottingUnavailableError, require_matplotlib
from .augment import plot_augmented
from .cnn import feature_maps, plot_feature_maps, plot_filters
from .concepts import (
    SOFTMAX_EXAMPLE,
    OverfittingExample,
    Trendline,
    overfitting_example,
    plot_activations,
    plot_overfitting,
    plot_xent,
)
from .history import plot_history
from .images import plot_predictions, plot_samples
from .linear import plot_linear_fit, plot_loss_surface

__all__ = [
    "PlottingUnavailableError",
    "INSTALL_HINT",
    "require_matplotlib",
    "plot_history",
    "plot_loss_surface",
    "plot_linear_fit",
    "plot_activations",
    "SOFTMAX_EXAMPLE",
    "plot_samples",
    "plot_predictions",
    "plot_overfitting",
    "overfitting_example",
    "OverfittingExample",
    "Trendline",
    "plot_xent",
    "plot_filters",
    "plot_feature_maps",
    "feature_maps",
    "plot_augmented",
]
