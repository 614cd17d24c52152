"""The CUDA backend: CuPy arrays and cuBLAS matrix products; fused numba.cuda kernels.

* Arrays are CuPy arrays; ``matmul`` and every unfused op run through CuPy (cuBLAS).
* The fused ops (``CudaBackend.fused_ops``) run the numba.cuda kernels of
  :mod:`netcore.kernels`, compiled lazily once per dtype with explicit signatures and
  launched on CuPy's current stream, so they order correctly with cuBLAS without any
  device-wide or host synchronisation. The launch path (numba PTX launched through CuPy's
  ``RawModule``, or numba's own dispatch) is chosen in ONE place,
  :mod:`netcore.kernels._launch` (``NETCORE_CUDA_LAUNCH=raw|numba``): launch overhead is what
  bounds MNIST-sized steps, and the raw path costs the least host time per launch
  (measurements: benchmarks/results/kernel_notes.md). The raw path falls back to 'numba'
  per kernel (with a warning) if PTX loading fails.
* Losses come back as 0-d device arrays: nothing reaches the host on the training path.
  They are reduced on the device in one launch (per-block partial sums + last-block-done
  finish, deterministic), through a small scratch buffer owned by the backend: use one
  backend per stream.
* An optimizer update is two launches of one kernel: a check pass that raises the flag if
  any new value would be non-finite, then the write pass, which does nothing once the flag
  is set (a grid-wide "write nothing" needs the barrier between two launches).

Under ``NUMBA_ENABLE_CUDASIM=1`` it runs anywhere: arrays are NumPy arrays and the fused
ops run through numba's CUDA simulator (slow; for tests of the whole dispatch path), with
smaller blocks and grids so the simulator's one-thread-per-CUDA-thread stays quick.

Why this module is a little over 400 lines: the launch configuration of every fused op
(grid, block, scratch) sits beside the op that uses it, so a kernel's shape is read in one
place.
"""

from __future__ import annotations

import importlib
import math
import os
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError
from ..kernels._common import ACT_CODES, MAX_BLOCKS, MAX_ROW_BLOCKS, MAX_TPB, pow2_at_least
from ..kernels.optimizers import CHECK, WRITE
from ..kernels.spec import FLOATS, LABEL_DTYPES
from .base import _flag_raised
from .conv_fused import ConvKernels
from .fused import weights_or_placeholder
from .report import device_name


