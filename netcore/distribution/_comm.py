"""Communicators: who the other processes are and how host buffers are summed across them.

``LocalComm`` is the world of one process (no MPI needed); ``MPIComm`` wraps an mpi4py
communicator. Both sum NumPy buffers in place, blocking (``allreduce``) or non-blocking
(``iallreduce`` + ``wait``); ``poke`` lets MPI advance the pending reductions while the
caller computes (MPICH without an asynchronous progress thread moves a message only inside
an MPI call, so the backward pass calls it between layers).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

#: environment variables set by MPI launchers (MPICH/Hydra, Open MPI, PMIx, Slurm's PMI)
LAUNCHER_VARIABLES = (
    "PMI_RANK",
    "PMI_SIZE",
    "OMPI_COMM_WORLD_SIZE",
    "PMIX_RANK",
    "MPI_LOCALNRANKS",
    "HYDI_CONTROL_FD",
)


def launched_by_mpi() -> bool:
    """Does this process run under ``mpiexec`` (or another MPI launcher)?"""
    return any(v in os.environ for v in LAUNCHER_VARIABLES)


class LocalComm:
    """The world of one process: every collective is the identity."""

    name = "local"
    rank = 0
    size = 1
    local_rank = 0

    def allreduce(self, buf: np.ndarray) -> None:
        """Sum ``buf`` over the ranks, in place (one rank: nothing to do)."""

    def iallreduce(self, buf: np.ndarray) -> Any:
        return None

    def poke(self, pending: list[Any]) -> None:
        """Let pending reductions progress."""

    def wait(self, pending: list[Any]) -> None:
        """Block until every pending reduction is complete."""

    def bcast(self, buf: np.ndarray, root: int = 0) -> None:
        """Overwrite ``buf`` with rank ``root``'s contents."""

    def bcast_obj(self, obj: Any, root: int = 0) -> Any:
        return obj

    def allgather_obj(self, obj: Any) -> list[Any]:
        return [obj]

    def allgatherv(self, local: np.ndarray, counts: list[int]) -> np.ndarray:
        """Concatenate every rank's rows (``counts[r]`` rows from rank r) on every rank."""
        return local

    def barrier(self) -> None:
        """Wait until every rank reaches this point."""

    def abort(self, code: int = 1) -> None:
        os._exit(code)


class MPIComm(LocalComm):
    """An mpi4py communicator (``MPI.COMM_WORLD`` unless one is given)."""

    name = "mpi"

    def __init__(self, comm: Any = None) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        # ranks on the same host: the index used to pick a GPU (CUDA_VISIBLE_DEVICES)
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = node.Get_rank()
        node.Free()

    def allreduce(self, buf: np.ndarray) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)

    def iallreduce(self, buf: np.ndarray) -> Any:
        return self.comm.Iallreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)

    def poke(self, pending: list[Any]) -> None:
        if pending:
            self.MPI.Request.Testall(pending)

    def wait(self, pending: list[Any]) -> None:
        if pending:
            self.MPI.Request.Waitall(pending)

    def bcast(self, buf: np.ndarray, root: int = 0) -> None:
        self.comm.Bcast(buf, root=root)

    def bcast_obj(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def allgather_obj(self, obj: Any) -> list[Any]:
        return self.comm.allgather(obj)

    def allgatherv(self, local: np.ndarray, counts: list[int]) -> np.ndarray:
        local = np.ascontiguousarray(local)
        row = int(np.prod(local.shape[1:]))
        out = np.empty((sum(counts), *local.shape[1:]), dtype=local.dtype)
        sizes = [c * row for c in counts]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        self.comm.Allgatherv(local.reshape(-1), [out.reshape(-1), (sizes, offsets)])
        return out

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)


def world_communicator() -> LocalComm:
    """``MPIComm`` when launched by ``mpiexec``, else the one-process world.

    Outside a launcher mpi4py is not imported at all (it need not be installed); under one
    its absence is an error, since N copies of a one-process run would each train alone.
    """
    if not launched_by_mpi():
        return LocalComm()
    try:
        return MPIComm()
    except ImportError as exc:
        raise ImportError(
            "this process runs under mpiexec but mpi4py cannot be imported "
            f"({exc}); install the MPI extra: pip install 'netcore[mpi]'"
        ) from None
