"""``fit``/``evaluate``/``predict`` on batches that come one at a time: a Python generator or
iterator, or a :class:`netcore.utils.PyDataset`, as Keras 3 takes them.

Each batch is ``(x, y)`` or ``(x, y, sample_weight)`` (``x`` alone, or any of these, for
``predict``). It is checked and moved to the device as an array would be (one small
:class:`~.feed.DataFeed` per batch), so errors read the same, with the batch and epoch named.
Only the batch size may change from batch to batch; the per-sample shape is fixed by the first.

Epoch length: ``steps_per_epoch`` batches (a float is rounded up, as the course's
``len(x_train) / 32`` ran under tf.keras 2; Keras 3 itself refuses a float), else one pass:
``len(dataset)`` batches of a PyDataset, or a generator until it stops. A generator is drawn
from across epochs; a PyDataset's epoch continues from the batch the last one stopped at, and
after its last batch ``on_epoch_end()`` runs and the next epoch starts again at 0. A source
that runs out before ``steps_per_epoch`` ends its epoch there with a warning; one that yields
nothing at the start of an epoch ends training (the epoch is not recorded).

Shuffles belong to the source (``shuffle`` is refused); ``validation_split`` is refused, as in
Keras (there are no arrays to cut). Training runs eagerly (no captured step) and not under
data parallelism. Dropout masks derive from ``(seed, epoch)`` as with arrays, so a resumed run
repeats them when the source repeats its batches.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import distribution, validation
from ..callbacks import Callback
from ..utils import PyDataset
from .epochs import TrainEpoch, array_plan, evaluate_feed, seed_epoch
from .feed import DataFeed
from .inputs import is_batch_source, prepare_feed
from .progress import EpochProgress


def check_steps(value: Any, name: str) -> int | None:
    """``steps_per_epoch``/``validation_steps``/``steps``: None, or a positive number of
    batches; a float is rounded up (``len(x_train) / 32``)."""
    if value is None:
        return None
    if validation.is_real_number(value) and math.isfinite(value) and value > 0:
        return math.ceil(value)
    raise ValueError(
        f"{name} must be a positive number of batches or None, Received: {name}={value!r}"
    )


def refuse_steps_with_arrays(**given: Any) -> None:
    """``steps_per_epoch``, ``validation_steps`` and ``steps`` count the batches of a generator
    or PyDataset; with arrays the batch size decides (``ceil(n / batch_size)`` batches)."""
    for name, value in given.items():
        if value is not None:
            raise ValueError(
                f"{name} applies when the data is a generator or a PyDataset; with arrays "
                f"a pass is ceil(n / batch_size) batches. Received: {name}={value!r}"
            )


def check_source_options(
    x: Any, y: Any, sample_weight: Any, batch_size: Any, validation_split: Any, shuffle: Any
) -> None:
    """``fit``'s options that a generator or PyDataset ``x`` refuses (``shuffle=False`` is
    what happens anyway, so only ``True`` is refused)."""
    if is_batch_source(x):
        refuse_array_options(
            y=y,
            sample_weight=sample_weight,
            batch_size=batch_size,
            validation_split=validation_split,
            shuffle=shuffle or None,
        )


def refuse_array_options(**given: Any) -> None:
    """What the batches carry themselves (``y``, ``sample_weight``, ``batch_size``) or what has
    no meaning for them (``validation_split``, ``shuffle``) is refused by name."""
    why = {
        "y": "the batches carry the targets: yield (x, y)",
        "sample_weight": "the batches carry the weights: yield (x, y, sample_weight)",
        "batch_size": "the batches have their own size",
        "validation_split": "there are no arrays to split: pass validation_data",
        "shuffle": "the generator or PyDataset decides the order: shuffle there",
    }
    for name, value in given.items():
        if value is None or value is False or (name == "validation_split" and value == 0):
            continue
        raise ValueError(
            f"{name} cannot be used when x is a generator or a PyDataset ({why[name]}). "
            f"Received: {name}={value!r}"
        )


class BatchSource:
    """One generator/iterator or PyDataset, read batch by batch; ``what`` names it in errors."""

    def __init__(self, data: Any, steps: int | None, what: str) -> None:
        self.data, self.steps, self.what = data, steps, what
        self.is_dataset = isinstance(data, PyDataset)
        self._iter: Iterator | None = None if self.is_dataset else iter(data)
        self._pos = 0  # the PyDataset batch the next epoch starts at
        self._length: int | None = None  # a generator's batches per pass, once one has ended
        self.feature_shape: tuple[int, ...] | None = None
        self.exhausted = False

    @property
    def steps_hint(self) -> int | None:
        """Batches in the next epoch, when known (the progress bar's total)."""
        if self.steps is not None:
            return self.steps
        return len(self.data) if self.is_dataset else self._length

    def epoch(self) -> Iterator[Any]:
        """The raw batches of one epoch; afterwards ``exhausted`` tells whether the source ran
        out before ``steps`` batches (when ``steps`` was given) or yielded nothing at all."""
        self.exhausted = False
        if self.is_dataset:
            yield from self._dataset_epoch()
            return
        assert self._iter is not None
        done = 0
        while self.steps is None or done < self.steps:
            try:
                batch = next(self._iter)
            except StopIteration:
                self.exhausted = self.steps is not None or done == 0
                if self.steps is None and done:
                    self._length = done
                return
            done += 1
            yield batch

    def _dataset_epoch(self) -> Iterator[Any]:
        n = len(self.data)
        want = self.steps if self.steps is not None else n
        for _ in range(want):
            if self._pos >= n:
                self.exhausted = True
                break
            batch = self.data[self._pos]
            self._pos += 1
            yield batch
        if self._pos >= n:
            self.data.on_epoch_end()
            self._pos = 0

    def feed(
        self,
        model: Any,
        batch: Any,
        step: int,
        epoch: int | None,
        targets: bool = True,
        class_weight: Any = None,
    ) -> DataFeed:
        """One batch, checked and on the device; errors name the batch (and epoch)."""
        where = f"batch {step + 1}" + ("" if epoch is None else f" of epoch {epoch + 1}")
        x, y, w = self._unpack(batch, where, targets)
        xs = tuple(np.shape(x))
        if self.feature_shape is None:
            self.feature_shape = xs[1:]
        elif xs[1:] != self.feature_shape:
            raise ValueError(
                f"{self.what} changed its feature shape at {where}: x has per-sample shape "
                f"{xs[1:]}, the batches before had {self.feature_shape}. Only the batch size "
                f"may change between batches. Received: x of shape {xs}"
            )
        return prepare_feed(
            model, x, y, f"x ({where})", targets, sample_weight=w, class_weight=class_weight
        )

    def _unpack(self, batch: Any, where: str, targets: bool) -> tuple[Any, Any, Any]:
        if isinstance(batch, (tuple, list)) and len(batch) in (1, 2, 3):
            x, y, w = (*batch, None, None)[:3]
            if not targets:  # predict reads x alone, as Keras
                return x, None, None
            if y is not None:
                return x, y, w
        elif not targets and not isinstance(batch, (tuple, list)):
            return batch, None, None
        kind = type(batch).__name__
        size = f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""
        raise ValueError(
            f"{self.what} must yield (x, y) or (x, y, sample_weight) batches; {where} is "
            f"a {kind}{size}. Received: {_describe(batch)}"
        )


def _describe(batch: Any) -> str:
    if isinstance(batch, (tuple, list)):
        return "(" + ", ".join(_describe(b) for b in batch) + ")"
    shape = getattr(batch, "shape", None)
    return f"array of shape {tuple(shape)}" if shape is not None else repr(batch)[:60]


def _refuse_distribution() -> None:
    if distribution.active() is not None:
        raise NotImplementedError(
            "fit/evaluate/predict on a generator or a PyDataset are not supported under "
            "netcore.distribution data parallelism; pass arrays"
        )


def _ran_out(source: BatchSource, done: int, epoch: int | None, stacklevel: int) -> None:
    when = "" if epoch is None else f" in epoch {epoch + 1}"
    end = "training ends here" if done == 0 and epoch is not None else "this pass ends here"
    warnings.warn(
        f"netcore: {source.what} ran out of data after {done} batch(es){when} "
        f"(steps: {source.steps}); {end}. A generator must yield at least "
        "steps_per_epoch * epochs batches (loop with 'while True:'), and a PyDataset has "
        "len() batches per epoch",
        UserWarning,
        stacklevel=stacklevel,  # the user's fit/evaluate/predict call
    )


def train_epoch_fn(
    model: Any, source: BatchSource, epochs: int, verbose: int, class_weight: Any
) -> TrainEpoch:
    """The function the epoch loop calls for one epoch of ``source``: ``(epoch, seeding
    epoch) -> (logs, progress)``, or None when the source had nothing left."""
    _refuse_distribution()
    advised = [False]

    def run(
        epoch: int, seeding: int, batch_hooks: Sequence[Callback] = ()
    ) -> tuple[dict[str, float], EpochProgress] | None:
        be = model.backend
        seed_epoch(model, seeding)
        progress = EpochProgress(epoch, epochs, source.steps_hint, verbose)
        tracker = model._tracker(epoch)
        done = 0
        for step, batch in enumerate(source.epoch()):
            feed = source.feed(model, batch, step, epoch, class_weight=class_weight)
            if not advised[0]:
                model._advise(feed)
                advised[0] = True
            wb = feed.weights(0, feed.n)
            for cb in batch_hooks:
                cb.on_train_batch_begin(step, {})
            with model._lock:
                loss, sums = model._train_step(*feed.batch(0, feed.n), wb)
            tracker.record(loss, sums, feed.n, model._step_flag(), None if wb is None else wb.sum())
            done += 1
            if be.host_reads_are_cheap or progress.wants_update or batch_hooks:
                tracker.sync()
                progress.update(done, tracker.logs())
            for cb in batch_hooks:
                cb.on_train_batch_end(step, tracker.logs())
        if source.exhausted or done == 0:
            _ran_out(source, done, epoch, 5)
        progress.steps = done  # the bar's total, now known
        if progress.bar is not None:
            progress.bar.total = done
        if done == 0:
            if progress.bar is not None:
                progress.bar.leave = False
                progress.bar.close()
            return None
        tracker.sync()
        return tracker.logs(), progress

    return run


def evaluate_source(model: Any, source: BatchSource, empty_ok: bool = False) -> dict[str, float]:
    """Loss and metrics over one pass of ``source`` in inference mode; when it yields nothing,
    {} with ``empty_ok`` (a validation pass, after a warning), else ``ValueError``."""
    _refuse_distribution()
    tracker = model._tracker(training=False)
    done = 0
    for step, batch in enumerate(source.epoch()):
        feed = source.feed(model, batch, step, None)
        wb = feed.weights(0, feed.n)
        with model._lock, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, _, sums = model._loss_and_metrics(
                *feed.batch(0, feed.n), training=False, sample_weight=wb
            )
        tracker.record(loss, sums, feed.n, weight=None if wb is None else wb.sum())
        done += 1
    if source.exhausted and (done or empty_ok):
        _ran_out(source, done, None, 6 if empty_ok else 4)
    if done == 0:
        if empty_ok:
            return {}
        raise ValueError(f"{source.what} yielded no batches to evaluate on")
    tracker.sync()
    return tracker.logs()


def predict_source(model: Any, source: BatchSource) -> np.ndarray:
    """Outputs for every ``x`` of one pass of ``source``, stacked on the host."""
    _refuse_distribution()
    outs = []
    for step, batch in enumerate(source.epoch()):
        feed = source.feed(model, batch, step, None, targets=False)
        xb = feed.batch(0, feed.n)[0]
        with model._lock, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            outs.append(model.backend.to_numpy(model._forward(xb, training=False)).copy())
    if source.exhausted:
        _ran_out(source, len(outs), None, 4)
    if not outs:
        raise ValueError(f"{source.what} yielded no batches to predict on")
    return np.concatenate(outs)


def validate_fn(
    model: Any, validation_data: Any, validation_steps: int | None
) -> Callable[[], dict[str, float]]:
    """``fit``'s validation pass over a generator or PyDataset ``validation_data``."""
    source = BatchSource(validation_data, validation_steps, "validation_data")
    return lambda: evaluate_source(model, source, empty_ok=True)


def plan_fit(
    model: Any, data: tuple, val: tuple, settings: tuple
) -> tuple[TrainEpoch, Callable[[], dict[str, float]] | None, int | None, int]:
    """``fit_epochs``' ``(train_epoch, validate, steps)`` and the verbosity, for arrays
    (:func:`.epochs.array_plan`) or a generator/PyDataset ``x``.

    ``data`` is ``(x, y, sample_weight, class_weight)``, ``val`` ``(validation_split,
    validation_data, validation_steps)``, ``settings`` ``(batch_size, epochs, verbose,
    shuffle, initial_epoch, steps_per_epoch)``, all checked. Array ``validation_data`` beside
    a generator runs in batches of 32 (Keras' default)."""
    x, y, sample_weight, class_weight = data
    split, validation_data, validation_steps = val
    batch_size, epochs, verbose, shuffle, initial_epoch, steps = settings
    val_source = is_batch_source(validation_data)
    if not val_source:
        refuse_steps_with_arrays(validation_steps=validation_steps)
    if not is_batch_source(x):
        refuse_steps_with_arrays(steps_per_epoch=steps)
        arrays_val = None if val_source else validation_data
        train, validate, n_steps, verbose = array_plan(
            model,
            x,
            y,
            sample_weight,
            class_weight,
            split,
            arrays_val,
            batch_size,
            epochs,
            verbose,
            shuffle,
            initial_epoch,
        )
        if val_source:
            validate = validate_fn(model, validation_data, validation_steps)
        return train, validate, n_steps, verbose
    _refuse_distribution()
    source = BatchSource(x, steps, "x")
    if val_source:
        validate = validate_fn(model, validation_data, validation_steps)
    elif validation_data is not None:
        vx, vy, *vw = validation_data
        feed = prepare_feed(model, vx, vy, "validation_data x", sample_weight=(vw or [None])[0])
        validate = lambda: evaluate_feed(model, feed, 32)  # noqa: E731
    else:
        validate = None
    train = train_epoch_fn(model, source, epochs, verbose, class_weight)
    return train, validate, source.steps_hint, verbose
