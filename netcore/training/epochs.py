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
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import distribution
from ..callbacks import Callback, History
from ..callbacks.base import uses_batch_hooks
from ..errors import NonFiniteLossError
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
    # History last, as Keras: it records what the other callbacks add (learning_rate)
    cbs: list[Callback] = [*callbacks, history]
    for cb in cbs:
        cb.set_model(model)
    batch_hooks = [cb for cb in cbs if uses_batch_hooks(cb)]
    if batch_hooks:  # the host runs between steps: no captured epoch
        model._captured = None
    model.stop_training = False
    model._resume = None
    for cb in cbs:
        cb.on_train_begin({})
    if model._resume is not None:  # BackupAndRestore: go on after the backed-up epoch
        first, seed_next = model._resume
        offset, model._resume = seed_next - first, None
    logs: dict[str, float] = {}
    for epoch in range(first, epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch, {})
        try:
            logs, progress = run_epoch(
                model,
                feed,
                batch_size,
                epoch,
                epochs,
                epoch + offset,
                shuffle,
                verbose,
                batch_hooks,
            )
        except NonFiniteLossError as exc:
            for cb in cbs:
                cb.on_nonfinite(exc)
            if not model.stop_training:  # no TerminateOnNaN: the error reaches the caller
                raise
            break
        model._next_epoch = epoch + offset + 1
        if val is not None:
            vlogs = evaluate_feed(model, val, batch_size)
            logs.update({f"val_{k}": v for k, v in vlogs.items()})
        progress.close(logs)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    for cb in cbs:  # callbacks get logs positionally, as Keras calls them
        cb.on_train_end(dict(logs) if logs else {})
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
    batch_hooks: Sequence[Callback] = (),
) -> tuple[dict[str, float], EpochProgress]:
    """One epoch's steps; returns its logs and its progress display (closed by the caller).
    ``batch_hooks``: callbacks called before and after every step (the logs read each step)."""
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
        for cb in batch_hooks:
            cb.on_train_batch_begin(step, {})
        with model._lock:
            if dist is not None:
                loss, sums = dist.train_step(model, xb, yb, e - s)
            else:
                loss, sums = model._train_step(xb, yb, wb)
        tracker.record(loss, sums, e - s, model._step_flag(), None if wb is None else wb.sum())
        if sync_every_step or progress.wants_update or batch_hooks:
            tracker.sync()
            progress.update(step + 1, tracker.logs())
        for cb in batch_hooks:
            cb.on_train_batch_end(step, tracker.logs())
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
