"""Sums of CuPy device buffers across ranks: NCCL when CuPy has it, host staging otherwise.

``NcclReducer``: rank 0 draws the NCCL id, MPI broadcasts it, every rank joins one NCCL
communicator. Each reduction runs on a side stream that first waits for the compute stream's
work queued so far (the layer's backward that wrote the bucket), so the backward of earlier
layers goes on meanwhile; ``wait`` makes the compute stream wait for the side stream (the
host never blocks). ``StagingReducer`` copies to the host, sums with MPI, copies back.
"""

from __future__ import annotations

import logging
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

        if not nccl.available:  # CuPy imports without NCCL; its functions are then missing
            raise ImportError("this CuPy has no NCCL: pip install nvidia-nccl-cu12 (or -cu13)")
        self.cupy, self.nccl = cupy, nccl
        uid = nccl.get_unique_id() if comm.rank == 0 else None
        self.comm = nccl.NcclCommunicator(comm.size, comm.bcast_obj(uid), comm.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.types = {
            np.dtype(np.float32): nccl.NCCL_FLOAT32,
            np.dtype(np.float64): nccl.NCCL_FLOAT64,
        }

    def iallreduce(self, buf: Any) -> Any:
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

    def wait(self, pending: list[Any]) -> None:
        if pending:
            self.cupy.cuda.get_current_stream().wait_event(self.stream.record())

    def allreduce(self, buf: Any) -> None:
        self.wait([self.iallreduce(buf)])


class StagingReducer:
    """Device buffers summed through host copies and MPI (blocking, no overlap)."""

    name = "host staging"

    def __init__(self, comm: LocalComm) -> None:
        self.host = comm

    def allreduce(self, buf: Any) -> None:
        host = np.ascontiguousarray(buf.get())
        self.host.allreduce(host)
        buf.set(host)

    def iallreduce(self, buf: Any) -> Any:
        self.allreduce(buf)
        return None

    def poke(self, pending: list[Any]) -> None:
        """Nothing is pending: each reduction completed when it was started."""

    def wait(self, pending: list[Any]) -> None:
        """Nothing is pending."""


def device_reducer(comm: LocalComm) -> NcclReducer | StagingReducer:
    """NCCL if CuPy's bindings load and the communicator forms, else host staging; one log line."""
    try:
        reducer: NcclReducer | StagingReducer = NcclReducer(comm)
        logger.info("netcore: gradients summed with NCCL on the GPU (%d ranks)", comm.size)
    except (ImportError, AttributeError, RuntimeError) as exc:
        reducer = StagingReducer(comm)
        logger.warning(
            "netcore: NCCL unavailable (%s: %s); gradients summed through host "
            "memory with MPI (slower, no overlap)",
            type(exc).__name__,
            exc,
        )
    return reducer
