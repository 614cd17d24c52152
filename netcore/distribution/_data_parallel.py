"""DataParallel: one model replica per process; every global batch is split across the ranks.

One training step on every rank (``DataParallel.train_step``):

1. rank r's rows of the global batch of n rows (``_shard.shard_bounds``: n_r of them) go
   forward; the loss gradient is scaled by ``n_r / n``;
2. the step's statistics ``[n_r L_r, metric sums]`` start summing (non-blocking);
3. backward runs from the last layer; once every layer of a bucket (about ``bucket_mb`` of
   gradients, contiguous in the model's flat gradient buffer) is done, its sum starts
   (``MPI_Iallreduce``, or NCCL on a side stream) while the earlier layers' backward runs;
4. after the first layer: wait. The flat buffer now holds the global batch's gradient
   ``g = sum_r (n_r / n) g_r`` and the statistics give ``L = sum_r n_r L_r / n``;
5. the optimizer steps, on every rank alike, or is skipped on every rank if ``L`` is not finite.

Root mean squared error is not a mean over samples: ``L = sqrt(sum_r n_r L_r^2 / n)``. Its
rank gradient ``e / (n_r C L_r)`` (e the error) is scaled by ``n_r L_r / n`` before the sum
and by ``1 / L`` after it, which gives the global ``e / (n C L)``.
"""

from __future__ import annotations

import contextlib
import json
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._agree import DistributionMismatchError, check_inference, digest
from ._comm import LocalComm, MPIComm, world_communicator
from ._current import get_distribution, set_current
from ._faults import announce_and_abort, end_job_for, install_abort_on_error
from ._shard import shard_bounds, shard_counts
from ._stall import DEFAULT_STALL_S, STALL_VARIABLE, TIMEOUT_VARIABLE, positive_seconds

#: fit arguments every rank must agree on
FIT_SETTINGS = ("batch_size", "epochs", "shuffle", "initial_epoch", "validation")


@dataclass
class _Bucket:
    first_layer: int  # lowest layer index with gradients in the bucket: ready once it is done
    lo: int
    hi: int


def plan_buckets(model: Any, bucket_bytes: int) -> list[_Bucket]:
    """Buckets of whole trainable layers, last layer first, each at least ``bucket_bytes``
    (the last one may be smaller). The trainable layers' gradients are contiguous in the
    flat buffer's trainable tail, in layer order; frozen layers' gradients are not summed."""
    index = {id(layer): i for i, layer in enumerate(model.layers)}
    spans: dict[int, list[int]] = {}
    for layer, key in model._refs:
        where = model._slices[(id(layer), key)]
        if where.start < model._trainable_offset:
            continue
        span = spans.setdefault(index[id(layer)], [where.start, where.stop])
        span[1] = where.stop
    itemsize = np.dtype(model.dtype).itemsize
    buckets: list[_Bucket] = []
    for i in sorted(spans, reverse=True):
        lo, hi = spans[i]
        last = buckets[-1] if buckets else None
        if last is not None and (last.hi - last.lo) * itemsize < bucket_bytes:
            last.first_layer, last.lo = i, lo
        else:
            buckets.append(_Bucket(i, lo, hi))
    return buckets


