"""What ``fit``/``evaluate``/``predict``/``train_on_batch`` receive, checked and turned into a
:class:`~netcore.training.feed.DataFeed` (validated on the host, moved to the device once, cast once
to the model dtype)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import distribution, validation
from ..callbacks import Callback
from ..utils import PyDataset
from .feed import DataFeed


def is_batch_source(x: Any) -> bool:
    """Is ``x`` a generator/iterator or a PyDataset (batches one at a time, not arrays)?"""
    return isinstance(x, (PyDataset, Iterator))


def prepare_feed(
    model: Any,
    x: Any,
    y: Any | None,
    what: str,
    targets: bool = True,
    sample_weight: Any = None,
    class_weight: Any = None,
) -> DataFeed:
    """The feed of ``(x, y)``; builds ``model`` from ``x``'s shape if it is not built yet.

    With ``targets`` (training, evaluation) ``y`` is required; ``sample_weight`` (N,) or
    ``class_weight`` (a dict, as Keras: not both) become per-sample weights in the feed."""
    x = validation.check_x(x, model, what)
    with model._lock:
        if not model.built:
            model.build(x.shape[1:])
    validation.check_x_shape(x, model, what)
    y_name = what.replace("x", "y")
    if targets and y is None:
        raise ValueError(
            f"{y_name} must be an array of targets, one per sample of {what}, received None"
        )
    y = validation.check_y(y, x.shape[0], model) if y is not None else None
    if sample_weight is not None and class_weight is not None:
        raise ValueError("give sample_weight or class_weight, not both")
    w = None
    if sample_weight is not None:
        w = validation.check_sample_weight(
            sample_weight, x.shape[0], what.replace("x", "sample_weight")
        )
    elif class_weight is not None:
        w = validation.class_weight_samples(class_weight, y, model)
    if w is not None:
        weight_name = (
            "class_weight" if sample_weight is None else what.replace("x", "sample_weight")
        )
        validation.check_in_range(w, model.dtype, weight_name)
    sparse = model.loss is not None and model.loss.target_kind == "sparse"
    ydt = np.int64 if sparse else model.dtype
    feed = DataFeed(model.backend, x, y, model.dtype, ydt, w)
    feed.check_finite(what, check_y=y is not None and not sparse)
    if w is not None and distribution.active() is not None:
        raise NotImplementedError(
            "sample_weight and class_weight are not supported under "
            "netcore.distribution data parallelism"
        )
    return feed


def check_fit_arguments(
    batch_size: Any,
    epochs: Any,
    initial_epoch: Any,
    verbose: Any,
    validation_split: Any,
    validation_data: Any,
    shuffle: Any,
    callbacks: Sequence[Callback] | None,
) -> tuple[int, int, int | None, int, float, list[Callback]]:
    """``fit``'s options, checked: ``(batch_size, epochs, initial_epoch, verbose,
    validation_split, callbacks)``."""
    batch_size = validation.check_batch_size(batch_size)
    epochs = validation.check_nonneg_int(epochs, "epochs")
    if initial_epoch is not None:
        initial_epoch = validation.check_nonneg_int(initial_epoch, "initial_epoch")
    verbose = validation.check_verbose(verbose)
    validation_split = validation.check_split(validation_split)
    validation.check_bool(shuffle, "shuffle")
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks must be netcore.callbacks.Callback objects, received {cb!r}"
            )
    if validation_data is not None and validation_split:
        raise ValueError("give validation_data or validation_split, not both")
    if validation_data is not None and not is_batch_source(validation_data):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or "
                "(x_val, y_val, val_sample_weight), a generator or a PyDataset"
            )
    return batch_size, epochs, initial_epoch, verbose, validation_split, callbacks


def split_off_validation(
    x: Any, y: Any, sample_weight: Any, split: float
) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """Keras' ``validation_split``: the *last* fraction of ``x``, ``y`` (and ``sample_weight``),
    taken before shuffling, validates -> ``(x, y, sample_weight, validation_data)``."""
    x = validation.as_array(x, "x")
    y = validation.as_array(y, "y")
    n = x.shape[0] if x.ndim else 0
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(
            f"x and y must have the same number of rows (samples): x has {n}, "
            f"y has {y.shape[0] if y.ndim else 'none'}"
        )
    k = int(n * (1 - split))
    if k == 0 or k == n:
        raise ValueError(
            f"validation_split={split} leaves {k} of {n} samples for training; "
            "choose a split that leaves samples on both sides"
        )
    x, y, x_val, y_val = x[:k], y[:k], x[k:], y[k:]
    if sample_weight is None:
        return x, y, None, (x_val, y_val)
    w = validation.check_sample_weight(sample_weight, n)
    return x, y, w[:k], (x_val, y_val, w[k:])
