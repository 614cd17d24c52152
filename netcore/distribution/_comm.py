"""Communicators: who the other processes are and how host buffers are summed across them.

``LocalComm`` is the world of one process (no MPI needed); ``MPIComm`` wraps an mpi4py
communicator. Both sum NumPy buffers in place, blocking (``allreduce``) or non-blocking
(``iallreduce`` + ``wait``); ``poke`` lets MPI advance the pending reductions while the
caller computes (MPICH without an asynchronous progress thread moves a message only inside
an MPI call, so the backward pass calls it between layers).

Every collective names the operation it serves (``what``: "fit", "evaluate", "predict",
"check", ...). Each operation has a communicator of its own, so a collective of one never
matches a collective of another (rank 0 in ``evaluate`` while rank 1 trains on is a stall,
not a wrong sum), and every wait goes through :class:`._stall.StallWatch`, which reports a
collective that not every rank entered and ends the job after ``timeout_s``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._faults import announce_and_abort
from ._stall import StallWatch

#: the operations whose collectives have a communicator each ("other": anything else)
OPERATIONS = ("fit", "evaluate", "predict", "check", "barrier", "other")

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

    def allreduce(self, buf: np.ndarray, what: str = "fit") -> None:
        """Sum ``buf`` over the ranks, in place (one rank: nothing to do)."""

    def iallreduce(self, buf: np.ndarray, what: str = "fit") -> Any:
        return None

    def poke(self, pending: list[Any]) -> None:
        """Let pending reductions progress."""

    def wait(self, pending: list[Any], what: str = "fit") -> None:
        """Block until every pending reduction is complete."""

    def bcast(self, buf: np.ndarray, root: int = 0, what: str = "check") -> None:
        """Overwrite ``buf`` with rank ``root``'s contents."""

    def bcast_obj(self, obj: Any, root: int = 0, what: str = "check") -> Any:
        return obj

    def allgather_obj(self, obj: Any, what: str = "check") -> list[Any]:
        return [obj]

    def allgatherv(self, local: np.ndarray, counts: list[int], what: str = "predict") -> np.ndarray:
        """Concatenate every rank's rows (``counts[r]`` rows from rank r) on every rank."""
        return local

    def barrier(self, what: str = "barrier") -> None:
        """Wait until every rank reaches this point."""

    def set_patience(self, stall_s: float, timeout_s: float | None) -> None:
        """Seconds of waiting in a collective before a stall report, and before the job ends."""

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
        # one communicator per operation (collectives of different operations never match)
        self._channels = {name: self.comm.Dup() for name in OPERATIONS}
        self.watch = StallWatch(MPI, self.comm.Dup(), self._abort_with)

    def _on(self, what: str) -> Any:
        """The communicator of ``what``'s first word ("check of the evaluate call": check)."""
        return self._channels.get(what.split()[0], self._channels["other"])

    def _abort_with(self, text: str, code: int) -> None:
        announce_and_abort(self, text, code)

    def set_patience(self, stall_s: float, timeout_s: float | None) -> None:
        self.watch.stall_s, self.watch.timeout_s = stall_s, timeout_s

    def allreduce(self, buf: np.ndarray, what: str = "fit") -> None:
        self.watch.wait([self.iallreduce(buf, what)], what)

    def iallreduce(self, buf: np.ndarray, what: str = "fit") -> Any:
        return self._on(what).Iallreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)

    def poke(self, pending: list[Any]) -> None:
        if pending:
            self.MPI.Request.Testall(pending)

    def wait(self, pending: list[Any], what: str = "fit") -> None:
        if pending:
            self.watch.wait(pending, what)

    def bcast(self, buf: np.ndarray, root: int = 0, what: str = "check") -> None:
        self.watch.wait([self._on(what).Ibcast(buf, root=root)], what)

    def bcast_obj(self, obj: Any, root: int = 0, what: str = "check") -> Any:
        self.barrier(what)  # every rank is here: the pickled broadcast cannot stall
        return self._on(what).bcast(obj, root=root)

    def allgather_obj(self, obj: Any, what: str = "check") -> list[Any]:
        self.barrier(what)
        return self._on(what).allgather(obj)

    def allgatherv(self, local: np.ndarray, counts: list[int], what: str = "predict") -> np.ndarray:
        local = np.ascontiguousarray(local)
        row = int(np.prod(local.shape[1:]))
        out = np.empty((sum(counts), *local.shape[1:]), dtype=local.dtype)
        sizes = [c * row for c in counts]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        request = self._on(what).Iallgatherv(local.reshape(-1), [out.reshape(-1), (sizes, offsets)])
        self.watch.wait([request], what)
        return out

    def barrier(self, what: str = "barrier") -> None:
        self.watch.wait([self._on(what).Ibarrier()], what)

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
