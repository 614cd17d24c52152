"""Data-parallel training across processes, GPUs and hosts (MPI via mpi4py; NCCL on GPUs).

Keras 3's names::

    from netcore.distribution import DataParallel, set_distribution
    set_distribution(DataParallel())          # or: with DataParallel().scope(): ...
    model.fit(x, y, batch_size=128, epochs=2) # the same call as in one process

and launch with ``mpiexec -n 4 python train.py``. Every rank loads the same data and builds
the same model with the same seed; each global batch of ``batch_size`` rows (the one a single
process would use) is split across the ranks and the gradients are summed, so the weights
follow the one-process run up to summation order. Outside ``mpiexec`` the world is this
process alone and mpi4py is not needed. See ``docs/distributed.md``.
"""

from __future__ import annotations

from typing import Any

from ._comm import LocalComm, MPIComm, launched_by_mpi
from ._current import active, distribution, get_distribution, is_chief, set_current
from ._data_parallel import DataParallel, DistributionMismatchError, plan_buckets
from ._shard import shard_bounds, shard_counts, shard_weight

__all__ = [
    "DataParallel",
    "DistributionMismatchError",
    "set_distribution",
    "get_distribution",
    "distribution",
    "active",
    "is_chief",
    "launched_by_mpi",
    "shard_bounds",
    "shard_counts",
    "shard_weight",
    "LocalComm",
    "MPIComm",
    "plan_buckets",
    "begin_inference",
    "end_job_for",
]


def set_distribution(value: DataParallel | None) -> None:
    """Make ``value`` the distribution ``fit``/``evaluate``/``predict`` use (None: one process)."""
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            f"distribution must be a netcore.distribution.DataParallel or None, received {value!r}"
        )
    set_current(value)


def begin_inference(model: Any, what: str, n: int, batch_size: int) -> None:
    """Under a multi-process distribution: every rank makes the same ``evaluate``/``predict``
    call and holds rank 0's weights (:meth:`DataParallel.begin_inference`); else nothing."""
    dist = active()
    if dist is not None:
        dist.begin_inference(model, what, n, batch_size)


def end_job_for(exc: BaseException, what: str) -> None:
    """Under a multi-process distribution, this rank leaving ``what`` by ``exc`` (``SystemExit``,
    ``KeyboardInterrupt``) ends every rank's job (:meth:`DataParallel.end_job_for`)."""
    dist = active()
    if dist is not None:
        dist.end_job_for(exc, what)
