"""``jit_compile``: the training step captured once per epoch as a CUDA graph and replayed.

At MNIST sizes a GPU step is almost all host time (one launch per kernel, each with its
Python and launch overhead). A CUDA graph replays the whole step with one launch. What has to be true
for a replay to be the same step as an eager one:

* **Inputs from fixed buffers.** The graph's first kernels gather the step's rows,
  ``x[order[c * B:(c + 1) * B]]`` and the same rows of ``y``, into fixed ``(B, ...)``
  buffers, where ``c`` is a device-side int32 step counter (:mod:`netcore.kernels.captured`).
* **Nothing step-dependent frozen in.** Adam's rate ``alpha_t = lr sqrt(1 - beta_2^t) /
  (1 - beta_1^t)`` changes every step: while capturing, the backend's optimizer kernel call
  (``_update``) for an op with a per-step scalar is routed to that kernel's ``_at`` form,
  which reads the scalar from a per-epoch table at ``counter`` (same values, same dtype as
  the eager path; :mod:`netcore.kernels.captured`). SGD, RMSprop and Adagrad take only
  constants.
* **Results stay on the device.** The graph's last kernel writes the step's loss, metric
  sums and skip flag to row ``c`` of a per-epoch log and moves the counter on; the epoch
  tracker reads those rows only when the progress display does (one transfer), exactly as it
  reads eager steps. The skip flag works as eagerly: a NaN loss turns every later update into
  a no-op and the tracker reports the first failing step with the last good weights.
* **Everything the step allocates exists before the capture.** Step 0 of each epoch runs
  eagerly (the warm-up: every layer buffer exists at the batch size, and the private memory
  pool holds each temporary the capture will take again); the graph is then captured (it does
  not run while captured) and replayed for steps ``1 .. n // B - 1``. A short last batch runs
  eagerly. The capture is redone each epoch: dropout's generator is reseeded and the shuffle
  order is new every epoch, and a callback may have changed the learning rate. Capturing runs
  the step's host code once, without its device work.
* **Checked before it is trusted.** The first capture in a process for a given model, batch
  size and optimizer replays step 1 on a snapshot of the state and compares it with the same
  step run eagerly (:mod:`netcore.training.capture_check`, which states the tolerance); a
  mismatch warns once with the largest difference and trains eagerly ("auto") or raises
  (``True``).

``jit_compile="auto"`` (the default, Keras' name) captures on the CUDA backend and is eager
elsewhere: on the CPU (no kernel launches to save), in the simulator (no graphs), under data
parallelism (the allreduce between backward and update goes through NCCL or host staging,
neither of which this capture knows), with sample or class weights, or when the data stays
on the host; a capture that fails warns once and the fit goes on eagerly. ``True`` raises
where "auto" would fall back; ``False`` is always eager. Like Keras, the choice is a compile
argument and is not saved with the model. The environment variable ``NETCORE_JIT`` is the
operator's switch over the code's choice (as tinygrad's ``JIT=0`` or PyTorch's
``TORCH_COMPILE_DISABLE``): ``0`` makes every fit eager whatever ``compile`` said, ``1`` makes
"auto" mean True (capture or raise), ``auto`` or unset leaves the argument as it is.

The plan of an epoch (which steps replay) and the fixed buffers are this module; the kernels'
launches and the optimizer route are :mod:`.capture_kernels`, the self-check
:mod:`.capture_check`, and the CUDA runtime :mod:`netcore.backend.graph`.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend.graph import runtime_of
from . import capture_check
from .capture_kernels import StepKernels, routed_updates

JIT_CHOICES = (True, False, "auto")
#: Environment variable: ``0``, ``1`` or ``auto`` (see the module docstring).
JIT_ENV = "NETCORE_JIT"


def check_jit_compile(value: Any) -> bool | str:
    """``value`` if it is True, False or "auto", else ValueError."""
    if isinstance(value, bool) or value == "auto":
        return value
    raise ValueError(f"jit_compile must be True, False or 'auto', received {value!r}")


def effective_jit(value: bool | str, env: Any = None) -> bool | str:
    """The ``jit_compile`` a fit uses: ``value`` (compile's argument) under ``NETCORE_JIT``
    (``env``: that variable's value, read from the environment when None)."""
    raw = os.environ.get(JIT_ENV, "") if env is None else env
    setting = str(raw).strip().lower()
    if setting in ("", "auto"):
        return value
    if setting == "0":
        return False
    if setting == "1":
        return True if value == "auto" else value
    raise ValueError(f"{JIT_ENV} must be 0, 1 or auto, received {raw!r}")


def backend_can_capture(backend: Any) -> tuple[bool, str]:
    """``(ok, reason)``: does ``backend`` support graph capture at all?"""
    from ..backend.graph import graph_support

    return graph_support(backend)


def fit_can_capture(
    backend: Any, data_parallel: bool, weighted: bool, on_device: bool
) -> tuple[bool, str]:
    """``(ok, reason)`` for one ``fit`` call."""
    ok, reason = backend_can_capture(backend)
    if not ok:
        return ok, reason
    if data_parallel:
        return False, (
            "jit_compile=True does not capture data-parallel training: the "
            "gradient allreduce runs between backward and update, outside the graph"
        )
    if weighted:
        return False, "jit_compile=True does not capture steps with sample_weight or class_weight"
    if not on_device:
        return False, (
            "jit_compile=True needs the training data on the device; it is larger "
            "than half of the free GPU memory"
        )
    return True, "captured"


# ---------------------------------------------------------------- the step plan
@dataclass(frozen=True)
class StepPlan:
    """Which steps of an epoch of ``n`` samples in batches of ``batch_size`` run how.

    ``"warmup"``: step 0, eager, before the capture; ``"replay"``: steps ``1 .. full - 1``
    (``full = n // batch_size``), one graph launch each; ``"eager"``: the short last batch,
    or every step when nothing is captured (fewer than two full batches: no replay to gain).
    The plan is the same for every epoch (a resumed fit has the same plan).
    """

    n: int
    batch_size: int
    capture: bool

    @property
    def steps(self) -> int:
        return math.ceil(self.n / self.batch_size)

    @property
    def full(self) -> int:
        return self.n // self.batch_size

    @property
    def captured(self) -> bool:
        return self.capture and self.full >= 2

    def mode(self, step: int) -> str:
        if not self.captured or step >= self.full:
            return "eager"
        return "warmup" if step == 0 else "replay"

    def rows(self, step: int) -> tuple[int, int]:
        """Rows ``s:e`` of the epoch's order that step ``step`` trains on."""
        return step * self.batch_size, min(self.n, (step + 1) * self.batch_size)


# ---------------------------------------------------------------- the buffers
def buffer_layout(
    batch_size: int, steps: int, x: Any, y: Any, n_metrics: int, adam: bool
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shapes and dtypes of the fixed buffers one captured fit uses.

    ``x``/``y``: a batch of the data as the feed holds it; ``counter``: the device step index;
    ``row``: one step's ``(loss, *metric sums, flag, weight)`` as float64 (the tracker's row);
    ``log``: one row per step of the epoch; ``alphas``: Adam's rate per step (Adam only).
    """
    layout = {
        "x": ((batch_size, *x.shape[1:]), np.dtype(x.dtype)),
        "y": ((batch_size, *y.shape[1:]), np.dtype(y.dtype)),
        "counter": ((1,), np.dtype(np.int32)),
        "row": ((n_metrics + 3,), np.dtype(np.float64)),
        "log": ((steps, n_metrics + 3), np.dtype(np.float64)),
    }
    if adam:
        layout["alphas"] = ((steps,), np.dtype(x.dtype))
    return layout


def adam_rates(optimizer: Any, first_t: int, steps: int, dtype: Any) -> np.ndarray:
    """``alphas[c]`` = Adam's rate at step ``t = first_t + c`` (the optimizer's own formula)."""
    return np.array([optimizer.rate_at(first_t + c) for c in range(steps)], dtype=dtype)


# ---------------------------------------------------------------- one captured fit
class CapturedFit:
    """The captured epochs of one ``fit``: buffers, runtime and the per-epoch graph.

    ``runtime`` implements ``epoch()``, ``warmup()``, ``capture(fn)`` and ``replay(graph)``
    (:class:`netcore.backend.graph.GraphRuntime` on a GPU). ``strict``: a failed capture
    raises (``jit_compile=True``) instead of warning once and training eagerly ("auto").
    """

    def __init__(self, model: Any, feed: Any, batch_size: int, runtime: Any, strict: bool) -> None:
        xp = model.backend.xp
        self.model, self.feed, self.runtime, self.strict = model, feed, runtime, strict
        self.plan = StepPlan(feed.n, batch_size, True)
        self.adam = getattr(model.optimizer, "name", None) == "adam"
        layout = buffer_layout(
            batch_size, self.plan.steps, feed.x, feed.y, len(model.metrics), self.adam
        )
        self.buf = {name: xp.zeros(shape, dtype=dt) for name, (shape, dt) in layout.items()}
        self.identity = None  # the order of an unshuffled epoch, made when first needed
        self.kernels = StepKernels(model.backend)
        #: Why this fit trains eagerly after all (a failed capture or self-check), or None.
        self.failed: str | None = capture_check.failed_check(model, batch_size)
        if self.failed is not None and strict:
            raise RuntimeError(f"jit_compile=True: {self.failed}")

    def _order(self, order: Any) -> Any:
        if order is not None:
            return order
        if self.identity is None:
            self.identity = self.model.backend.asarray(np.arange(self.feed.n, dtype=np.int64))
        return self.identity

    def _step_fn(self, order: Any) -> Callable[[], None]:
        """One training step, all on the device: gather, step, record (the graph's body)."""
        m, b = self.model, self.buf
        x, y = self.feed.x, self.feed.y

        def step() -> None:
            self.kernels.gather(b["counter"], order, x, b["x"])
            self.kernels.gather(b["counter"], order, y, b["y"])
            # The body leaves host state as it found it: the optimizer's step count moves
            # once per replay (run_epoch), not when the body is captured.
            iterations = m.optimizer.iterations
            try:
                with self._routes():
                    loss, sums = m._train_step(b["x"], b["y"])
            finally:
                m.optimizer.iterations = iterations
            self._fill_row(loss, sums)
            self.kernels.record(b["counter"], b["row"], b["log"])

        return step

    def _fill_row(self, loss: Any, sums: list[Any]) -> None:
        """``row = (loss, *sums, flag, 0)`` on the device (the tracker's row of one step)."""
        row, k = self.buf["row"], len(sums)
        row[0] = loss
        for j, s in enumerate(sums):
            row[1 + j] = s
        row[k + 1] = self.model._nonfinite.array[0]

    def _capture(self, order: Any, first_t: int) -> Any:
        """The graph of one step, for this epoch's order, counter starting at step 1."""
        m, be, b = self.model, self.model.backend, self.buf
        self.kernels.prepare(m.dtype, self.adam)
        b["counter"][...] = 1
        b["log"][...] = 0
        if self.adam:
            b["alphas"][...] = be.asarray(
                adam_rates(m.optimizer, first_t, self.plan.steps, b["alphas"].dtype)
            )
        return self.runtime.capture(self._step_fn(self._order(order)))

    def _routes(self) -> Any:
        """The ops whose eager form takes a per-step host value, read on the device instead."""
        if not self.adam:
            return contextlib.nullcontext()
        return routed_updates(
            self.model.backend,
            self.kernels,
            {"adam_update": self.buf["alphas"]},
            self.buf["counter"],
        )

    def run_epoch(self, order: Any, tracker: Any, progress: Any, sync_every_step: bool) -> None:
        """Train one epoch (the trainer's per-step loop, with replays for the full batches)."""
        m, plan, b, k = self.model, self.plan, self.buf, len(self.model.metrics)
        first_t = m.optimizer.iterations + 1
        graph = None
        with self.runtime.epoch():
            for step in range(plan.steps):
                s, e = plan.rows(step)
                mode = plan.mode(step) if self.failed is None else "eager"
                with m._lock:
                    if mode == "replay" and graph is None:
                        graph = self._try_capture(order, first_t)
                        mode = "replay" if graph is not None else "eager"
                    if mode == "replay" and capture_check.needs_check(m, plan.batch_size):
                        graph = self._checked(graph, order, step, tracker)
                    elif mode == "replay":
                        self.runtime.replay(graph)
                        m.optimizer.iterations += 1
                        r = b["log"][step]
                        tracker.record(r[0], [r[1 + j] for j in range(k)], e - s, r[k + 1])
                    else:
                        warm = (
                            self.runtime.warmup() if mode == "warmup" else contextlib.nullcontext()
                        )
                        with warm:
                            loss, sums = m._train_step(*self.feed.batch(s, e, order))
                            if mode == "warmup":  # its kernels compile before the capture
                                self._fill_row(loss, sums)
                        tracker.record(loss, sums, e - s, m._step_flag())
                if sync_every_step or progress.wants_update:
                    tracker.sync()
                    progress.update(step + 1, tracker.logs())

    def _checked(self, graph: Any, order: Any, step: int, tracker: Any) -> Any:
        """Step ``step`` replayed on a snapshot, then run eagerly from the snapshot and
        compared (:mod:`.capture_check`); the eager step's result is kept and recorded.
        Returns ``graph``, or None (and trains eagerly from now on) on a mismatch."""
        m = self.model
        s, e = self.plan.rows(step)
        snap = capture_check.snapshot(m)
        self.runtime.replay(graph)
        replayed = {name: a.copy() for name, a in capture_check.arrays(m).items()}
        row = self.buf["log"][step].copy()
        capture_check.restore(m, snap)
        loss, sums = m._train_step(*self.feed.batch(s, e, order))
        tracker.record(loss, sums, e - s, m._step_flag())
        eager = capture_check.arrays(m)
        names = ["loss"] + [f"metric {getattr(x, 'name', j)}" for j, x in enumerate(m.metrics)]
        for j, name in enumerate(names):
            replayed[name] = row[j]
            eager[name] = loss if j == 0 else sums[j - 1]
        verdict = capture_check.compare(snap.arrays, replayed, eager, m.dtype, m.backend.xp)
        if verdict.ok:
            capture_check.mark_checked(m, self.plan.batch_size)
            return graph
        capture_check.mark_checked(m, self.plan.batch_size, verdict.message())
        if self.strict:
            raise RuntimeError(f"jit_compile=True: {verdict.message()}")
        self.failed = verdict.message()
        warnings.warn(
            f"netcore: {verdict.message()}; training eagerly (compile with "
            "jit_compile=False or set NETCORE_JIT=0 to skip the capture)",
            RuntimeWarning,
            stacklevel=4,
        )
        return None

    def _try_capture(self, order: Any, first_t: int) -> Any:
        try:
            return self._capture(order, first_t)
        except Exception as exc:
            if self.strict:
                raise RuntimeError(
                    f"jit_compile=True: capturing the training step failed: {exc!r}"
                ) from exc
            self.failed = repr(exc)
            warnings.warn(
                f"netcore: the training step could not be captured ({exc!r}); "
                "training eagerly (compile with jit_compile=False to skip the try)",
                RuntimeWarning,
                stacklevel=4,
            )
            return None


def for_fit(
    model: Any, feed: Any, batch_size: int, data_parallel: bool, weighted: bool
) -> CapturedFit | None:
    """The captured epochs of this ``fit``, or None to train eagerly (see the module doc)."""
    mode = effective_jit(model.jit_compile)
    if mode is False:
        return None
    ok, reason = fit_can_capture(model.backend, data_parallel, weighted, feed.on_device)
    if not ok:
        if mode is True:
            raise ValueError(reason)
        return None
    if feed.y is None:
        return None
    try:
        runtime = runtime_of(model.backend)
    except Exception as exc:  # no libcublas to call, no stream: the step cannot be captured
        if mode is True:
            raise RuntimeError(f"jit_compile=True: the graph runtime failed: {exc!r}") from exc
        warnings.warn(
            f"netcore: the training step cannot be captured ({exc!r}); training "
            "eagerly (compile with jit_compile=False to skip the try)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return CapturedFit(model, feed, batch_size, runtime, strict=mode is True)


__all__ = [
    "JIT_CHOICES",
    "StepPlan",
    "CapturedFit",
    "adam_rates",
    "backend_can_capture",
    "buffer_layout",
    "check_jit_compile",
    "fit_can_capture",
    "for_fit",
    "effective_jit",
    "JIT_ENV",
]