class DataParallel:
    """Data parallelism over MPI ranks (Keras 3's ``keras.distribution.DataParallel``).

    ``DataParallel(comm=None, bucket_mb=1.0, overlap=True, stall_s=None, timeout_s=None)``:
    ``comm`` is an mpi4py
    communicator (default ``MPI.COMM_WORLD`` under ``mpiexec``; outside a launcher the world
    is this process alone and mpi4py is not needed). Gradients are summed per bucket of about
    ``bucket_mb`` MB as soon as backward has produced them (``overlap=True``), or in one
    allreduce of the whole flat buffer after backward (``overlap=False``). A rank that waits
    ``stall_s`` seconds in a collective (default 60, ``NETCORE_DIST_STALL_S``) reports which
    operation it waits in and which ranks have not joined; after ``timeout_s`` (default None:
    never, ``NETCORE_DIST_TIMEOUT_S``) the job ends with that report (:mod:`._stall`).

    Enable it with ``netcore.distribution.set_distribution(DataParallel())`` or
    ``with DataParallel().scope():``; ``fit``, ``evaluate`` and ``predict`` then split the
    work, and only rank 0 (``is_chief``) prints progress and writes model files.
    """

    def __init__(
        self,
        comm: Any = None,
        bucket_mb: float = 1.0,
        overlap: bool = True,
        stall_s: float | None = None,
        timeout_s: float | None = None,
    ) -> None:
        if (
            isinstance(bucket_mb, bool)
            or not isinstance(bucket_mb, (int, float))
            or not bucket_mb > 0
        ):
            raise ValueError(f"bucket_mb must be a positive number, received {bucket_mb!r}")
        if not isinstance(overlap, bool):
            raise ValueError(f"overlap must be True or False, received {overlap!r}")
        self.stall_s = positive_seconds(stall_s, "stall_s", STALL_VARIABLE, DEFAULT_STALL_S)
        self.timeout_s = positive_seconds(timeout_s, "timeout_s", TIMEOUT_VARIABLE, None)
        if comm is None:
            self.comm = world_communicator()
        elif isinstance(comm, LocalComm):
            self.comm = comm
        else:
            self.comm = MPIComm(comm)
        self.bucket_bytes = int(bucket_mb * 1e6)
        self.overlap = overlap
        self._device_reducer: Any = None  # NCCL or host staging, made on first use
        #: per model: its flat gradient buffer and the bucket plan cut from it
        self._plans: weakref.WeakKeyDictionary[Any, tuple[Any, list[_Bucket]]] = (
            weakref.WeakKeyDictionary()
        )
        #: seconds spent waiting for reductions, and steps taken (for the benchmark)
        self.wait_seconds = 0.0
        self.steps = 0
        self.comm.set_patience(self.stall_s, self.timeout_s)  # type: ignore[arg-type]
        if self.comm.size > 1:
            install_abort_on_error(self.comm)

    # ------------------------------------------------------------------ who am I
    @property
    def rank(self) -> int:
        return self.comm.rank

    @property
    def world_size(self) -> int:
        return self.comm.size

    @property
    def local_rank(self) -> int:
        """Rank among the processes on this host (pick the GPU from it)."""
        return self.comm.local_rank

    @property
    def is_chief(self) -> bool:
        """Rank 0: the one that prints and writes files."""
        return self.comm.rank == 0

    def describe(self) -> str:
        """One line for headers, e.g. ``data parallel, 2 processes (mpi)``."""
        word = "process" if self.world_size == 1 else "processes"
        return f"data parallel, {self.world_size} {word} ({self.comm.name})"

    def __repr__(self) -> str:
        return f"<DataParallel rank {self.rank} of {self.world_size} ({self.comm.name})>"

    @contextlib.contextmanager
    def scope(self) -> Iterator[DataParallel]:
        """``with dist.scope():`` makes this the current distribution inside the block."""
        previous = get_distribution()
        set_current(self)
        try:
            yield self
        finally:
            set_current(previous)

    def barrier(self) -> None:
        """Wait until every rank gets here (e.g. before reading a file rank 0 just saved)."""
        self.comm.barrier()

    def abort(self, text: str, code: int = 1) -> None:
        """Print ``text`` for this rank and end every rank of the job."""
        announce_and_abort(self.comm, text, code)

    def end_job_for(self, exc: BaseException, what: str) -> None:
        """This rank leaves ``what`` by ``exc`` (``SystemExit``, ``KeyboardInterrupt``): the
        other ranks would wait for it in their next collective, so end every rank's job."""
        end_job_for(self.comm, exc, what)

    def any_rank(self, flag: bool, what: str = "fit") -> bool:
        """True on every rank when ``flag`` is true on any (``model.stop_training`` set by a
        callback on some ranks only: every rank stops at the same epoch end)."""
        buf = np.array([1.0 if flag else 0.0])
        self.comm.allreduce(buf, what=f"{what} (agreeing on stop_training)")
        return bool(buf[0] > 0)

    def average_state(self, model: Any) -> None:
        """Replace every layer's non-trainable state (BatchNormalization's moving statistics,
        which each replica updates from its own rows) by its mean over the ranks, as Keras
        reads mirrored variables (aggregation MEAN): after each epoch every rank holds the
        same model for validation, ``evaluate``, ``predict`` and ``save``."""
        be = model.backend
        for layer in model.layers:
            for a in layer.state.values():
                host = np.ascontiguousarray(be.to_numpy(a), dtype=np.float64)
                self.comm.allreduce(host, what="fit (averaging the layers' moving statistics)")
                a[...] = be.asarray((host / self.world_size).astype(a.dtype))

    def begin_inference(self, model: Any, what: str, n: int, batch_size: int) -> None:
        """Before a distributed ``evaluate`` or ``predict`` of ``n`` rows: every rank must run
        the same call (else DistributionMismatchError on every rank), and every rank then holds
        rank 0's weights (ranks built with ``seed=None`` adopt rank 0's)."""
        check_inference(self.comm, model, what, n, batch_size)

    # ------------------------------------------------------------------ the trainer's seams
    def shard(self, start: int, stop: int) -> tuple[int, int]:
        """This rank's rows ``[lo, hi)`` of the global rows ``[start, stop)``."""
        return shard_bounds(start, stop, self.rank, self.world_size)

    def reseed_dropout(self, backend: Any, epoch_seed: list[int]) -> None:
        """Rank r > 0 draws its dropout masks from ``(seed, epoch, r)``: replicas must not
        drop the same units of their different rows; rank 0 keeps the one-process stream."""
        if self.rank:
            key = np.random.SeedSequence([*epoch_seed, self.rank]).generate_state(1)[0]
            backend.seed(int(key))

    def begin_fit(self, model: Any, feed: Any, settings: dict[str, Any]) -> None:
        """Before the first step: agree on the seed, check that every rank runs the same
        training, copy rank 0's weights and optimizer state to every rank."""
        comm = self.comm
        given = getattr(model, "_seed_given", True)
        seeds = comm.allgather_obj((given, model.seed), what="check of the fit call")
        if not any(g for g, _ in seeds):  # seed=None everywhere: all take rank 0's draw
            model.seed = seeds[0][1]
        self._check_same(model, feed, settings, weights=all(g for g, _ in seeds))
        self._broadcast_state(model)
        self._reducer_for(model)  # on GPUs: every rank joins the NCCL communicator here
        self._buckets_for(model)

    def train_step(self, model: Any, xb: Any, yb: Any, count: int) -> tuple[Any, list[Any]]:
        """One data-parallel step on this rank's rows ``xb, yb`` of a global batch of
        ``count`` rows; returns the global batch's loss and metric sums (as one process)."""
        be, xp = model.backend, model.backend.xp
        flat = model._flat_grads
        local = int(xb.shape[0])
        root = _root_mean(model.loss)
        stats = xp.zeros(len(model.metrics) + 1, dtype=np.float64)
        buckets = self._buckets_for(model)
        reducer = self._reducer_for(model)
        pending: list[Any] = []
        started = 0

        def on_layer(i: int) -> None:
            nonlocal started
            while started < len(buckets) and buckets[started].first_layer >= i:
                b = buckets[started]
                pending.append(reducer.iallreduce(flat[b.lo : b.hi]))
                started += 1
            reducer.poke(pending)

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if local:
                loss, grad, sums = model._loss_and_metrics(xb, yb, training=True)
                weight = local / count
                grad *= loss * weight if root else weight
                _fill_stats(stats, loss, sums, local, root)
            pending.append(reducer.iallreduce(stats))
            if local:
                model._backward(grad, on_layer=on_layer if self.overlap else None)
            else:
                flat[...] = 0
            if self.overlap:
                on_layer(-1)  # whatever backward did not reach (layers before the first trainable)
            elif flat.size:
                pending.append(reducer.iallreduce(flat))
            t0 = time.perf_counter()
            reducer.wait(pending, what="fit (summing a training step's gradients)")
            self.wait_seconds += time.perf_counter() - t0
            self.steps += 1
            total = _global_loss(xp, stats[0], count, root)
            if root:
                flat *= xp.where(total > 0, 1.0 / xp.maximum(total, 1e-300), 0.0).astype(flat.dtype)
            be.mark_nonfinite(total, model._nonfinite.array)
            model._apply_gradients()
        return total, [stats[j + 1] for j in range(len(model.metrics))]

    def eval_step(self, model: Any, xb: Any, yb: Any, count: int) -> tuple[Any, list[Any]]:
        """Inference loss and metric sums of a global batch of ``count`` rows, from this
        rank's rows ``xb, yb``; identical on every rank."""
        xp = model.backend.xp
        root = _root_mean(model.loss)
        stats = xp.zeros(len(model.metrics) + 1, dtype=np.float64)
        local = int(xb.shape[0])
        if local:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss, _, sums = model._loss_and_metrics(xb, yb, training=False)
                _fill_stats(stats, loss, sums, local, root)
        self._reducer_for(model).allreduce(stats, what="evaluate (summing a batch's loss)")
        return _global_loss(xp, stats[0], count, root), [
            stats[j + 1] for j in range(len(model.metrics))
        ]

    def gather_rows(self, local: np.ndarray, n: int) -> np.ndarray:
        """Every rank's predictions (rows ``shard(0, n)`` each) concatenated, on every rank."""
        return self.comm.allgatherv(
            np.asarray(local), shard_counts(n, self.world_size), what="predict (gathering rows)"
        )

    # ------------------------------------------------------------------ helpers
    def _reducer_for(self, model: Any) -> Any:
        """Sums host buffers with MPI, device buffers with NCCL (or through the host)."""
        if not hasattr(model._flat_grads, "__cuda_array_interface__"):
            return self.comm
        if self._device_reducer is None:
            from ._nccl import device_reducer

            self._device_reducer = device_reducer(self.comm)
        return self._device_reducer

    def _buckets_for(self, model: Any) -> list[_Bucket]:
        """The model's bucket plan, cut again whenever it has built a new gradient buffer
        (a bucket must never start before all of its gradients are written)."""
        plan = self._plans.get(model)
        if plan is None or plan[0] is not model._flat_grads:
            plan = self._plans[model] = (model._flat_grads, plan_buckets(model, self.bucket_bytes))
        return plan[1]

    def _fingerprint(
        self, model: Any, feed: Any, settings: dict[str, Any], weights: bool
    ) -> dict[str, str]:
        config = model.get_config()
        seed = config.pop("seed")
        be = model.backend
        layers = config.get("layers", [])
        out = {
            "architecture": f"{len(layers)} layers, {model._flat_params.size} weights, "
            + digest(json.dumps(config, sort_keys=True).encode()),
            "seed": str(seed) if getattr(model, "_seed_given", True) else "not given",
            "fit arguments": json.dumps({k: settings.get(k) for k in FIT_SETTINGS}, sort_keys=True),
        }
        if model.compiled:
            opt = model.optimizer
            out["compile"] = json.dumps(
                {
                    "loss": model.loss.name,
                    "metrics": [m.name for m in model.metrics],
                    "optimizer": opt.get_config(),
                    "iterations": opt.iterations,
                },
                sort_keys=True,
                default=str,
            )
        if weights:
            out["weights"] = digest(np.ascontiguousarray(be.to_numpy(model._flat_params)).tobytes())
        step = max(1, feed.n // 16)
        rows = [be.to_numpy(a[::step][:16]) for a in (feed.x, feed.y) if a is not None]
        out["data"] = f"{feed.n} rows, " + digest(
            b"".join(np.ascontiguousarray(r).tobytes() for r in rows)
        )
        return out

    def _check_same(self, model: Any, feed: Any, settings: dict[str, Any], weights: bool) -> None:
        prints = self.comm.allgather_obj(
            self._fingerprint(model, feed, settings, weights), what="check of the fit call"
        )
        problems = []
        for r, theirs in enumerate(prints[1:], start=1):
            diff = [k for k in prints[0] if theirs.get(k) != prints[0][k]]
            if diff:
                shown = "; ".join(
                    f"{k} (rank 0: {prints[0][k]}, rank {r}: {theirs.get(k)})" for k in diff
                )
                problems.append(f"rank {r} differs from rank 0 in {shown}")
        if problems:
            raise DistributionMismatchError(
                "DataParallel: the ranks do not run the same training at the first step: "
                + "; ".join(problems)
                + ". Every rank must build the same model with the same "
                "seed (Sequential(seed=...)), load the same data and call fit with the same "
                "arguments."
            )

    def _broadcast_state(self, model: Any) -> None:
        be = model.backend
        arrays = [model._flat_params]
        if model.optimizer is not None:
            arrays += [a for slots in model.optimizer.state for a in slots.values()]
            model.optimizer.iterations = self.comm.bcast_obj(model.optimizer.iterations)
        for a in arrays:
            host = np.ascontiguousarray(be.to_numpy(a))
            self.comm.bcast(host)
            a[...] = be.asarray(host)


def _root_mean(loss: Any) -> bool:
    from ..losses import RootMeanSquaredError

    return isinstance(loss, RootMeanSquaredError)


def _fill_stats(stats: Any, loss: Any, sums: list[Any], local: int, root: bool) -> None:
    """``stats = [n_r L_r (root mean: n_r L_r^2), *metric sums]``, in float64, on the device."""
    stats[0] = loss * loss if root else loss
    stats[0] *= local
    for j, s in enumerate(sums):
        stats[j + 1] = s


def _global_loss(xp: Any, weighted_sum: Any, count: int, root: bool) -> Any:
    mean = weighted_sum / count
    return xp.sqrt(mean) if root else mean
