"""Compiling and launching the numba.cuda kernels: the ONE place the launch path is chosen.

Paths (``NETCORE_CUDA_LAUNCH`` env var, else :data:`DEFAULT_PATH`):

* ``"raw"`` -- numba compiles the kernel to PTX (``numba.cuda.compile_ptx``, explicit
  signature, the device's compute capability, :func:`._common.compile_ptx`); CuPy loads it (``cupy.RawModule``) and
  launches it on CuPy's current stream. We pass numba's flattened argument ABI ourselves:
  each array is ``meminfo, parent, nitems, itemsize, data, shape[ndim], strides[ndim]``
  (the same sequence numba's own ``_Kernel._prepare_args`` builds), scalars by value. No
  numba dispatcher, no DeviceNDArray wrapping, no stream object: just CuPy's own launch
  (less host work per launch than numba's dispatch of CuPy arguments).
* ``"numba"`` -- numba's own path: ``cuda.jit(sig)`` compiled once, arguments converted with
  ``cuda.as_cuda_array(x, sync=False)`` (no host synchronisation per launch), launched on
  ``cuda.external_stream(<CuPy's current stream>)``. The fallback if the raw path fails.
* ``"sim"`` -- forced under ``NUMBA_ENABLE_CUDASIM=1``: the simulator runs the same kernel
  functions on NumPy arrays (wrapped without copies, so outputs may alias inputs), with its
  shared-array allocator made thread-safe (:mod:`._sim_shared`).

Kernels compile lazily, once per (kernel, dtype key), never at import. Launch
configurations are computed by the backend and cached there.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import _common
from .spec import KernelSpec

LAUNCH_PATHS = ("raw", "numba")
#: The launch path the CUDA backend uses unless NETCORE_CUDA_LAUNCH says otherwise.
DEFAULT_PATH = "raw"


def _arg_boxes() -> tuple[Callable, Callable]:
    """``(box8, box_scalar)``: how the raw path hands argument values to CuPy's launch.

    Recent CuPy passes any ``cupy.cuda.function.CPointer`` through as is (a pointer to the
    value); everything else goes through a per-argument conversion (``CScalar``) on every
    launch. So, where CuPy has them: ``CIntptr`` boxes the 8-byte integers of numba's array
    ABI, and a ``CNumpyArray`` over a 1-element array boxes a scalar of the signature's type
    (the kernel reads exactly its parameter's size from it). Otherwise NumPy scalars (int64
    / uint64 / the signature's type), which every CuPy version converts itself.
    """
    try:
        import importlib

        fmod = importlib.import_module("cupy.cuda.function")
        CPointer, CIntptr, CNumpyArray = fmod.CPointer, fmod.CIntptr, fmod.CNumpyArray
        probe = CNumpyArray(np.array([7], np.int32))
        if not (isinstance(CIntptr(1), CPointer) and isinstance(probe, CPointer)):
            raise TypeError("CuPy's argument boxes are not CPointers")

        def box_scalar(v: Any) -> Any:
            return CNumpyArray(np.array([v], dtype=v.dtype))

        return CIntptr, box_scalar
    except Exception:  # older/other CuPy: NumPy scalars, converted by CuPy per launch
        return np.int64, lambda v: v


def _as_ndim(a: Any, dt: np.dtype, nd: int) -> tuple[tuple, tuple]:
    """``(shape, strides)`` that array ``a`` takes for a ``dt[nd-d]`` kernel parameter.

    Its own, where the rank matches; for a 1-D parameter, any C-contiguous array (0-d too)
    as its flat view, so the backend needs no ``reshape(-1)`` view per launch (a CuPy call
    each). Anything else is a bug of the caller: TypeError.
    """
    if a.dtype != dt:
        raise TypeError(f"kernel wants {dt}[{nd}-d], received {a.dtype}[{a.ndim}-d]")
    if a.ndim == nd:
        return a.shape, a.strides
    if nd == 1 and a.flags.c_contiguous:
        return (a.size,), (a.itemsize,)
    raise TypeError(
        f"kernel wants {dt}[{nd}-d], received {a.dtype}[{a.ndim}-d]"
        + (" (not C-contiguous)" if nd == 1 else "")
    )


def _flat_view(a: Any, dt: np.dtype, nd: int) -> Any:
    """``a`` itself, or (1-D parameter, C-contiguous array of another rank) its flat view:
    the same rule as the raw path's :func:`_as_ndim`, for the numba and simulator paths."""
    if a.ndim == nd:
        return a
    _as_ndim(a, dt, nd)  # raises unless C-contiguous for a 1-D parameter
    return a.reshape(-1)  # a view: C-contiguous


def launch_path(simulated: bool) -> str:
    """The path in force: 'sim' under the simulator, else NETCORE_CUDA_LAUNCH or the default."""
    if simulated:
        return "sim"
    path = os.environ.get("NETCORE_CUDA_LAUNCH", DEFAULT_PATH).strip().lower()
    if path not in LAUNCH_PATHS:
        raise ValueError(f"NETCORE_CUDA_LAUNCH must be one of {LAUNCH_PATHS}, received {path!r}")
    return path


class KernelSet:
    """CUDA kernels by name (``specs``; default: every fused kernel, :data:`netcore.kernels.SPECS`);
    ``get(name, *key)`` returns ``launch(grid, block, *args)``, the arguments in the order of
    the kernel's :class:`~.spec.KernelSpec` (CUDA flavour)."""

    def __init__(
        self,
        simulated: bool,
        path: str | None = None,
        specs: Iterable[KernelSpec] | None = None,
    ) -> None:
        if specs is None:
            from . import SPECS

            specs = SPECS.values()
        self.simulated = simulated
        self.path = "sim" if simulated else (path or launch_path(False))
        self.cuda = _common.load_cuda()
        if simulated:
            # numba's simulator can give the threads of one block different "shared" arrays
            # (an unlocked check-then-store): see _sim_shared.
            from ._sim_shared import make_shared_arrays_per_block

            make_shared_arrays_per_block()
        self._specs: dict[str, KernelSpec] = {s.name: s for s in specs}
        self._launchers: dict[tuple, Callable] = {}
        self._streams: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.fallbacks: list[str] = []  # kernels that fell back from 'raw' to 'numba'

    @property
    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, name: str, *key: str) -> Callable:
        """The launcher of kernel ``name`` for dtype ``key`` (compiled on first request)."""
        k = (name,) + key
        fn = self._launchers.get(k)
        if fn is None:
            with self._lock:
                fn = self._launchers.get(k)
                if fn is None:
                    fn = self._launchers[k] = self._build(name, key)
        return fn

    # ---------------------------------------------------------------- builders
    def _build(self, name: str, key: tuple[str, ...]) -> Callable:
        spec = self._specs[name]
        pyfunc = _common.cuda_kernel(spec.cuda)
        sig = spec.signature("cuda", key)
        params = spec.params_for("cuda", key)
        if self.path == "sim":
            return self._build_sim(pyfunc, sig, params)
        if self.path == "raw":
            try:
                return self._build_raw(spec, key)
            except Exception as exc:  # no NVVM/PTX JIT for this card, ...: stay correct
                warnings.warn(
                    f"netcore: raw launch of {name}{key} unavailable ({exc!r}); "
                    "using numba's launch path",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self.fallbacks.append(f"{name}{key}")
        return self._build_numba(pyfunc, sig, params)

    def _build_sim(self, pyfunc: Callable, sig: Any, spec: list[tuple[np.dtype, int]]) -> Callable:
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        kern = self.cuda.jit(sig)(pyfunc)

        def launch(grid: tuple, block: tuple, *args: Any) -> None:
            # Wrap (not copy) NumPy arrays: outputs may alias inputs, as on the GPU; scalars
            # in the signature's types, so the simulated arithmetic has the GPU's precision.
            kern[grid, block](
                *[
                    FakeCUDAArray(_flat_view(a, dt, nd)) if nd else dt.type(a)
                    for (dt, nd), a in zip(spec, args)
                ]
            )

        return launch

    def _stream(self) -> Any:
        import cupy

        ptr = cupy.cuda.get_current_stream().ptr
        s = self._streams.get(ptr)
        if s is None:
            s = self._streams[ptr] = (
                self.cuda.default_stream() if ptr == 0 else self.cuda.external_stream(ptr)
            )
        return s

    def _build_numba(
        self, pyfunc: Callable, sig: Any, spec: list[tuple[np.dtype, int]]
    ) -> Callable:
        cuda = self.cuda
        kern = cuda.jit(sig)(pyfunc)  # explicit signature: compiles now, once
        as_array = cuda.as_cuda_array

        def launch(grid: tuple, block: tuple, *args: Any) -> None:
            # Arrays: zero-copy views, no stream sync; scalars: exactly the signature's types
            # (so the dispatcher matches the compiled overload without conversions).
            conv = [
                as_array(_flat_view(a, dt, nd), sync=False) if nd else dt.type(a)
                for (dt, nd), a in zip(spec, args)
            ]
            kern[grid, block, self._stream()](*conv)

        return launch

    def _build_raw(self, spec: KernelSpec, key: tuple[str, ...]) -> Callable:
        import cupy

        cc = cupy.cuda.Device().compute_capability  # e.g. "90"
        ptx = _common.compile_ptx(spec, key, (int(cc[:-1]), int(cc[-1])))
        entry = re.search(r"\.entry\s+([\w$]+)\s*\(", ptx)
        if entry is None:
            raise RuntimeError("no .entry in the PTX numba produced")
        params = spec.params_for("cuda", key)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "kernel.ptx")
            with open(path, "w") as fh:
                fh.write(ptx)
            module = cupy.RawModule(path=path)
            kern = module.get_function(entry.group(1))  # loads the module now
        layout = tuple(params)
        box8, box_scalar = _arg_boxes()
        # Flattened array arguments, memoised per (pointer, shape, strides, dtype): the
        # persistent buffers (weights, grads, optimizer state, activations) come back every
        # step, and a dict hit is cheaper than building their 5 + 2*ndim values again.
        # Scalars likewise, per (type, exact bytes). With a recent CuPy the cached values are
        # CuPy's own by-value argument objects (CPointer subclasses), which its launch passes
        # through untouched: no per-argument conversion of ~30 NumPy scalars per launch.
        views: dict[tuple, tuple] = {}
        scalars: dict[tuple, Any] = {}

        def flatten(a: Any, dt: np.dtype, nd: int) -> tuple:
            key = (a.data.ptr, a.shape, a.strides, a.dtype, nd)
            t = views.get(key)
            if t is None:
                shape, strides = _as_ndim(a, dt, nd)
                t = tuple(
                    box8(int(v)) for v in (0, 0, a.size, a.itemsize, a.data.ptr, *shape, *strides)
                )
                if len(views) > 4096:  # many short-lived arrays: start over
                    views.clear()
                views[key] = t
            return t

        def scalar(dt: np.dtype, a: Any) -> Any:
            v = dt.type(a)
            key = (dt.char, v.tobytes())  # exact: -0.0 and 0.0 stay apart
            b = scalars.get(key)
            if b is None:
                if len(scalars) > 4096:  # e.g. Adam's step-dependent alpha: start over
                    scalars.clear()
                b = scalars[key] = box_scalar(v)
            return b

        def launch(grid: tuple, block: tuple, *args: Any) -> None:
            flat: list[Any] = []
            for (dt, nd), a in zip(layout, args):
                if nd:
                    flat.extend(
                        flatten(a, dt, nd)
                    )  # meminfo, parent, n, itemsize, data, shape, strides
                else:
                    flat.append(scalar(dt, a))
            kern(grid, block, tuple(flat))  # CuPy's current stream

        launch.module = module  # type: ignore[attr-defined]  # the CUmodule lives as long as it
        return launch


__all__ = ["KernelSet", "LAUNCH_PATHS", "DEFAULT_PATH", "launch_path"]
