"""``jit_compile``: the training step captured once per epoch as a CUDA graph and replayed.

At MNIST sizes a GPU step is almost all host time (~15 launches, each with its Python and
launch overhead). A CUDA graph replays the whole step with one launch. What has to be true
for a replay to be the same step as an eager one:

* **Inputs from fixed buffers.** The graph's first kernels gather the step's rows,
  ``x[order[c * B:(c + 1) * B]]`` and the same rows of ``y``, into fixed ``(B, ...)``
  buffers, where ``c`` is a device-side int32 step counter (:mod:`netcore.kernels.step`).
* **Nothing step-dependent frozen in.** Adam's rate ``alpha_t = lr sqrt(1 - beta_2^t) /
  (1 - beta_1^t)`` changes every step: while capturing, the backend's ``adam_update`` is routed
  to a kernel reading ``alpha`` from a per-epoch table at ``counter`` (same values, same
  dtype as the eager path). SGD, RMSprop and Adagrad take only constants.
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

``jit_compile="auto"`` (the default, Keras' name) captures on the CUDA backend and is eager
elsewhere: on the CPU (no kernel launches to save), in the simulator (no graphs), under data
parallelism (the allreduce between backward and update goes through NCCL or host staging,
neither of which this capture knows), with sample or class weights, or when the data stays
on the host; a capture that fails warns once and the fit goes on eagerly. ``True`` raises
where "auto" would fall back; ``False`` is always eager. Like Keras, the choice is a compile
argument and is not saved with the model.

Why this module is over 400 lines: the plan of an epoch (which steps replay), the fixed
buffers and the CPU stand-in that tests the captured step are one mechanism; the CUDA
runtime it drives lives apart, in :mod:`netcore.backend.graph`.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..kernels import step as step_kernels
from ..kernels.optimizers import CHECK, WRITE

JIT_CHOICES = (True, False, "auto")


def check_jit_compile(value: Any) -> bool | str:
    """``value`` if it is True, False or "auto", else ValueError."""
    if isinstance(value, bool) or value == "auto":
        return value
    raise ValueError(f"jit_compile must be True, False or 'auto', received {value!r}")


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


# ---------------------------------------------------------------- kernels on either backend
#: Each CUDA backend's launcher set of the step kernels: compiled once per backend, not
#: once per ``fit`` (a weak key: the set holds no reference back to its backend).
_CUDA_SETS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class StepKernels:
    """Launches the step kernels on the model's backend: the CPU flavours called directly,
    the CUDA ones through the backend's launcher set (numba's simulator included)."""

    def __init__(self, backend: Any) -> None:
        self.be = backend
        self.cuda = backend.name == "cuda"
        if self.cuda:
            launchers = _CUDA_SETS.get(backend)
            if launchers is None:
                launchers = _CUDA_SETS[backend] = step_kernels.cuda_step_kernels(backend.simulated)
            self._set = launchers
        else:
            self._cpu = step_kernels.cpu_step_kernels()

    def prepare(self, dtype: Any, adam: bool) -> None:
        """Compile the CUDA launchers the step uses now: nothing may compile while a graph
        is captured."""
        if self.cuda:
            self._set.get("gather_rows", step_kernels.UNTYPED_KEY)
            self._set.get("record_step", step_kernels.UNTYPED_KEY)
            if adam:
                self._set.get("adam_update_at", np.dtype(dtype).name)

    def gather(self, counter: Any, order: Any, src: Any, dst: Any) -> None:
        s, d = step_kernels.word_rows(src), step_kernels.word_rows(dst)
        if self.cuda:
            grid, block = self.be._grid1(d.size)
            self._set.get("gather_rows", step_kernels.UNTYPED_KEY)(
                grid, block, counter, order, s, d
            )
        else:
            self._cpu["gather_rows"](counter, order, s, d)

    def record(self, counter: Any, row: Any, log: Any) -> None:
        if self.cuda:
            launch = self._set.get("record_step", step_kernels.UNTYPED_KEY)
            launch((1,), (step_kernels.RECORD_THREADS,), counter, row, log)
        else:
            self._cpu["record_step"](counter, row, log)

    def adam_at(
        self,
        flag: Any,
        p: Any,
        g: Any,
        m: Any,
        v: Any,
        alphas: Any,
        counter: Any,
        c1: float,
        c2: float,
        eps: float,
    ) -> None:
        if self.cuda:
            launch = self._set.get("adam_update_at", p.dtype.name)
            grid, block = self.be._grid1(p.size)
            launch(grid, block, flag, p, g, m, v, alphas, counter, c1, c2, eps, CHECK)
            launch(grid, block, flag, p, g, m, v, alphas, counter, c1, c2, eps, WRITE)
        else:
            dt = p.dtype.type
            self._cpu["adam_update_at"](
                flag, p, g, m, v, alphas, counter, dt(c1), dt(c2), dt(eps), CHECK | WRITE
            )


@contextlib.contextmanager
def routed_adam(backend: Any, kernels: StepKernels, alphas: Any, counter: Any) -> Iterator[None]:
    """While capturing, ``backend.adam_update`` reads its rate from ``alphas[counter]``
    (an instance attribute over the class's op, removed on exit)."""

    def adam_update(
        param: Any,
        grad: Any,
        m: Any,
        v: Any,
        alpha: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        skip: Any = None,
    ) -> None:
        flat = [a for a in (param, grad, m, v) if a.ndim == 1 and a.flags.c_contiguous]
        if len(flat) != 4 or skip is None or len({a.dtype for a in flat}) != 1:
            raise RuntimeError(
                "a captured Adam step needs the flat parameter buffers and the skip flag"
            )
        kernels.adam_at(skip, param, grad, m, v, alphas, counter, 1 - beta_1, 1 - beta_2, epsilon)

    backend.adam_update = adam_update
    try:
        yield
    finally:
        del backend.adam_update


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
        self.failed: str | None = None

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
        return routed_adam(
            self.model.backend, self.kernels, self.buf["alphas"], self.buf["counter"]
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
                    if mode == "replay":
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


def runtime_for(backend: Any) -> Any:
    """The graph runtime of ``backend`` (a GPU one; tests substitute a CPU double)."""
    from ..backend.graph import runtime_of

    return runtime_of(backend)


def for_fit(
    model: Any, feed: Any, batch_size: int, data_parallel: bool, weighted: bool
) -> CapturedFit | None:
    """The captured epochs of this ``fit``, or None to train eagerly (see the module doc)."""
    mode = model.jit_compile
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
        runtime = runtime_for(model.backend)
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
    "StepKernels",
    "adam_rates",
    "backend_can_capture",
    "buffer_layout",
    "check_jit_compile",
    "fit_can_capture",
    "for_fit",
    "routed_adam",
    "runtime_for",
]
