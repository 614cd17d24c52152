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

Threads: ``predict`` and ``evaluate`` may be called from several threads on one model; each
batch runs under the model's lock (the layers reuse work buffers), so concurrent calls are
serialised batch by batch and each gets exactly its single-threaded result. ``fit`` and
``train_on_batch`` train one model from one thread at a time: a second concurrent call is
refused with ``RuntimeError``. ``compile``, ``add``, ``build`` and ``set_weights`` while
another thread runs the model are not supported.

Beside it: argument checks and the feed (``inputs``, ``feed``), the epoch and evaluation loops
(``epochs``), generators and PyDatasets (``batches``), the guards, the logs (``tracker``), the
learner warnings (``hints``), the display (``progress``) and the captured epoch (``capture``).
The loop's seams: ``feed.batch``, ``_train_step``, ``_apply_gradients`` (gradients ready ->
optimizer), ``EpochTracker.sync``, ``EpochProgress``, the callbacks, ``CapturedFit.run_epoch``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import distribution, validation
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from ..backend.base import Backend
from ..callbacks import Callback, History
from . import batches, capture
from . import epochs as epochs_mod
from .feed import DataFeed
from .guards import NonFiniteFlag, TrainingGuard, claim_optimizer
from .hints import Advisor, input_scale_message, probability_loss_message
from .inputs import check_fit_arguments, is_batch_source, prepare_feed
from .tracker import EpochTracker


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
    _trainable_buffers: Callable[[], tuple[Any, Any]]  # the trainable tail of both buffers
    _relayout: Callable[[], None]  # lay the buffers out for the current trainable flags

    def __init__(self) -> None:
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.loss: losses_mod.Loss | None = None
        self.metrics: list[metrics_mod.Metric] = []
        self.stop_training = False
        self.history: History | None = None
        self._grad_buffers: dict[tuple, Any] = {}
        self._nonfinite: NonFiniteFlag | None = None
        #: held while one batch runs through the layers (they share work buffers)
        self._lock = threading.RLock()
        self._training = TrainingGuard(self._lock)
        #: the epoch index the next ``fit`` continues from for shuffles and dropout masks
        self._next_epoch = 0
        self._advisor = Advisor()
        #: compile's ``jit_compile``; the captured epochs of the running ``fit`` (or None)
        self.jit_compile: bool | str = "auto"
        self._captured: capture.CapturedFit | None = None

    # model hooks, provided by the model class
    def build(self, input_shape: Sequence[int] | None = None) -> None:
        raise NotImplementedError

    def _forward(self, x: Any, training: bool, logits: bool = False) -> Any:
        raise NotImplementedError

    def _backward(self, grad: Any) -> None:
        raise NotImplementedError

    def _require_built(self, what: str) -> None:
        raise NotImplementedError

    def _on_build(self, carried: Sequence[tuple[slice, slice]] = ()) -> None:
        """Called by the model after (re)building its parameter buffers; ``carried`` lists
        ``(old, new)`` slices of the flat buffer whose optimizer state stays."""
        if self.optimizer is not None:
            self.optimizer.build(self.backend, [self._trainable_buffers()[0]], carried)
        if self._nonfinite is None:
            self._nonfinite = NonFiniteFlag(self.backend)
        self._grad_buffers = {}

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        jit_compile: bool | str = "auto",
    ) -> None:
        """Choose the optimizer (default "rmsprop", as Keras), the loss and the metrics.

        Each may be a name (``optimizers.get`` / ``losses.get`` / ``metrics.get``, the one
        name map of each kind) or an instance. ``jit_compile`` (Keras' name): "auto" captures
        the training step as a CUDA graph on the cuda backend and replays it for every full
        batch (eager elsewhere); False is always eager; True raises ``ValueError`` where the
        step cannot be captured (:mod:`netcore.training.capture`). Not saved with the model.
        """
        jit_compile = capture.check_jit_compile(jit_compile)
        if jit_compile is True:
            ok, reason = capture.backend_can_capture(self.backend)
            if not ok:
                raise ValueError(reason)
        if loss is None:
            raise ValueError(f"loss must be given, one of {list(losses_mod.LOSS_NAMES)}")
        self.loss = losses_mod.get(loss)
        self.optimizer = claim_optimizer(optimizers_mod.get(optimizer), self)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise ValueError(
                f"metrics must be a list of names, e.g. ['accuracy'], received {metrics!r}"
            )
        self.metrics = [metrics_mod.get(m, self.loss) for m in metrics]
        if self.built:
            self._relayout()  # trainable flags changed since the last layout take effect here
            self.optimizer.build(self.backend, [self._trainable_buffers()[0]])
        self.jit_compile = jit_compile

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    @property
    def _loss_takes_logits(self) -> bool:
        """Does the loss take the last layer's logits (its softmax/sigmoid left to the loss)?"""
        if self.loss is None or not self.layers:
            return False
        head = self.loss.logits_head
        last = self.layers[-1]
        return (
            head is not None and last.can_emit_logits and getattr(last, "activation", None) == head
        )

    # ------------------------------------------------------------------ one step
    def _grad_buffer(self, shape: tuple) -> Any:
        buf = self._grad_buffers.get(shape)
        if buf is None:
            if len(self._grad_buffers) >= 16:  # many batch sizes: bounded as Layer.buffer
                self._grad_buffers.clear()
            buf = self._grad_buffers[shape] = self.backend.xp.empty(shape, dtype=self.dtype)
        return buf

    def _loss_and_metrics(
        self, xb: Any, yb: Any, training: bool, sample_weight: Any = None
    ) -> tuple[Any, Any, list[Any]]:
        """Forward pass, loss and its gradient w.r.t. the output, metric sums (all on the
        device); ``sample_weight`` (N,) weights the loss (``sum_i w_i l_i / N``) and the
        metric sums (``sum_i w_i v_i``)."""
        assert self.loss is not None
        takes_logits = self._loss_takes_logits
        out = self._forward(xb, training, logits=takes_logits)
        gbuf = self._grad_buffer(out.shape)
        weighted = {} if sample_weight is None else {"sample_weight": sample_weight}
        if takes_logits:
            loss, grad = self.loss.logits_loss(self.backend, out, yb, grad_out=gbuf, **weighted)
        else:
            loss, grad = self.loss.forward_backward(
                self.backend, out, yb, grad_out=gbuf, **weighted
            )
        probs = None
        sums = []
        for m in self.metrics:
            if m.needs_probs and takes_logits and probs is None:
                probs = self._activate_head(out)
            sums.append(
                m.batch_sum(
                    self.backend,
                    probs if (m.needs_probs and takes_logits) else out,
                    yb,
                    is_logits=takes_logits and not m.needs_probs,
                    **weighted,
                )
            )
        return loss, grad, sums

    def _activate_head(self, logits: Any) -> Any:
        be = self.backend
        out = be.xp.array(logits, copy=True)
        assert self.loss is not None
        if self.loss.logits_head == "softmax":
            return be.softmax(out, out=out)
        return be.bias_act(out, None, "sigmoid", out=out)

    def _train_step(self, xb: Any, yb: Any, sample_weight: Any = None) -> tuple[Any, list[Any]]:
        """One update on one batch; returns the batch loss and metric sums (device arrays)."""
        assert self._nonfinite is not None
        # Overflow on the way to a NaN loss is reported once, as NonFiniteLossError naming the
        # epoch and step, rather than as a stream of NumPy RuntimeWarnings.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, grad, sums = self._loss_and_metrics(
                xb, yb, training=True, sample_weight=sample_weight
            )
            self.backend.mark_nonfinite(loss, self._nonfinite.array)
            self._backward(grad)
            self._apply_gradients()
        return loss, sums

    def _apply_gradients(self) -> None:
        """The gradients are in ``_flat_grads``: one optimizer update over the trainable tail
        of ``_flat_params`` (frozen layers' weights sit before it)."""
        assert self.optimizer is not None and self._nonfinite is not None
        params, grads = self._trainable_buffers()
        if params.size:
            self.optimizer.apply([params], [grads], self._nonfinite.array)

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
        return EpochTracker(
            self.backend,
            self.metrics,
            epoch,
            on_nonfinite=self._discard_skipped_steps if training else None,
        )

    # ------------------------------------------------------------------ data
    def _prepare(
        self,
        x: Any,
        y: Any | None,
        what: str,
        targets: bool = True,
        sample_weight: Any = None,
        class_weight: Any = None,
    ) -> DataFeed:
        """The data seam: checked arrays in, a device feed out (``inputs.prepare_feed``)."""
        return prepare_feed(self, x, y, what, targets, sample_weight, class_weight)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool | None = None,
        initial_epoch: int | None = None,
        sample_weight: Any = None,
        class_weight: dict | None = None,
        steps_per_epoch: float | None = None,
        validation_steps: float | None = None,
    ) -> History:
        """Train for epochs ``initial_epoch .. epochs - 1`` (``ceil(n / batch_size)`` steps each;
        the last short batch is used). Returns a History with per-epoch means weighted by
        batch size.

        ``x`` may be a generator or a :class:`netcore.utils.PyDataset` of ``(x, y)`` or
        ``(x, y, sample_weight)`` batches, ``steps_per_epoch`` and ``validation_steps`` (a
        float is rounded up) per pass: :mod:`.batches`. ``shuffle`` (None: True) is for arrays.

        ``sample_weight`` (N,), finite and >= 0, or ``class_weight`` ``{class: weight}``
        (every class in ``y`` given; not both), as Keras 3: each batch's loss is
        ``sum_i w_i l_i / N`` and each metric the weighted mean ``sum w_i v_i / sum w_i``.
        ``validation_data`` is ``(x_val, y_val)`` or ``(x_val, y_val, val_sample_weight)``
        (or a generator/PyDataset); ``validation_split`` takes the last fraction of
        ``sample_weight`` with ``x``.

        Shuffles and dropout masks come from ``(seed, epoch)``. Without ``initial_epoch``, a
        repeated ``fit`` continues the epoch count of the previous ones (two ``fit(epochs=1)``
        calls train exactly as one ``fit(epochs=2)``); with it, epoch ``initial_epoch`` is
        the one numbered so since the model was made (resuming from a checkpoint repeats the
        uninterrupted run bit for bit). Warns once when the loss expects probabilities the
        last layer does not give, or when ``x`` is far from unit scale.
        """
        self._require_compiled("fit")
        batches.check_source_options(x, y, sample_weight, batch_size, validation_split, shuffle)
        batch_size, epochs, initial_epoch, verbose, validation_split, callbacks = (
            check_fit_arguments(
                batch_size,
                epochs,
                initial_epoch,
                verbose,
                validation_split,
                validation_data,
                True if shuffle is None else shuffle,
                callbacks,
            )
        )
        steps = batches.check_steps(steps_per_epoch, "steps_per_epoch")
        val_steps = batches.check_steps(validation_steps, "validation_steps")
        with self._training.claim("fit"):
            train, validate, per_epoch, verbose = batches.plan_fit(
                self,
                (x, y, sample_weight, class_weight),
                (validation_split, validation_data, val_steps),
                (batch_size, epochs, verbose, shuffle is not False, initial_epoch, steps),
            )
            # Local epoch numbers (history, callbacks, display) are Keras'; the seeding epoch
            # continues the count of earlier fit calls unless initial_epoch says where we are.
            offset = self._next_epoch if initial_epoch is None else 0
            try:
                return epochs_mod.fit_epochs(
                    self,
                    train,
                    validate,
                    per_epoch,
                    initial_epoch or 0,
                    epochs,
                    offset,
                    verbose,
                    callbacks,
                )
            except (SystemExit, KeyboardInterrupt) as exc:  # one rank leaving ends the job
                distribution.end_job_for(exc, "fit")
                raise
            finally:
                self._captured = None

    def _advise(self, feed: DataFeed) -> None:
        assert self.loss is not None
        self._advisor.warn(
            "probability-loss", probability_loss_message(self.loss, self.layers), stacklevel=5
        )
        self._advisor.warn("input-scale", input_scale_message(*feed.x_range), stacklevel=5)

    def train_on_batch(
        self, x: Any, y: Any, sample_weight: Any = None, class_weight: dict | None = None
    ) -> dict[str, float]:
        """One update on one batch; returns that batch's loss and metrics (weights as in
        :meth:`fit`)."""
        self._require_compiled("train_on_batch")
        with self._training.claim("train_on_batch"):
            feed = self._prepare(x, y, "x", sample_weight=sample_weight, class_weight=class_weight)
            tracker = self._tracker()
            dist = distribution.active()
            wb = feed.weights(0, feed.n)
            with self._lock:
                if dist is not None:
                    loss, sums = dist.train_step(self, *feed.batch(*dist.shard(0, feed.n)), feed.n)
                else:
                    loss, sums = self._train_step(*feed.batch(0, feed.n), wb)
            tracker.record(loss, sums, feed.n, self._step_flag(), None if wb is None else wb.sum())
            tracker.sync()
            return tracker.logs()

    # ------------------------------------------------------------------ inference
    def evaluate(
        self,
        x: Any,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int = 0,
        return_dict: bool = False,
        sample_weight: Any = None,
        steps: float | None = None,
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics over ``(x, y)`` in inference mode, as Keras 3 returns them.

        Without metrics: the loss (a float). With metrics: ``[loss, *metrics]`` in the order
        given to ``compile`` (``loss, acc = model.evaluate(x, y)``). ``return_dict=True``:
        ``{"loss": ..., "accuracy": ...}``. ``sample_weight`` (N,) weights them as in
        :meth:`fit`. ``x`` may be a generator or PyDataset of batches, ``steps`` of them (a
        float rounded up; None: one pass). Safe to call from several threads.
        """
        self._require_compiled("evaluate")
        validation.check_bool(return_dict, "return_dict")
        if is_batch_source(x):
            batches.refuse_array_options(y=y, sample_weight=sample_weight, batch_size=batch_size)
            logs = batches.evaluate_source(
                self, batches.BatchSource(x, batches.check_steps(steps, "steps"), "x")
            )
        else:
            batches.refuse_steps_with_arrays(steps=steps)
            batch_size = validation.check_batch_size(batch_size)
            feed = self._prepare(x, y, "x", sample_weight=sample_weight)
            distribution.begin_inference(self, "evaluate", feed.n, batch_size)
            logs = epochs_mod.evaluate_feed(self, feed, batch_size)
        if validation.check_verbose(verbose) and distribution.is_chief():  # rank 0 alone prints
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(
        self, x: Any, batch_size: int | None = None, verbose: int = 0, steps: float | None = None
    ) -> np.ndarray:
        """Outputs for ``x`` (probabilities for softmax/sigmoid heads) as a NumPy array.

        ``x`` is a batch: one sample of shape ``input_shape`` needs a batch axis (``x[None]``);
        or a generator or PyDataset of batches (``steps`` of them, as in :meth:`evaluate`).
        Safe to call from several threads.
        """
        if is_batch_source(x):
            batches.refuse_array_options(batch_size=batch_size)
            steps = batches.check_steps(steps, "steps")
            return batches.predict_source(self, batches.BatchSource(x, steps, "x"))
        batches.refuse_steps_with_arrays(steps=steps)
        batch_size = validation.check_batch_size(batch_size)
        feed = self._prepare(x, None, "x", targets=False)
        distribution.begin_inference(self, "predict", feed.n, batch_size)
        return epochs_mod.predict_feed(self, feed, batch_size)

    # ------------------------------------------------------------------ checks
    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"you must call model.compile(...) before model.{what}()")
