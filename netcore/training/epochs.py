"""The epoch loop of ``fit`` and the batch loop of ``evaluate``, over a model's trainer.

``fit_epochs`` runs the callbacks around each epoch of a train-epoch function (for arrays
:func:`array_plan` makes it from the feeds; for generators, :mod:`.batches`), ``run_epoch``
one epoch's steps on arrays (each
batch gathered from the feed in the epoch's shuffle order, one ``_train_step``, the logs
recorded on the device and read when the display refreshes), and ``evaluate_feed`` the
inference loop that validation and ``evaluate`` share. Shuffles and dropout masks derive from
``(seed, epoch)``, so a resumed run repeats them. With ``jit_compile`` the full batches of an
epoch replay one captured step (:mod:`.capture`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import distribution
from ..callbacks import Callback, History
from ..callbacks.base import uses_batch_hooks
from ..errors import NonFiniteLossError
from . import capture
from .feed import DataFeed
from .inputs import prepare_feed, split_off_validation
from .progress import EpochProgress

#: one epoch of training: ``(epoch, seeding epoch, batch_hooks) -> (logs, progress)``, or None
#: when the data ran out before the epoch's first step (training then ends, the epoch
#: unrecorded); ``batch_hooks`` are the callbacks called before and after every step
TrainEpoch = Callable[
    [int, int, Sequence[Callback]], "tuple[dict[str, float], EpochProgress] | None"
]


def fit_epochs(
    model: Any,
    train_epoch: TrainEpoch,
    validate: Callable[[], dict[str, float]] | None,
    steps: int | None,
    first: int,
    epochs: int,
    offset: int,
    verbose: int,
    callbacks: list[Callback],
) -> History:
    """Epochs ``first .. epochs - 1``, each ``train_epoch`` then ``validate``; the History."""
    history = History()
    history.params = {"epochs": epochs, "steps": steps, "verbose": verbose}
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
            ran = train_epoch(epoch, epoch + offset, batch_hooks)
        except NonFiniteLossError as exc:
            for cb in cbs:
                cb.on_nonfinite(exc)
            if not model.stop_training:  # no TerminateOnNaN: the error reaches the caller
                raise
            break
        if ran is None:  # no data left: the epoch did not happen
            break
        model._next_epoch = epoch + offset + 1
        logs, progress = ran
        if (dist := distribution.active()) is not None:  # one model on every rank
            dist.average_state(model)
        if validate is not None:
            logs.update({f"val_{k}": v for k, v in validate().items()})
        progress.close(logs)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if dist is not None:  # stopped on some ranks: on all
            model.stop_training = dist.any_rank(model.stop_training)
        if model.stop_training:
            break
    for cb in cbs:  # callbacks get logs positionally, as Keras calls them
        cb.on_train_end(dict(logs) if logs else {})
    return history


def array_plan(
    model: Any,
    x: Any,
    y: Any,
    sample_weight: Any,
    class_weight: Any,
    validation_split: float,
    validation_data: Any,
    batch_size: int,
    epochs: int,
    verbose: int,
    shuffle: bool,
    initial_epoch: int | None,
) -> tuple[TrainEpoch, Callable[[], dict[str, float]] | None, int, int]:
    """``fit`` on arrays: the feeds, data parallelism and the captured step; returns
    ``fit_epochs``' ``(train_epoch, validate, steps)`` and the verbosity (rank 0 alone
    prints). ``validation_data`` here is arrays or None."""
    if validation_split:
        x, y, sample_weight, validation_data = split_off_validation(
            x, y, sample_weight, validation_split
        )
    feed = prepare_feed(model, x, y, "x", sample_weight=sample_weight, class_weight=class_weight)
    val = None
    if validation_data is not None:
        vw = validation_data[2] if len(validation_data) == 3 else None
        vx, vy = validation_data[0], validation_data[1]
        val = prepare_feed(model, vx, vy, "validation_data x", sample_weight=vw)
    model._advise(feed)
    dist = distribution.active()
    if dist is not None:  # same training on every rank, rank 0's weights; rank 0 prints
        plan: dict[str, Any] = {"batch_size": batch_size, "epochs": epochs, "shuffle": shuffle}
        plan.update(initial_epoch=initial_epoch, validation=None if val is None else val.n)
        dist.begin_fit(model, feed, plan)
        verbose = verbose if dist.is_chief else 0
    dp, weighted = dist is not None, feed.w is not None
    model._captured = capture.for_fit(model, feed, batch_size, dp, weighted)

    def train(
        epoch: int, seeding: int, hooks: Sequence[Callback]
    ) -> tuple[dict[str, float], EpochProgress]:
        return run_epoch(model, feed, batch_size, epoch, epochs, seeding, shuffle, verbose, hooks)

    validate = None if val is None else (lambda: evaluate_feed(model, val, batch_size))
    return train, validate, math.ceil(feed.n / batch_size), verbose


def _epoch_seed(model: Any, seed_epoch: int) -> list[int]:
    # Shuffles and dropout masks derive from (seed, epoch): a resumed run repeats them.
    return [model.seed, seed_epoch]


def seed_epoch(model: Any, seeding: int) -> None:
    """Seed the backend's dropout masks for the epoch numbered ``seeding``."""
    seq = np.random.SeedSequence(_epoch_seed(model, seeding))
    model.backend.seed(int(seq.generate_state(1)[0]))


def run_epoch(
    model: Any,
    feed: DataFeed,
    batch_size: int,
    epoch: int,
    epochs: int,
    seeding: int,
    shuffle: bool,
    verbose: int,
    batch_hooks: Sequence[Callback] = (),
) -> tuple[dict[str, float], EpochProgress]:
    """One epoch's steps; returns its logs and its progress display (closed by the caller).
    ``batch_hooks``: callbacks called before and after every step (the logs read each step)."""
    be, n = model.backend, feed.n
    steps = math.ceil(n / batch_size)
    seed_epoch(model, seeding)
    dist = distribution.active()
    if dist is not None:
        dist.reseed_dropout(be, _epoch_seed(model, seeding))
    perm = np.random.default_rng(_epoch_seed(model, seeding)).permutation(n) if shuffle else None
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
        lo, hi = (s, e) if dist is None else dist.shard(s, e)
        xb, yb = feed.batch(lo, hi, order)
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


def predict_feed(model: Any, feed: DataFeed, batch_size: int) -> np.ndarray:
    """The model's outputs for every row of ``feed`` in inference mode, as a NumPy array
    (data parallel: each rank its rows, gathered on every rank)."""
    n = feed.n
    dist = distribution.active()
    lo, hi = (0, n) if dist is None else dist.shard(0, n)  # data parallel: rows lo:hi here
    out = model.backend.xp.empty((hi - lo, *model.output_shape), dtype=model.dtype)
    for s in range(lo, hi, batch_size):
        e = min(hi, s + batch_size)
        xb = feed.batch(s, e)[0]
        # An overflow shows as inf/NaN outputs (as Keras), not as RuntimeWarnings.
        with model._lock, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out[s - lo : e - lo] = model._forward(xb, training=False)
    host = model.backend.to_numpy(out)  # one device->host move
    return host if dist is None else dist.gather_rows(host, n)