def simulator_enabled() -> bool:
    """True when numba's CUDA simulator is switched on for this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def probe() -> tuple[bool, str]:
    """Can the CUDA backend run here? Returns ``(ok, reason)``; never raises."""
    if simulator_enabled():
        try:
            from ..kernels._common import numpy_compat_for_numba_cuda

            numpy_compat_for_numba_cuda()
            from numba import cuda  # noqa: F401
        except ImportError as exc:
            return (
                False,
                f"NUMBA_ENABLE_CUDASIM=1 but numba's CUDA target is missing ({exc}); pip install numba-cuda",
            )
        return True, "numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    try:
        import cupy
    except ImportError as exc:
        return False, (
            f"CuPy is not installed ({exc}); install netcore[cuda12] or netcore[cuda13] "
            "to match your CUDA driver"
        )
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, driver too old, ...
        return False, f"CuPy is installed but the CUDA driver/runtime failed: {exc}"
    if n < 1:
        return False, "CuPy is installed but no CUDA device was found"
    try:
        from ..kernels._common import numpy_compat_for_numba_cuda

        numpy_compat_for_numba_cuda()
        from numba import cuda  # noqa: F401
    except ImportError as exc:
        return False, f"numba's CUDA target is missing ({exc}); pip install numba-cuda"
    try:
        name = device_name(cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id))
    except Exception as exc:
        return False, f"a CUDA device was found but could not be used: {exc}"
    return True, name


class CudaBackend(ConvKernels):
    """CuPy + numba.cuda. Create through :func:`netcore.get_backend` ("cuda")."""

    name = "cuda"

    def __init__(self, seed: int | None = None) -> None:
        ok, reason = probe()
        if not ok:
            raise BackendUnavailableError(f"backend 'cuda' is unavailable: {reason}")
        self.device_name = reason
        self.simulated = simulator_enabled()
        # NumPy under the simulator, else CuPy (imported only here: it may be absent)
        xp: Any = importlib.import_module("numpy" if self.simulated else "cupy")
        super().__init__(xp, seed)
        self.host_arrays = self.simulated
        from ..kernels._launch import KernelSet

        # Imports numba.cuda and binds the kernels; compiles nothing (first use per dtype).
        self.kernels = KernelSet(self.simulated)
        self.launch_path = self.kernels.path
        if self.simulated:  # the simulator runs one Python thread per CUDA thread
            import sys

            # Its block manager polls those threads while they wait at barriers, and each
            # syncthreads() waits for a GIL switch: a 0.1 ms interval instead of the default
            # 5 ms keeps simulated kernels fast (a test-only mode, so the global tweak is fine).
            sys.setswitchinterval(min(sys.getswitchinterval(), 1e-4))
            self._tpb, self._max_grid, self._bwd_block, self._red_tpb = 32, 4, (8, 4), 4
            self._tile_block = (8, 4)
        else:
            self._tpb, self._max_grid, self._bwd_block, self._red_tpb = 256, 8192, (32, 16), MAX_TPB
            self._tile_block = (32, 8)  # forward tiles: 256 threads, one warp per row
        # Reused device buffers: reduction scratch, placeholders for absent arguments.
        self._partial = xp.zeros(MAX_BLOCKS, dtype=np.float64)
        self._counter = xp.zeros(1, dtype=np.int32)  # last-block ticket; kernels reset it
        self._flag_scratch = xp.zeros(1, dtype=np.int32)
        self._nolabels = xp.zeros(1, dtype=np.int64)
        self._dummy = {dt.name: xp.zeros(1, dtype=dt) for dt in FLOATS}
        self._grids: dict[tuple, Any] = {}  # cached launch configurations
        self._col_bufs: dict[int, tuple[Any, Any]] = {}
        self._max_row_chunks = 3 if self.simulated else 64

    def describe(self) -> str:
        if self.simulated:
            return "cuda (SIMULATED: numba CUDA simulator on the CPU, NumPy arrays)"
        import cupy

        return (
            f"cuda ({self.device_name}, CuPy {cupy.__version__}, "
            f"fused kernels: numba.cuda via {self.launch_path!r} launch)"
        )

    def to_numpy(self, x: Any) -> Any:
        if self.simulated:
            return np.asarray(x)
        import cupy

        return cupy.asnumpy(x)

    def synchronize(self) -> None:
        if not self.simulated:
            import cupy

            cupy.cuda.get_current_stream().synchronize()

    def fits_on_device(self, nbytes: int) -> bool:
        """A data set may live on the GPU for a whole ``fit`` if it takes at most half of the
        free device memory (CuPy's pool counts as free: it is ours to reuse)."""
        if self.simulated:
            return True
        import cupy

        free, _ = cupy.cuda.Device().mem_info
        pool = cupy.get_default_memory_pool()
        return nbytes <= 0.5 * (free + pool.free_bytes())

    def _launch(self, name: str, units: int, *args: Any) -> None:
        """Conv/pool/batch-norm kernels: one thread per work unit, grid-stride."""
        grid, block = self._grid1(units)
        self.kernels.get(name, args[0].dtype.name)(grid, block, *args)

    def _launch_columns(self, name: str, m: int, c: int, *args: Any) -> None:
        """Per-channel sums: channel tiles x row chunks, their partials and tickets."""
        grid, block = self._grid_cols(m, c)
        part = self._scratch("col_sums", (2 * self._max_row_chunks, c), np.float64)
        tickets = self._scratch("col_tickets", (grid[0],), np.int32)
        self.kernels.get(name, args[0].dtype.name)(grid, block, *args, part, tickets)

    # ------------------------------------------------------------------ launch configurations
    def _grid1(self, n: int) -> tuple[tuple[int], tuple[int]]:
        """Grid-stride element-wise launch over ``n`` items."""
        cfg = self._grids.get(("1d", n))
        if cfg is None:
            blocks = max(1, min(math.ceil(n / self._tpb), self._max_grid))
            cfg = self._grids[("1d", n)] = ((blocks,), (self._tpb,))
        return cfg

    def _grid_tiles(self, n: int, c: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """2-D element-wise launch: column tiles of one warp width x row lanes, rows
        grid-strided (each thread walks >= 4 rows, 4 at a time); at most ``_max_grid`` blocks."""
        cfg = self._grids.get(("tiles", n, c))
        if cfg is None:
            bx, by = self._tile_block
            gx = math.ceil(c / bx)
            gy = max(1, min(math.ceil(n / (4 * by)), self._max_grid // gx, 65535))
            cfg = self._grids[("tiles", n, c)] = ((gx, gy), (bx, by))
        return cfg

    def _grid_rows(self, n: int, c: int) -> tuple[tuple[int], tuple[int]]:
        """One block per row (grid-strided), threads striding over the row's ``c`` columns."""
        cfg = self._grids.get(("rows", n, c))
        if cfg is None:
            tpb = (
                pow2_at_least(c, 32, self._red_tpb)
                if not self.simulated
                else pow2_at_least(c, 1, self._red_tpb)
            )
            # MAX_ROW_BLOCKS, not one block per row: measured the same at 8192x4096 (H100,
            # 337 vs 336 us), with 8x fewer last-block tickets.
            blocks = max(1, min(n, MAX_ROW_BLOCKS if not self.simulated else self._max_grid))
            cfg = self._grids[("rows", n, c)] = ((blocks,), (tpb,))
        return cfg

    def _grid_reduce(self, n: int) -> tuple[tuple[int], tuple[int]]:
        """Element-wise with a grid-wide sum (at most MAX_BLOCKS partials); each thread
        takes >= 4 elements (the kernel walks them 4 at a time)."""
        cfg = self._grids.get(("red", n))
        if cfg is None:
            tpb = self._red_tpb
            blocks = max(1, min(math.ceil(n / (4 * tpb)), MAX_BLOCKS, self._max_grid))
            cfg = self._grids[("red", n)] = ((blocks,), (tpb,))
        return cfg

    def _grid_cols(self, n: int, c: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Column tiles x row chunks (each thread walks ~8 rows of its chunk)."""
        cfg = self._grids.get(("cols", n, c))
        if cfg is None:
            bx, by = self._bwd_block
            chunks = max(1, min(math.ceil(n / (8 * by)), self._max_row_chunks))
            cfg = self._grids[("cols", n, c)] = ((math.ceil(c / bx), chunks), (bx, by))
        return cfg

    def _col_scratch(self, c: int) -> tuple[Any, Any]:
        """Per-width scratch of the backward kernel: chunk partials and per-tile tickets."""
        buf = self._col_bufs.get(c)
        if buf is None:
            xp = self.xp
            buf = self._col_bufs[c] = (
                xp.zeros((self._max_row_chunks, c), dtype=np.float64),
                xp.zeros(math.ceil(c / self._bwd_block[0]), dtype=np.int32),
            )
        return buf

    # ------------------------------------------------------------------ activations
    def bias_act(self, z: Any, b: Any, activation: str, out: Any = None) -> Any:
        code = ACT_CODES.get(activation)
        if (
            code is None
            or getattr(z, "ndim", 0) != 2
            or (b is None and code == 0)
            or not (
                self._fusable(z)
                if b is None
                else (b.shape == (z.shape[1],) and self._fusable(z, b))
            )
            or z.size == 0
        ):
            return super().bias_act(z, b, activation, out=out)
        dst = out if out is not None else (z if b is None else self.xp.empty_like(z))
        if dst.shape != z.shape or not self._fusable(z, dst):
            return super().bias_act(z, b, activation, out=out)
        grid, block = self._grid_tiles(*z.shape)
        self.kernels.get("bias_act_fwd", z.dtype.name)(
            grid,
            block,
            z,
            self._dummy[z.dtype.name] if b is None else b,
            dst,
            code,
            int(b is not None),
        )
        return dst

    def bias_act_grad(
        self,
        dy: Any,
        y: Any,
        activation: str,
        dz_out: Any = None,
        db_out: Any = None,
        need_db: bool = True,
    ) -> tuple[Any, Any]:
        code = ACT_CODES.get(activation)
        if (
            code is None
            or getattr(dy, "ndim", 0) != 2
            or y.shape != dy.shape
            or not self._fusable(dy, y)
            or dy.size == 0
            or (code == 0 and not need_db)
        ):
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        xp = self.xp
        dz = dz_out if dz_out is not None else (dy if code == 0 else xp.empty_like(dy))
        db = (
            (db_out if db_out is not None else xp.empty(dy.shape[1], dy.dtype)) if need_db else None
        )
        if (
            dz.shape != dy.shape
            or not self._fusable(dy, dz)
            or (db is not None and (db.shape != (dy.shape[1],) or not self._fusable(dy, db)))
        ):
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        grid, block = self._grid_cols(*dy.shape)
        partial, tickets = self._col_scratch(dy.shape[1])
        self.kernels.get("bias_act_bwd", dy.dtype.name)(
            grid,
            block,
            dy,
            y,
            dz,
            self._dummy[dy.dtype.name] if db is None else db,
            code,
            int(bool(need_db)),
            partial,
            tickets,
        )
        return dz, db

    # ------------------------------------------------------------------ fused heads
    def softmax_xent(
        self, logits: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        z = logits
        if (
            getattr(z, "ndim", 0) != 2
            or z.size == 0
            or not hasattr(target, "ndim")
            or not self._fusable(z)
        ):
            return super().softmax_xent(logits, target, grad_out, sample_weight)
        xp = self.xp
        grad = grad_out if grad_out is not None else xp.empty_like(z)
        wh = weights_or_placeholder(self, sample_weight, z.shape[0], z, self._dummy[z.dtype.name])
        if wh is None or grad.shape != z.shape or not self._fusable(z, grad):
            return super().softmax_xent(logits, target, grad_out, sample_weight)
        if target.ndim == 1:
            if target.dtype.kind not in "iu" or target.shape != (z.shape[0],):
                return super().softmax_xent(logits, target, grad_out, sample_weight)
            labels = target if target.dtype in LABEL_DTYPES else target.astype(np.int64)
            t, sparse = z, 1  # t: unused placeholder of the right type
        else:
            if target.shape != z.shape or not self._fusable(z, target):
                return super().softmax_xent(logits, target, grad_out, sample_weight)
            labels, t, sparse = self._nolabels, target, 0
        loss = xp.empty((), dtype=z.dtype)
        grid, block = self._grid_rows(*z.shape)
        # the 0-d loss goes as a 1-element 1-D parameter (_launch._as_ndim)
        self.kernels.get("softmax_xent", z.dtype.name, labels.dtype.name)(
            grid,
            block,
            z,
            t,
            labels,
            sparse,
            wh[0],
            wh[1],
            grad,
            loss,
            self._partial,
            self._counter,
        )
        return loss, grad

    def sigmoid_bce(
        self, logits: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        z = logits
        if (
            getattr(z, "ndim", 0) == 0
            or getattr(target, "shape", None) != z.shape
            or z.size == 0
            or not self._fusable(z, target)
        ):
            return super().sigmoid_bce(logits, target, grad_out, sample_weight)
        xp = self.xp
        grad = grad_out if grad_out is not None else xp.empty_like(z)
        wh = weights_or_placeholder(self, sample_weight, z.shape[0], z, self._dummy[z.dtype.name])
        if (
            wh is None
            or grad.shape != z.shape
            or not self._fusable(z, grad)
            or not z.flags.c_contiguous
            or not target.flags.c_contiguous
            or not grad.flags.c_contiguous
        ):
            return super().sigmoid_bce(logits, target, grad_out, sample_weight)
        loss = xp.empty((), dtype=z.dtype)
        grid, block = self._grid_reduce(z.size)
        # 1-D kernel parameters take the C-contiguous arrays (and the 0-d loss) as their
        # flat views without a reshape call each (kernels._launch._as_ndim).
        self.kernels.get("sigmoid_bce", z.dtype.name)(
            grid,
            block,
            z,
            target,
            wh[0],
            wh[1],
            grad,
            loss,
            z.size // z.shape[0],
            float(z.size),
            1.0 / z.size,
            self._partial,
            self._counter,
        )
        return loss, grad

    # ------------------------------------------------------------------ optimizer updates
    def _update(self, name: str, skip: Any, p: Any, *args: Any) -> None:
        # A device flag is read and written by the kernels. A host (NumPy) flag costs nothing
        # to read; it and an absent flag go through the device scratch flag.
        device_flag = skip is not None and (self.simulated or not isinstance(skip, np.ndarray))
        if device_flag and skip.dtype == np.int32 and skip.ndim == 1:
            flag = skip
        else:
            if skip is not None and not device_flag and _flag_raised(skip):
                return
            flag = self._flag_scratch
            flag[...] = (
                0 if skip is None or not device_flag else skip.reshape(-1)[:1].astype(np.int32)
            )
        grid, block = self._grid1(p.size)
        launch = self.kernels.get(name, p.dtype.name)  # scalars: converted by the launcher
        launch(grid, block, flag, p, *args, CHECK)
        launch(grid, block, flag, p, *args, WRITE)
        if flag is not skip and skip is not None:
            code = int(flag[0])  # a host or converted flag: read back (not the training path)
            if code:
                skip[...] = code
