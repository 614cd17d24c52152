"""The CUDA backend: CuPy arrays and cuBLAS matrix products; fused numba.cuda kernels.

* Arrays are CuPy arrays; ``matmul`` and every unfused op run through CuPy (cuBLAS).
* The fused ops (``CudaBackend.fused_ops``) run the numba.cuda kernels of
  :mod:`netcore.kernels`, compiled lazily once per dtype with explicit signatures and
  launched on CuPy's current stream, so they order correctly with cuBLAS without any
  device-wide or host synchronisation. The launch path (numba PTX launched through CuPy's
  ``RawModule``, or numba's own dispatch) is chosen in ONE place,
  :mod:`netcore.kernels._launch` (``NETCORE_CUDA_LAUNCH=raw|numba``).
* Launch overhead (what bounds MNIST-sized steps): the default 'raw' path hands numba's PTX to
  CuPy and launches with CuPy's own ``RawKernel`` call, its arguments as memoised CuPy
  argument boxes (no numba dispatcher, no DeviceNDArray wrapping, no stream object, no
  per-argument conversion); 'numba' keeps numba's launcher with zero-copy
  ``as_cuda_array(sync=False)`` views on ``external_stream(<CuPy's stream>)``. Measured on an
  H100 (benchmarks/results/device_check_h100_v3.md): a bare raw launch 9.4 us of host time,
  a CuPy ElementwiseKernel 8.9 us, numba's path 113 us, numba's plain dispatch 49 us; backend
  ops 14-20 us (bias_act, optimizers) to 39-47 us (softmax/sigmoid heads, before their
  reshape calls were dropped). The raw path falls back to 'numba' per kernel (with a
  warning) if PTX loading fails.
* Losses come back as 0-d device arrays: nothing reaches the host on the training path.
  They are reduced on the device in one launch (per-block partial sums + last-block-done
  finish, deterministic), through a small scratch buffer owned by the backend: use one
  backend per stream.

Under ``NUMBA_ENABLE_CUDASIM=1`` it runs anywhere: arrays are NumPy arrays and the fused
ops run through numba's CUDA simulator (slow; for tests of the whole dispatch path), with
smaller blocks and grids so the simulator's one-thread-per-CUDA-thread stays quick.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError
from ..kernels._common import ACT_CODES, MAX_BLOCKS, MAX_ROW_BLOCKS, MAX_TPB, pow2_at_least
from .base import Backend, _skipped
from .report import device_name

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_I32, _I64 = np.dtype(np.int32), np.dtype(np.int64)
_FUSED_OPS = ("bias_act", "bias_act_grad", "softmax_xent", "sigmoid_bce", "sgd_update",
              "adam_update", "rmsprop_update", "adagrad_update")


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
            return False, f"NUMBA_ENABLE_CUDASIM=1 but numba's CUDA target is missing ({exc}); pip install numba-cuda"
        return True, "numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    try:
        import cupy
    except ImportError as exc:
        return False, (f"CuPy is not installed ({exc}); install netcore[cuda12] or netcore[cuda13] "
                       "to match your CUDA driver")
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


class CudaBackend(Backend):
    """CuPy + numba.cuda. Create through :func:`netcore.get_backend` ("cuda")."""

    name = "cuda"
    fused_ops: tuple[str, ...] = _FUSED_OPS

    def __init__(self, seed: int | None = None) -> None:
        ok, reason = probe()
        if not ok:
            raise BackendUnavailableError(f"backend 'cuda' is unavailable: {reason}")
        self.device_name = reason
        self.simulated = simulator_enabled()
        if self.simulated:
            import numpy as xp
        else:
            import cupy as xp
        super().__init__(xp, seed)
        from ..kernels._launch import KernelSet

        # Imports numba.cuda and binds the kernels; compiles nothing (first use per dtype).
        self.kernels = KernelSet(self.simulated)
        self.launch_path = self.kernels.path
        if self.simulated:  # the simulator runs one Python thread per CUDA thread
            import sys

            # Its block manager polls those threads while they wait at barriers; with the
            # default 5 ms GIL switch interval every syncthreads() costs ~ms. 0.1 ms: ~15x
            # faster kernels (simulation is a test-only mode, so the global tweak is fine).
            sys.setswitchinterval(min(sys.getswitchinterval(), 1e-4))
            self._tpb, self._max_grid, self._bwd_block, self._red_tpb = 32, 4, (8, 4), 4
            self._tile_block = (8, 4)
        else:
            self._tpb, self._max_grid, self._bwd_block, self._red_tpb = 256, 8192, (32, 16), MAX_TPB
            self._tile_block = (32, 8)  # forward tiles: 256 threads, one warp per row
        # Reused device buffers: reduction scratch, placeholders for absent arguments.
        self._partial = xp.zeros(MAX_BLOCKS, dtype=np.float64)
        self._counter = xp.zeros(1, dtype=np.int32)  # last-block ticket; kernels reset it
        self._noskip = xp.zeros(1, dtype=np.int32)
        self._nolabels = xp.zeros(1, dtype=np.int64)
        self._dummy = {dt.name: xp.zeros(1, dtype=dt) for dt in _FLOATS}
        self._grids: dict[tuple, Any] = {}  # cached launch configurations
        self._col_bufs: dict[int, tuple[Any, Any]] = {}
        self._max_row_chunks = 3 if self.simulated else 64

    def describe(self) -> str:
        if self.simulated:
            return "cuda (SIMULATED: numba CUDA simulator on the CPU, NumPy arrays)"
        import cupy

        return (f"cuda ({self.device_name}, CuPy {cupy.__version__}, "
                f"fused kernels: numba.cuda via {self.launch_path!r} launch)")

    def to_numpy(self, x: Any) -> Any:
        if self.simulated:
            import numpy as np

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
            tpb = pow2_at_least(c, 32, self._red_tpb) if not self.simulated else \
                pow2_at_least(c, 1, self._red_tpb)
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
                xp.zeros(math.ceil(c / self._bwd_block[0]), dtype=np.int32))
        return buf

    @staticmethod
    def _float(*arrays: Any) -> bool:
        dt = arrays[0].dtype
        if dt not in _FLOATS:
            return False
        for a in arrays:  # a plain loop: no generator per launch
            if a.dtype != dt:
                return False
        return True

    # ------------------------------------------------------------------ activations
    def bias_act(self, z: Any, b: Any, activation: str, out: Any = None) -> Any:
        code = ACT_CODES.get(activation)
        if (code is None or getattr(z, "ndim", 0) != 2 or (b is None and code == 0)
                or not (self._float(z) if b is None else
                        (b.shape == (z.shape[1],) and self._float(z, b))) or z.size == 0):
            return super().bias_act(z, b, activation, out=out)
        dst = out if out is not None else (z if b is None else self.xp.empty_like(z))
        if dst.shape != z.shape or dst.dtype != z.dtype:
            return super().bias_act(z, b, activation, out=out)
        grid, block = self._grid_tiles(*z.shape)
        self.kernels.get("bias_act_fwd", z.dtype.name)(
            grid, block, z, self._dummy[z.dtype.name] if b is None else b, dst, code,
            int(b is not None))
        return dst

    def bias_act_grad(self, dy: Any, y: Any, activation: str, dz_out: Any = None,
                      db_out: Any = None, need_db: bool = True) -> tuple[Any, Any]:
        code = ACT_CODES.get(activation)
        if (code is None or getattr(dy, "ndim", 0) != 2 or y.shape != dy.shape
                or not self._float(dy, y) or dy.size == 0 or (code == 0 and not need_db)):
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        xp = self.xp
        dz = dz_out if dz_out is not None else (dy if code == 0 else xp.empty_like(dy))
        db = (db_out if db_out is not None else xp.empty(dy.shape[1], dy.dtype)) if need_db else None
        if dz.shape != dy.shape or dz.dtype != dy.dtype or (
                db is not None and (db.shape != (dy.shape[1],) or db.dtype != dy.dtype)):
            return super().bias_act_grad(dy, y, activation, dz_out, db_out, need_db)
        grid, block = self._grid_cols(*dy.shape)
        partial, tickets = self._col_scratch(dy.shape[1])
        self.kernels.get("bias_act_bwd", dy.dtype.name)(
            grid, block, dy, y, dz, self._dummy[dy.dtype.name] if db is None else db, code,
            int(bool(need_db)), partial, tickets)
        return dz, db

    # ------------------------------------------------------------------ fused heads
    def softmax_xent(self, logits: Any, target: Any, grad_out: Any = None,
                     sample_weight: Any = None) -> tuple[Any, Any]:
        z = logits
        if sample_weight is not None:
            return super().softmax_xent(logits, target, grad_out, sample_weight)
        if (getattr(z, "ndim", 0) != 2 or not self._float(z) or z.size == 0
                or not hasattr(target, "ndim")):
            return super().softmax_xent(logits, target, grad_out)
        xp = self.xp
        grad = grad_out if grad_out is not None else xp.empty_like(z)
        if grad.shape != z.shape or grad.dtype != z.dtype:
            return super().softmax_xent(logits, target, grad_out)
        if target.ndim == 1:
            if target.dtype.kind not in "iu" or target.shape != (z.shape[0],):
                return super().softmax_xent(logits, target, grad_out)
            labels = target if (target.dtype == _I64 or target.dtype == _I32) else target.astype(np.int64)
            t, sparse = z, 1  # t: unused placeholder of the right type
        else:
            if target.shape != z.shape or target.dtype != z.dtype:
                return super().softmax_xent(logits, target, grad_out)
            labels, t, sparse = self._nolabels, target, 0
        n, c = z.shape
        loss = xp.empty((), dtype=z.dtype)
        grid, block = self._grid_rows(n, c)
        self.kernels.get("softmax_xent", z.dtype.name, labels.dtype.name)(
            grid, block, z, t, labels, sparse, grad, self._partial, self._counter,
            loss, float(n))  # the 0-d loss as a 1-element 1-D parameter (_launch._as_ndim)
        return loss, grad

    def sigmoid_bce(self, logits: Any, target: Any, grad_out: Any = None,
                    sample_weight: Any = None) -> tuple[Any, Any]:
        z = logits
        if sample_weight is not None:
            return super().sigmoid_bce(logits, target, grad_out, sample_weight)
        if (getattr(z, "ndim", 0) == 0 or getattr(target, "shape", None) != z.shape
                or not self._float(z, target) or z.size == 0):
            return super().sigmoid_bce(logits, target, grad_out)
        xp = self.xp
        grad = grad_out if grad_out is not None else xp.empty_like(z)
        if (grad.shape != z.shape or grad.dtype != z.dtype or not z.flags.c_contiguous
                or not target.flags.c_contiguous or not grad.flags.c_contiguous):
            return super().sigmoid_bce(logits, target, grad_out)
        loss = xp.empty((), dtype=z.dtype)
        grid, block = self._grid_reduce(z.size)
        # 1-D kernel parameters take the C-contiguous arrays (and the 0-d loss) as their
        # flat views without a reshape call each (kernels._launch._as_ndim).
        self.kernels.get("sigmoid_bce", z.dtype.name)(
            grid, block, z, target, grad, self._partial, self._counter, loss,
            float(z.size), 1.0 / z.size)
        return loss, grad

    # ------------------------------------------------------------------ optimizer updates
    def _flat(self, *arrays: Any) -> tuple[Any, ...] | None:
        p = arrays[0]
        if not self._float(*arrays) or p.size == 0:
            return None
        for a in arrays:
            if a.size != p.size or not a.flags.c_contiguous:
                return None
        return tuple(a if a.ndim == 1 else a.reshape(-1) for a in arrays)  # flat buffers: as is

    def _skip(self, skip: Any) -> Any:
        if skip is None or (not self.simulated and isinstance(skip, np.ndarray)):
            return self._noskip  # absent, or a host flag already read by _host_skip
        return skip if skip.dtype == np.int32 and skip.ndim == 1 else skip.reshape(-1).astype(np.int32)

    def _host_skip(self, skip: Any) -> bool:
        # A host-side (NumPy) flag costs nothing to read; a device flag is read by the kernel.
        return isinstance(skip, np.ndarray) and not self.simulated and _skipped(skip)

    def sgd_update(self, param: Any, grad: Any, velocity: Any, lr: float, momentum: float,
                   nesterov: bool, skip: Any = None) -> None:
        flat = self._flat(param, grad) if velocity is None else self._flat(param, grad, velocity)
        if flat is None or self._host_skip(skip):
            return super().sgd_update(param, grad, velocity, lr, momentum, nesterov, skip)
        grid, block = self._grid1(param.size)
        self.kernels.get("sgd_update", param.dtype.name)(  # scalars: converted by the launcher
            grid, block, self._skip(skip), flat[0], flat[1],
            flat[2] if velocity is not None else flat[0], lr, momentum,
            int(bool(nesterov)), int(velocity is not None))

    def adam_update(self, param: Any, grad: Any, m: Any, v: Any, alpha: float,
                    beta_1: float, beta_2: float, epsilon: float, skip: Any = None) -> None:
        flat = self._flat(param, grad, m, v)
        if flat is None or self._host_skip(skip):
            return super().adam_update(param, grad, m, v, alpha, beta_1, beta_2, epsilon, skip)
        grid, block = self._grid1(param.size)
        self.kernels.get("adam_update", param.dtype.name)(  # scalars: converted by the launcher
            grid, block, self._skip(skip), *flat, alpha, 1 - beta_1, 1 - beta_2, epsilon)

    def rmsprop_update(self, param: Any, grad: Any, velocity: Any, momentum_buf: Any,
                       lr: float, rho: float, momentum: float, epsilon: float,
                       skip: Any = None) -> None:
        arrays = (param, grad, velocity) + ((momentum_buf,) if momentum_buf is not None else ())
        flat = self._flat(*arrays)
        if flat is None or self._host_skip(skip):
            return super().rmsprop_update(param, grad, velocity, momentum_buf, lr, rho,
                                          momentum, epsilon, skip)
        grid, block = self._grid1(param.size)
        self.kernels.get("rmsprop_update", param.dtype.name)(  # scalars: converted by the launcher
            grid, block, self._skip(skip), flat[0], flat[1], flat[2],
            flat[3] if momentum_buf is not None else flat[0], lr, rho, 1 - rho,
            momentum, epsilon, int(momentum_buf is not None))

    def adagrad_update(self, param: Any, grad: Any, accumulator: Any, lr: float,
                       epsilon: float, skip: Any = None) -> None:
        flat = self._flat(param, grad, accumulator)
        if flat is None or self._host_skip(skip):
            return super().adagrad_update(param, grad, accumulator, lr, epsilon, skip)
        grid, block = self._grid1(param.size)
        self.kernels.get("adagrad_update", param.dtype.name)(  # scalars: converted by the launcher
            grid, block, self._skip(skip), *flat, lr, epsilon)
