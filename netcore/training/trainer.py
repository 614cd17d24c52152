"""Trainer: ``compile`` / ``fit`` / ``evaluate`` / ``predict`` / ``train_on_batch``, as Keras 3.

:class:`Trainer` is a mixin (Keras 3's ``Model`` inherits its ``Trainer`` the same way): the
model class owns the structure (layers, build, the flat parameter and gradient buffers,
``_forward``/``_backward``); this class owns how the model is trained and run on data.

One training step (``_train_step``): the batch arrives on the device, the layers run forward
(the last one stops at the logits when the loss takes them: softmax + cross-entropy,
sigmoid + binary cross-entropy), the loss returns its value and gradient, the layers run
backward (the first trainable layer skips its input gradient), and ``_apply_gradients``
updates every parameter with one fused op over the flat buffer. The loss stays on the
device; the host reads it only when the progress display refreshes (every step where host
reads are cheap) and at the end of the epoch.

The epoch loop's seams, for code that extends it: ``feed.batch`` (gather),
``_train_step`` (one step), ``_apply_gradients`` (gradients ready -> optimizer),
``EpochTracker.sync`` (reduce the logs), ``EpochProgress`` (display) and the callbacks
(saving).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from .. import distribution, validation
from ..backend.base import Backend
from ..callbacks import Callback, History
from ..feed import DataFeed
from ..progress import EpochProgress
from .tracker import EpochTracker


class NonFiniteFlag:
    """A 1-element device flag set when a step's loss is NaN/inf (``NONFINITE_LOSS``) or when
    the optimizer refused an update that would have written a NaN or inf
    (``NONFINITE_UPDATE``); while it is set the optimizer updates do nothing, so the weights
    of the last good step survive without a host read per step. Each training step records a
    device copy of it for the epoch tracker; cleared once the host has reported the failure."""

    def __init__(self, backend: Backend) -> None:
        self.array = backend.xp.zeros(1, dtype=np.int32)

    def reset(self) -> None:
        self.array[...] = 0


class Trainer:
    """Training and inference over a model's layers.

    The model class provides ``backend``, ``dtype``, ``seed``, ``layers``, ``built``,
    ``build(input_shape)``, ``input_shape``, ``output_shape``, ``_flat_params``,
    ``_flat_grads``, ``_forward(x, training, logits)``, ``_backward(grad)`` and
    ``_require_built(what)``.
    """

    backend: Backend
    dtype: np.dtype
    seed: int
    layers: list[Any]
    built: bool
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    _flat_params: Any
    _flat_grads: Any

    def __init__(self) -> None:
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.loss: losses_mod.Loss | None = None
        self.metrics: list[metrics_mod.Metric] = []
        self.stop_training = False
        self.history: History | None = None
        self._grad_buffers: dict[tuple, Any] = {}
        self._nonfinite: NonFiniteFlag | None = None

    # model hooks, provided by the model class
    def build(self, input_shape: Sequence[int] | None = None) -> None:
        raise NotImplementedError

    def _forward(self, x: Any, training: bool, logits: bool = False) -> Any:
        raise NotImplementedError

    def _backward(self, grad: Any) -> None:
        raise NotImplementedError

    def _require_built(self, what: str) -> None:
        raise NotImplementedError

    def _on_build(self) -> None:
        """Called by the model after (re)building its parameter buffers."""
        if self.optimizer is not None:
            self.optimizer.build(self.backend, [self._flat_params])
        self._nonfinite = NonFiniteFlag(self.backend)
        self._grad_buffers = {}

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None,
                metrics: Sequence[Any] | None = None) -> None:
        """Choose the optimizer (default "rmsprop", as Keras), the loss and the metrics.

        Each may be a name (``optimizers.get`` / ``losses.get`` / ``metrics.get``, the one
        name map of each kind) or an instance.
        """
        if loss is None:
            raise ValueError(f"loss must be given, one of {list(losses_mod.LOSS_NAMES)}")
        self.loss = losses_mod.get(loss)
        self.optimizer = optimizers_mod.get(optimizer)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise ValueError(f"metrics must be a list of names, e.g. ['accuracy'], received {metrics!r}")
        self.metrics = [metrics_mod.get(m, self.loss.name) for m in metrics]
        if self.built:
            self.optimizer.build(self.backend, [self._flat_params])

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    @property
    def _loss_takes_logits(self) -> bool:
        """Does the loss take the last layer's logits (its softmax/sigmoid left to the loss)?"""
        if self.loss is None or not self.layers:
            return False
        head = _logits_head(self.loss)
        last = self.layers[-1]
        return (head is not None and last.can_emit_logits
                and getattr(last, "activation", None) == head)

    # ------------------------------------------------------------------ one step
    def _grad_buffer(self, shape: tuple) -> Any:
        buf = self._grad_buffers.get(shape)
        if buf is None:
            buf = self._grad_buffers[shape] = self.backend.xp.empty(shape, dtype=self.dtype)
        return buf

    def _loss_and_metrics(self, xb: Any, yb: Any, training: bool) -> tuple[Any, Any, list[Any]]:
        """Forward pass, loss and its gradient w.r.t. the output, metric sums (all on the device)."""
        assert self.loss is not None
        takes_logits = self._loss_takes_logits
        out = self._forward(xb, training, logits=takes_logits)
        gbuf = self._grad_buffer(out.shape)
        if takes_logits:
            loss, grad = _loss_from_logits(self.loss, self.backend, out, yb, gbuf)
        else:
            loss, grad = self.loss.forward_backward(self.backend, out, yb, grad_out=gbuf)
        probs = None
        sums = []
        for m in self.metrics:
            if m.needs_probs and takes_logits and probs is None:
                probs = self._activate_head(out)
            sums.append(m.batch_sum(self.backend, probs if (m.needs_probs and takes_logits) else out,
                                    yb, is_logits=takes_logits and not m.needs_probs))
        return loss, grad, sums

    def _activate_head(self, logits: Any) -> Any:
        be = self.backend
        out = be.xp.array(logits, copy=True)
        if _logits_head(self.loss) == "softmax":
            return be.softmax(out, out=out)
        return be.bias_act(out, None, "sigmoid", out=out)

    def _train_step(self, xb: Any, yb: Any) -> tuple[Any, list[Any]]:
        """One update on one batch; returns the batch loss and metric sums (device arrays)."""
        assert self._nonfinite is not None
        # Overflow on the way to a NaN loss is reported once, as NonFiniteLossError naming the
        # epoch and step, rather than as a stream of NumPy RuntimeWarnings.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, grad, sums = self._loss_and_metrics(xb, yb, training=True)
            self.backend.mark_nonfinite(loss, self._nonfinite.array)
            self._backward(grad)
            self._apply_gradients()
        return loss, sums

    def _apply_gradients(self) -> None:
        """The gradients are in ``_flat_grads``: one optimizer update over ``_flat_params``."""
        assert self.optimizer is not None and self._nonfinite is not None
        if self._flat_params.size:
            self.optimizer.apply([self._flat_params], [self._flat_grads], self._nonfinite.array)

    def _step_flag(self) -> Any:
        """A device copy of the skip flag after this step's update (no host read): the
        tracker tells from it whether the update was applied, and if not, why."""
        assert self._nonfinite is not None
        return self._nonfinite.array.copy()

    def _discard_skipped_steps(self, skipped: int) -> None:
        """After a non-finite loss: the last ``skipped`` updates were no-ops on the device."""
        assert self.optimizer is not None and self._nonfinite is not None
        self.optimizer.discount_skipped_steps(skipped)
        self._nonfinite.reset()

    def _tracker(self, epoch: int = 0, training: bool = True) -> EpochTracker:
        # Inference reports a NaN loss as NaN (as Keras does) instead of raising.
        return EpochTracker(self.backend, self.metrics, epoch,
                            on_nonfinite=self._discard_skipped_steps if training else None)

    # ------------------------------------------------------------------ data
    def _prepare(self, x: Any, y: Any | None, what: str) -> DataFeed:
        """Validate on the host, move to the device once, cast once to the model dtype."""
        x = validation.check_x(x, self, what)
        if not self.built:
            self.build(x.shape[1:])
        validation.check_x_shape(x, self)
        y = validation.check_y(y, x.shape[0], self) if y is not None else None
        sparse = self.loss is not None and self.loss.target_kind == "sparse"
        ydt = np.int64 if sparse else self.dtype
        feed = DataFeed(self.backend, x, y, self.dtype, ydt)
        feed.check_finite(what, check_y=y is not None and not sparse)
        return feed

    # ------------------------------------------------------------------ training
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | str = "auto", callbacks: Sequence[Callback] | None = None,
            validation_split: float = 0.0, validation_data: tuple | None = None,
            shuffle: bool = True, initial_epoch: int = 0) -> History:
        """Train for ``epochs`` passes over the data (``ceil(n / batch_size)`` steps each; the
        last short batch is used). Returns a History with per-epoch means weighted by batch size."""
        self._require_compiled("fit")
        batch_size = validation.check_batch_size(batch_size)
        epochs = validation.check_nonneg_int(epochs, "epochs")
        initial_epoch = validation.check_nonneg_int(initial_epoch, "initial_epoch")
        verbose = validation.check_verbose(verbose)
        validation_split = validation.check_split(validation_split)
        if not isinstance(shuffle, bool):
            raise ValueError(f"shuffle must be True or False, received {shuffle!r}")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be netcore.callbacks.Callback objects, received {cb!r}")
        if validation_data is not None and validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
        if validation_split:
            x, y, validation_data = validation.split_validation(x, y, validation_split)
        feed = self._prepare(x, y, "x")
        val = None
        if validation_data is not None:
            val = self._prepare(validation_data[0], validation_data[1], "validation_data x")
        dist = distribution.active()
        if dist is not None:  # same training on every rank, rank 0's weights; rank 0 prints
            dist.begin_fit(self, feed, {"batch_size": batch_size, "epochs": epochs, "shuffle": shuffle,
                                        "initial_epoch": initial_epoch,
                                        "validation": None if val is None else val.n})
            verbose = verbose if dist.is_chief else 0

        history = History()
        history.params = {"epochs": epochs, "steps": math.ceil(feed.n / batch_size), "verbose": verbose}
        self.history = history
        cbs: list[Callback] = [history, *callbacks]
        for cb in cbs:
            cb.set_model(self)
        self.stop_training = False
        for cb in cbs:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            logs, progress = self._run_epoch(feed, batch_size, epoch, epochs, shuffle, verbose)
            if val is not None:
                vlogs = self._evaluate_feed(val, batch_size)
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
            progress.close(logs)
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        return history

    def _epoch_seed(self, epoch: int) -> list[int]:
        # Shuffles and dropout masks derive from (seed, epoch): a resumed run repeats them.
        return [self.seed, epoch]

    def _run_epoch(self, feed: DataFeed, batch_size: int, epoch: int, epochs: int, shuffle: bool,
                   verbose: int) -> tuple[dict[str, float], EpochProgress]:
        be, n = self.backend, feed.n
        steps = math.ceil(n / batch_size)
        be.seed(int(np.random.SeedSequence(self._epoch_seed(epoch)).generate_state(1)[0]))
        dist = distribution.active()
        if dist is not None:
            dist.reseed_dropout(be, self._epoch_seed(epoch))
        perm = np.random.default_rng(self._epoch_seed(epoch)).permutation(n) if shuffle else None
        order = feed.order(perm)
        progress = EpochProgress(epoch, epochs, steps, verbose)
        tracker = self._tracker(epoch)
        # Where reading the loss is free, check it every step; on a device, only when shown.
        sync_every_step = be.host_reads_are_cheap
        for step in range(steps):
            s, e = step * batch_size, min(n, (step + 1) * batch_size)
            # data parallel: this rank's rows of the global batch, gradients summed over ranks
            xb, yb = feed.batch(*((s, e) if dist is None else dist.shard(s, e)), order)
            loss, sums = self._train_step(xb, yb) if dist is None else dist.train_step(self, xb, yb, e - s)
            tracker.record(loss, sums, e - s, self._step_flag())
            if sync_every_step or progress.wants_update:
                tracker.sync()
                progress.update(step + 1, tracker.logs())
        tracker.sync()
        return tracker.logs(), progress

    def train_on_batch(self, x: Any, y: Any) -> dict[str, float]:
        """One update on one batch; returns that batch's loss and metrics."""
        self._require_compiled("train_on_batch")
        feed = self._prepare(x, y, "x")
        tracker = self._tracker()
        dist = distribution.active()
        if dist is None:
            loss, sums = self._train_step(*feed.batch(0, feed.n))
        else:
            loss, sums = dist.train_step(self, *feed.batch(*dist.shard(0, feed.n)), feed.n)
        tracker.record(loss, sums, feed.n, self._step_flag())
        tracker.sync()
        return tracker.logs()

    # ------------------------------------------------------------------ inference
    def evaluate(self, x: Any, y: Any, batch_size: int | None = None, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics over ``(x, y)`` in inference mode -> ``{"loss": ..., "accuracy": ...}``."""
        self._require_compiled("evaluate")
        batch_size = validation.check_batch_size(batch_size)
        logs = self._evaluate_feed(self._prepare(x, y, "x"), batch_size)
        if validation.check_verbose(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs

    def _evaluate_feed(self, feed: DataFeed, batch_size: int) -> dict[str, float]:
        tracker = self._tracker(training=False)
        dist = distribution.active()
        for s in range(0, feed.n, batch_size):
            e = min(feed.n, s + batch_size)
            if dist is None:
                loss, _, sums = self._loss_and_metrics(*feed.batch(s, e), training=False)
            else:  # this rank's rows; the batch's loss and metric sums reduced over ranks
                loss, sums = dist.eval_step(self, *feed.batch(*dist.shard(s, e)), e - s)
            tracker.record(loss, sums, e - s)
        tracker.sync()
        return tracker.logs()

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Outputs for ``x`` (probabilities for softmax/sigmoid heads) as a NumPy array."""
        batch_size = validation.check_batch_size(batch_size)
        feed = self._prepare(x, None, "x")
        n = feed.n
        dist = distribution.active()
        lo, hi = (0, n) if dist is None else dist.shard(0, n)  # data parallel: rows lo:hi here
        out = self.backend.xp.empty((hi - lo, *self.output_shape), dtype=self.dtype)
        for s in range(lo, hi, batch_size):
            e = min(hi, s + batch_size)
            out[s - lo:e - lo] = self._forward(feed.batch(s, e)[0], training=False)
        host = self.backend.to_numpy(out)  # one device->host move
        return host if dist is None else dist.gather_rows(host, n)

    # ------------------------------------------------------------------ checks
    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"you must call model.compile(...) before model.{what}()")


def _logits_head(loss: Any) -> str | None:
    """The output activation ``loss`` can take over from the last layer ("softmax", "sigmoid")."""
    return getattr(loss, "logits_head", getattr(loss, "fused_head", None))


def _loss_from_logits(loss: Any, be: Backend, logits: Any, y: Any, grad_out: Any) -> tuple[Any, Any]:
    if hasattr(loss, "from_logits"):
        return loss.from_logits(be, logits, y, grad_out=grad_out)
    return loss.fused(be, logits, y, grad_out=grad_out)
