"""Sums of CuPy device buffers across ranks: NCCL when every rank has it, else host staging.

``NcclReducer``: rank 0 draws the NCCL id, MPI broadcasts it, every rank joins one NCCL
communicator. Each reduction runs on a side stream that first waits for the compute stream's
work queued so far (the layer's backward that wrote the bucket), so the backward of earlier
layers goes on meanwhile; ``wait`` makes the compute stream wait for the side stream (the
host never blocks). ``StagingReducer`` copies to the host, sums with MPI, copies back.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import numpy as np

from ._comm import LocalComm

logger = logging.getLogger("netcore")


class NcclReducer:
    """In-place sums of device buffers over an NCCL communicator (one GPU per rank)."""

    name = "nccl"

    def __init__(self, comm: LocalComm) -> None:
        import cupy
        from cupy.cuda import nccl

        self.cupy, self.nccl = cupy, nccl
        uid = nccl.get_unique_id() if comm.rank == 0 else None
        self.comm = nccl.NcclCommunicator(comm.size, comm.bcast_obj(uid), comm.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.types = {
            np.dtype(np.float32): nccl.NCCL_FLOAT32,
            np.dtype(np.float64): nccl.NCCL_FLOAT64,
        }

    def iallreduce(self, buf: Any, what: str = "fit") -> Any:
        ready = self.cupy.cuda.get_current_stream().record()
        self.stream.wait_event(ready)
        self.comm.allReduce(
            buf.data.ptr,
            buf.data.ptr,
            buf.size,
            self.types[buf.dtype],
            self.nccl.NCCL_SUM,
            self.stream.ptr,
        )
        return buf

    def poke(self, pending: list[Any]) -> None:
        """NCCL progresses on its own stream."""

    def wait(self, pending: list[Any], what: str = "fit") -> None:
        if pending:
            self.cupy.cuda.get_current_stream().wait_event(self.stream.record())

    def allreduce(self, buf: Any, what: str = "fit") -> None:
        self.wait([self.iallreduce(buf)])


class StagingReducer:
    """Device buffers summed through host copies and MPI (blocking, no overlap)."""

    name = "host staging"

    def __init__(self, comm: LocalComm) -> None:
        self.host = comm

    def allreduce(self, buf: Any, what: str = "fit") -> None:
        host = np.ascontiguousarray(buf.get())
        self.host.allreduce(host, what=what)
        buf.set(host)

    def iallreduce(self, buf: Any, what: str = "fit") -> Any:
        self.allreduce(buf, what)
        return None

    def poke(self, pending: list[Any]) -> None:
        """Nothing is pending: each reduction completed when it was started."""

    def wait(self, pending: list[Any], what: str = "fit") -> None:
        """Nothing is pending."""


def _nccl_missing() -> str | None:
    """Why this process cannot use NCCL through CuPy, or None."""
    try:
        from cupy.cuda import nccl
    except ImportError as exc:
        return f"CuPy's NCCL module does not load ({exc})"
    if not nccl.available:
        return "this CuPy has no NCCL: pip install nvidia-nccl-cu12 (or -cu13)"
    return None


def _this_gpu() -> tuple[str, str]:
    import cupy

    return socket.gethostname(), str(cupy.cuda.Device().pci_bus_id)


def device_reducer(comm: LocalComm) -> NcclReducer | StagingReducer:
    """NCCL when every rank has it and a GPU of its own, else host staging on every rank (the
    choice must be the same everywhere: the two speak different collectives); one log line."""
    info = comm.allgather_obj((_nccl_missing(), _this_gpu()))
    why = [f"rank {r}: {reason}" for r, (reason, _) in enumerate(info) if reason]
    gpus = [gpu for _, gpu in info]
    if len(set(gpus)) < len(gpus):
        why.append("ranks share a GPU (NCCL takes one GPU per rank)")
    reducer: NcclReducer | StagingReducer | None = None
    if not why:
        failed = None
        try:
            reducer = NcclReducer(comm)
        except RuntimeError as exc:  # cupy's NcclError
            failed = f"rank {comm.rank}: {exc}"
        failures = [f for f in comm.allgather_obj(failed) if f]
        if failures:
            why, reducer = failures[:2], None
    if reducer is not None:
        logger.info("netcore: gradients summed with NCCL on the GPU (%d ranks)", comm.size)
        return reducer
    logger.warning(
        "netcore: NCCL not used (%s); gradients summed through host memory with "
        "MPI (slower, no overlap)",
        "; ".join(why[:2]),
    )
    return StagingReducer(comm)
