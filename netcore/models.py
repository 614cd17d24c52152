"""Sequential: a stack of layers with Keras' ``compile`` / ``fit`` / ``evaluate`` / ``predict``.

Data path of one training step (``_train_step``): the batch is gathered on the device,
each layer's ``forward`` runs (BLAS product + one fused bias/activation op), the loss takes
the logits when the head is fused (softmax + cross-entropy, sigmoid + binary cross-entropy),
``backward`` runs in reverse (the first layer skips its input gradient), and the optimizer
updates every tensor in place with one fused op each. The loss stays on the device; the host
reads it only when the progress display refreshes and at the end of the epoch.
"""
from __future__ import annotations

import math
import os
from typing import Any, Iterable, Sequence

import numpy as np

from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from .backend import get_backend
from .backend.base import Backend
from .callbacks import Callback, History
from .errors import NonFiniteLossError
from .layers import Activation, Dense, Layer
from .layers.base import BuildContext
from .feed import DataFeed
from .progress import EpochProgress
from . import validation as V


class Sequential:
    """A linear stack of layers.

    ``Sequential(layers=None, backend=None, seed=None, dtype="float32")``: ``backend`` is
    "cpu", "cuda" or "auto" (None: ``netcore.set_backend`` / ``NETCORE_BACKEND`` / "auto");
    ``seed`` fixes weights, shuffling and dropout (bit-identical runs on the CPU backend).
    """

    def __init__(self, layers: Iterable[Layer] | None = None, backend: str | Backend | None = None,
                 seed: int | None = None, dtype: str = "float32", name: str = "sequential") -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, received {seed!r}")
        # A seed is always recorded, so a saved model resumes with the same shuffles.
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self.dtype = V.check_dtype(dtype)
        self.backend = get_backend(backend, seed=self.seed)
        self.name = name
        self.layers: list[Layer] = []
        self.built = False
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.loss: losses_mod.Loss | None = None
        self.metrics: list[metrics_mod.Metric] = []
        self.stop_training = False
        self.history: History | None = None
        for layer in layers or ():
            self.add(layer)

    # ------------------------------------------------------------------ structure
    def add(self, layer: Layer) -> None:
        """Append a layer (builds at once when the input shape is known)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be a netcore.layers.Layer, received {layer!r}")
        if self.layers and layer.input_shape is not None and not layer.built:
            layer.input_shape = None  # only the first layer's input_shape means anything
        taken = {l.name for l in self.layers}
        if layer.name in taken:  # Keras-style unique names: dense, dense_1, dense_2, ...
            base, k = layer.name, 1
            while f"{base}_{k}" in taken:
                k += 1
            layer.name = f"{base}_{k}"
        self.layers.append(layer)
        self.built = False
        if self.layers[0].input_shape is not None:
            self.build()

    def build(self, input_shape: Sequence[int] | None = None) -> None:
        """Create the weights from ``input_shape`` (per sample, without the batch dimension)."""
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(...)")
        shape = tuple(input_shape) if input_shape is not None else self.layers[0].input_shape
        if shape is None:
            raise ValueError("the input shape is unknown: give the first layer input_shape=..., "
                             "or call fit/predict first")
        rng = np.random.default_rng(self.seed)
        ctx = BuildContext(self.backend, self.dtype, rng)
        for layer in self.layers:
            shape = layer.build(shape, ctx)
        self.input_shape = tuple(self.layers[0].input_shape)
        self.output_shape = shape
        self._refs = [(layer, k) for layer in self.layers for k in layer.params]
        self._flatten_parameters()
        trainable = [i for i, layer in enumerate(self.layers) if layer.params]
        self._first_trainable = trainable[0] if trainable else len(self.layers)
        self.built = True
        if self.optimizer is not None:
            self.optimizer.build(self.backend, [self._flat_params])
        self._skip = self.backend.xp.zeros(1, dtype=np.int32)
        self._grad_buffers: dict[tuple, Any] = {}

    def _flatten_parameters(self) -> None:
        """Put every weight (and every gradient) into one contiguous 1-D buffer; the layers
        keep views of it. The optimizer then updates all parameters with ONE fused op per
        step instead of one per tensor (on a GPU each launch costs tens of microseconds of
        host time, more than the update itself at MNIST sizes). Elementwise rules make this
        exactly the per-tensor update."""
        xp = self.backend.xp
        sizes = [int(np.prod(layer.params[k].shape)) for layer, k in self._refs]
        self._flat_params = xp.empty(sum(sizes), dtype=self.dtype)
        self._flat_grads = xp.zeros(sum(sizes), dtype=self.dtype)
        offset = 0
        for (layer, k), size in zip(self._refs, sizes):
            shape = layer.params[k].shape
            view = self._flat_params[offset:offset + size].reshape(shape)
            view[...] = layer.params[k]
            layer.params[k] = view
            layer.grads[k] = self._flat_grads[offset:offset + size].reshape(shape)
            offset += size

    def _params(self) -> list[Any]:
        return [layer.params[k] for layer, k in self._refs]

    def _grads(self) -> list[Any]:
        return [layer.grads[k] for layer, k in self._refs]

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn: Any = print) -> None:
        """Print each layer's output shape and parameter count, and the totals."""
        self._require_built("summary")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            act = getattr(layer, "activation", None)
            kind = type(layer).__name__ + (f", {act}" if act and act != "linear" else "")
            rows.append((f"{layer.name} ({kind})", str((None, *layer.output_shape)),
                         f"{layer.count_params():,}"))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "-" * sum(widths)
        print_fn(f'Model: "{self.name}"  (backend: {self.backend.describe()}, dtype: {self.dtype.name})')
        print_fn(line)
        for i, r in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths)))
            if i == 0:
                print_fn("=" * sum(widths))
        print_fn(line)
        print_fn(f"Total params: {self.count_params():,}")

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None,
                metrics: Sequence[Any] | None = None) -> None:
        """Choose the optimizer (default "rmsprop", as Keras), the loss and the metrics."""
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
    def _fused(self) -> bool:
        """Does the loss take logits from the last layer (softmax/sigmoid head)?"""
        last = self.layers[-1]
        return (self.loss is not None and self.loss.fused_head is not None
                and isinstance(last, (Dense, Activation)) and last.activation == self.loss.fused_head)

    # ------------------------------------------------------------------ passes
    def _forward(self, x: Any, training: bool, logits: bool = False) -> Any:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == last and isinstance(layer, (Dense, Activation)):
                x = layer.forward(x, training, logits=logits)
            else:
                x = layer.forward(x, training)
        return x

    def _backward(self, grad: Any) -> None:
        for i in range(len(self.layers) - 1, self._first_trainable - 1, -1):
            grad = self.layers[i].backward(grad, need_dx=i > self._first_trainable)

    def _grad_buffer(self, shape: tuple) -> Any:
        buf = self._grad_buffers.get(shape)
        if buf is None:
            buf = self._grad_buffers[shape] = self.backend.xp.empty(shape, dtype=self.dtype)
        return buf

    def _loss_and_metrics(self, xb: Any, yb: Any, training: bool) -> tuple[Any, Any, list[Any]]:
        fused = self._fused
        out = self._forward(xb, training, logits=fused)
        gbuf = self._grad_buffer(out.shape)
        if fused:
            loss, grad = self.loss.fused(self.backend, out, yb, grad_out=gbuf)
        else:
            loss, grad = self.loss.forward_backward(self.backend, out, yb, grad_out=gbuf)
        probs = None
        sums = []
        for m in self.metrics:
            if m.needs_probs and fused and probs is None:
                probs = self._activate_head(out)
            sums.append(m.batch_sum(self.backend, probs if (m.needs_probs and fused) else out, yb,
                                    is_logits=fused and not m.needs_probs))
        return loss, grad, sums

    def _activate_head(self, logits: Any) -> Any:
        be = self.backend
        out = be.xp.array(logits, copy=True)
        if self.loss.fused_head == "softmax":
            return be.softmax(out, out=out)
        return be.bias_act(out, None, "sigmoid", out=out)

    def _train_step(self, xb: Any, yb: Any) -> tuple[Any, list[Any]]:
        # Overflow on the way to a NaN loss is reported once, as NonFiniteLossError naming the
        # epoch and step, rather than as a stream of NumPy RuntimeWarnings.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, grad, sums = self._loss_and_metrics(xb, yb, training=True)
            self.backend.mark_nonfinite(loss, self._skip)
            self._backward(grad)
            if self._flat_params.size:
                self.optimizer.apply([self._flat_params], [self._flat_grads], self._skip)
        return loss, sums

    # ------------------------------------------------------------------ data
    def _prepare(self, x: Any, y: Any | None, what: str) -> DataFeed:
        """Validate on the host, move to the device once, cast once to the model dtype."""
        x = V.check_x(x, self, what)
        if not self.built:
            self.build(x.shape[1:])
        V.check_x_shape(x, self)
        y = V.check_y(y, x.shape[0], self) if y is not None else None
        ydt = np.int64 if self.loss is not None and self.loss.target_kind == "sparse" else self.dtype
        feed = DataFeed(self.backend, x, y, self.dtype, ydt)
        feed.check_finite(what, check_y=y is not None and self.loss.target_kind != "sparse")
        return feed

    # ------------------------------------------------------------------ training
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | str = "auto", callbacks: Sequence[Callback] | None = None,
            validation_split: float = 0.0, validation_data: tuple | None = None,
            shuffle: bool = True, initial_epoch: int = 0) -> History:
        """Train for ``epochs`` passes over the data (``ceil(n / batch_size)`` steps each; the
        last short batch is used). Returns a History with per-epoch means weighted by batch size."""
        self._require_compiled("fit")
        batch_size = V.check_batch_size(batch_size)
        epochs = V.check_nonneg_int(epochs, "epochs")
        initial_epoch = V.check_nonneg_int(initial_epoch, "initial_epoch")
        verbose = V.check_verbose(verbose)
        validation_split = V.check_split(validation_split)
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
            x, y, validation_data = V.split_validation(x, y, validation_split)
        feed = self._prepare(x, y, "x")
        n = feed.n
        val = None
        if validation_data is not None:
            val = self._prepare(validation_data[0], validation_data[1], "validation_data x")

        history = History()
        history.params = {"epochs": epochs, "steps": math.ceil(n / batch_size), "verbose": verbose}
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

    def _run_epoch(self, feed: DataFeed, batch_size, epoch, epochs, shuffle, verbose):
        be, n = self.backend, feed.n
        steps = math.ceil(n / batch_size)
        be.seed(int(np.random.SeedSequence(self._epoch_seed(epoch)).generate_state(1)[0]))
        perm = np.random.default_rng(self._epoch_seed(epoch)).permutation(n) if shuffle else None
        order = feed.order(perm)
        progress = EpochProgress(epoch, epochs, steps, verbose)
        tracker = _EpochTracker(self, epoch)
        # On the CPU reading the loss is free: check every step. On a device, only when shown.
        sync_every_step = be.name == "cpu"
        for step in range(steps):
            s, e = step * batch_size, min(n, (step + 1) * batch_size)
            xb, yb = feed.batch(s, e, order)
            loss, sums = self._train_step(xb, yb)
            tracker.record(loss, sums, e - s)
            if sync_every_step or progress.wants_update:
                tracker.sync()
                progress.update(step + 1, tracker.logs())
        tracker.sync()
        return tracker.logs(), progress

    def train_on_batch(self, x: Any, y: Any) -> dict[str, float]:
        """One update on one batch; returns that batch's loss and metrics."""
        self._require_compiled("train_on_batch")
        feed = self._prepare(x, y, "x")
        tracker = _EpochTracker(self, 0)
        loss, sums = self._train_step(*feed.batch(0, feed.n))
        tracker.record(loss, sums, feed.n)
        tracker.sync()
        return tracker.logs()

    # ------------------------------------------------------------------ inference
    def evaluate(self, x: Any, y: Any, batch_size: int | None = None, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics over ``(x, y)`` in inference mode -> ``{"loss": ..., "accuracy": ...}``."""
        self._require_compiled("evaluate")
        batch_size = V.check_batch_size(batch_size)
        logs = self._evaluate_feed(self._prepare(x, y, "x"), batch_size)
        if V.check_verbose(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs

    def _evaluate_feed(self, feed: DataFeed, batch_size: int) -> dict[str, float]:
        # Inference reports a NaN loss as NaN (as Keras does) instead of raising.
        tracker = _EpochTracker(self, 0, raise_on_nonfinite=False)
        for s in range(0, feed.n, batch_size):
            e = min(feed.n, s + batch_size)
            loss, _, sums = self._loss_and_metrics(*feed.batch(s, e), training=False)
            tracker.record(loss, sums, e - s)
        tracker.sync()
        return tracker.logs()

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Outputs for ``x`` (probabilities for softmax/sigmoid heads) as a NumPy array."""
        batch_size = V.check_batch_size(batch_size)
        feed = self._prepare(x, None, "x")
        n = feed.n
        out = self.backend.xp.empty((n, *self.output_shape), dtype=self.dtype)
        for s in range(0, n, batch_size):
            e = min(n, s + batch_size)
            out[s:e] = self._forward(feed.batch(s, e)[0], training=False)
        return self.backend.to_numpy(out)  # one device->host move

    # ------------------------------------------------------------------ weights and files
    def get_weights(self) -> list[np.ndarray]:
        """Host copies of every weight: per Dense its kernel (in, out), then its bias (out,)."""
        self._require_built("get_weights")
        return [np.array(self.backend.to_numpy(p), copy=True) for p in self._params()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace every weight (same order and shapes as ``get_weights``)."""
        self._require_built("set_weights")
        params = self._params()
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"set_weights expected a list of {len(params)} arrays, received {len(weights)}")
        arrays = []
        for i, (w, p, (layer, key)) in enumerate(zip(weights, params, self._refs)):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(f"set_weights: weight {i} ({layer.name}.{key}) must have shape "
                                 f"{tuple(p.shape)}, received {w.shape}")
            if not np.all(np.isfinite(w)):
                raise ValueError(f"set_weights: weight {i} ({layer.name}.{key}) holds NaN or inf")
            arrays.append(w)
        for w, p in zip(arrays, params):
            p[...] = self.backend.asarray(w.astype(self.dtype))

    def save(self, path: str | os.PathLike) -> None:
        """Write architecture, weights, optimizer state and step count to one file, atomically."""
        from .saving import save_model

        save_model(self, path)

    def get_config(self) -> dict:
        return {"name": self.name, "seed": self.seed, "dtype": self.dtype.name,
                "layers": [{"class": type(l).__name__, "config": l.get_config()} for l in self.layers]}

    # ------------------------------------------------------------------ checks
    def _require_built(self, what: str) -> None:
        if not self.built:
            raise RuntimeError(f"{what}() needs a built model: give the first layer input_shape=..., "
                               "call model.build(input_shape), or fit/predict on data first")

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"you must call model.compile(...) before model.{what}()")


class _EpochTracker:
    """Per-step losses and metric sums kept on the device until a sync reads them in one go."""

    def __init__(self, model: Sequential, epoch: int, raise_on_nonfinite: bool = True) -> None:
        self.model, self.epoch, self.raise_on_nonfinite = model, epoch, raise_on_nonfinite
        self.pending: list[tuple[Any, list[Any], int]] = []
        self.loss_sum = 0.0
        self.metric_sums = [0.0] * len(model.metrics)
        self.n = 0
        self.steps = 0

    def record(self, loss: Any, sums: list[Any], count: int) -> None:
        self.pending.append((loss, sums, count))

    def sync(self) -> None:
        if not self.pending:
            return
        be, xp = self.model.backend, self.model.backend.xp
        k = len(self.model.metrics)
        flat = xp.stack([xp.asarray(v, dtype=xp.float64) for loss, sums, _ in self.pending
                         for v in (loss, *sums)])
        # The one device->host read; a non-finite loss here is exactly what set the skip flag.
        host = be.to_numpy(flat).reshape(len(self.pending), k + 1)
        for i, (_, _, count) in enumerate(self.pending):
            if self.raise_on_nonfinite and not np.isfinite(host[i, 0]):
                self._fail(self.steps + i, host[i, 0])
            self.loss_sum += float(host[i, 0]) * count
            for j in range(k):
                self.metric_sums[j] += host[i, j + 1]
            self.n += count
        self.steps += len(self.pending)
        self.pending.clear()

    def _fail(self, step: int, value: float) -> None:
        model = self.model
        # Updates after the bad step were skipped on the device; undo their step count.
        model.optimizer.iterations -= self.steps + len(self.pending) - step
        model._skip[...] = 0
        self.pending.clear()
        raise NonFiniteLossError(self.epoch + 1, step + 1, float(value))

    def logs(self) -> dict[str, float]:
        n = max(self.n, 1)
        out = {"loss": float(self.loss_sum / n)}
        for m, total in zip(self.model.metrics, self.metric_sums):
            out[m.name] = float(m.result(total, n))
        return out

