"""The epoch loop of ``fit`` and the batch loop of ``evaluate``, over a model's trainer.

``fit_epochs`` runs the callbacks around each epoch, ``run_epoch`` one epoch's steps (each
batch gathered from the feed in the epoch's shuffle order, one ``_train_step``, the logs
recorded on the device and read when the display refreshes), and ``evaluate_feed`` the
inference loop that validation and ``evaluate`` share. Shuffles and dropout masks derive from
``(seed, epoch)``, so a resumed run repeats them. With ``jit_compile`` the full batches of an
epoch replay one captured step (:mod:`.capture`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import distribution
from ..callbacks import Callback, History
from .feed import DataFeed
from .progress import EpochProgress


def fit_epochs(
    model: Any,
    feed: DataFeed,
    val: DataFeed | None,
    batch_size: int,
    first: int,
    epochs: int,
    offset: int,
    shuffle: bool,
    verbose: int,
    callbacks: list[Callback],
) -> History:
    """Epochs ``first .. epochs - 1`` with validation after each; returns the History."""
    history = History()
    history.params = {
        "epochs": epochs,
        "steps": math.ceil(feed.n / batch_size),
        "verbose": verbose,
    }
    model.history = history
    cbs: list[Callback] = [history, *callbacks]
    for cb in cbs:
        cb.set_model(model)
    model.stop_training = False
    for cb in cbs:
        cb.on_train_begin()
    for epoch in range(first, epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        logs, progress = run_epoch(
            model, feed, batch_size, epoch, epochs, epoch + offset, shuffle, verbose
        )
        model._next_epoch = epoch + offset + 1
        if val is not None:
            vlogs = evaluate_feed(model, val, batch_size)
            logs.update({f"val_{k}": v for k, v in vlogs.items()})
        progress.close(logs)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if (dist := distribution.active()) is not None:  # stopped on some ranks: on all
            model.stop_training = dist.any_rank(model.stop_training)
        if model.stop_training:
            break
    for cb in cbs:
        cb.on_train_end()
    return history


def _epoch_seed(model: Any, seed_epoch: int) -> list[int]:
    # Shuffles and dropout masks derive from (seed, epoch): a resumed run repeats them.
    return [model.seed, seed_epoch]


def run_epoch(
    model: Any,
    feed: DataFeed,
    batch_size: int,
    epoch: int,
    epochs: int,
    seed_epoch: int,
    shuffle: bool,
    verbose: int,
) -> tuple[dict[str, float], EpochProgress]:
    """One epoch's steps; returns its logs and its progress display (closed by the caller)."""
    be, n = model.backend, feed.n
    steps = math.ceil(n / batch_size)
    be.seed(int(np.random.SeedSequence(_epoch_seed(model, seed_epoch)).generate_state(1)[0]))
    dist = distribution.active()
    if dist is not None:
        dist.reseed_dropout(be, _epoch_seed(model, seed_epoch))
    perm = np.random.default_rng(_epoch_seed(model, seed_epoch)).permutation(n) if shuffle else None
    order = feed.order(perm)
    progress = EpochProgress(epoch, epochs, steps, verbose)
    tracker = model._tracker(epoch)
    # Where reading the loss is free, check it every step; on a device, only when shown.
    sync_every_step = be.host_reads_are_cheap
    if model._captured is not None:  # jit_compile: the full batches replay one CUDA graph
        model._captured.run_epoch(order, tracker, progress, sync_every_step)
        tracker.sync()
        return tracker.logs(), progress
    for step in range(steps):
        s, e = step * batch_size, min(n, (step + 1) * batch_size)
        # data parallel: this rank's rows of the global batch, gradients summed over ranks
        xb, yb = feed.batch(*((s, e) if dist is None else dist.shard(s, e)), order)
        wb = feed.weights(s, e, order)
        with model._lock:
            if dist is not None:
                loss, sums = dist.train_step(model, xb, yb, e - s)
            else:
                loss, sums = model._train_step(xb, yb, wb)
        tracker.record(loss, sums, e - s, model._step_flag(), None if wb is None else wb.sum())
        if sync_every_step or progress.wants_update:
            tracker.sync()
            progress.update(step + 1, tracker.logs())
    tracker.sync()
    return tracker.logs(), progress


def evaluate_feed(model: Any, feed: DataFeed, batch_size: int) -> dict[str, float]:
    """Loss and metrics over ``feed`` in inference mode (validation and ``evaluate``)."""
    tracker = model._tracker(training=False)
    dist = distribution.active()
    for s in range(0, feed.n, batch_size):
        e = min(feed.n, s + batch_size)
        xb, yb = feed.batch(*((s, e) if dist is None else dist.shard(s, e)))
        wb = feed.weights(s, e)
        # An overflow shows as an inf/NaN loss or metric (as Keras), not as RuntimeWarnings.
        with model._lock, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if dist is None:
                loss, _, sums = model._loss_and_metrics(xb, yb, training=False, sample_weight=wb)
            else:  # this rank's rows; the batch's loss and metric sums reduced over ranks
                loss, sums = dist.eval_step(model, xb, yb, e - s)
        tracker.record(loss, sums, e - s, weight=None if wb is None else wb.sum())
    tracker.sync()
    return tracker.logs()
