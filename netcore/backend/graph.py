"""CUDA graphs for the CUDA backend: capture a step once, replay it with one launch.

:class:`GraphRuntime` captures a Python callable's device work on a private stream into a
``cupy.cuda.graph.Graph`` and replays it. Three facts shape it:

* **No cuBLAS through CuPy while capturing.** Every CuPy cuBLAS wrapper (``cupy.matmul`` and
  the low-level ``cupy_backends.cuda.libs.cublas.sgemm`` alike) first calls its ``setStream``,
  which raises ``NotImplementedError`` on a capturing stream (cupy issue 6290). cuBLAS itself
  supports capture when the handle's stream is set before the capture begins and its workspace
  is user-owned (``cublasSetWorkspace``). So :class:`CaptureGemm` calls the same libcublas
  CuPy loaded, through ``ctypes``, with its own handle: five C functions, no new dependency
  (nvmath-python would bring a whole package for three GEMM shapes per layer). The host cost
  of a ``ctypes`` call does not matter: it is paid once, at capture.
* **Memory used by a graph must stay its own.** Arrays a step allocates come from a private
  CuPy memory pool; the eager warm-up step runs under it too, so the capture finds every block
  it needs already cached (and the same sizes in the same order). Nothing outside the capture
  allocates from that pool, so no other array can take memory a replay writes. The pool lives
  as long as the backend (:func:`runtime_of`): layer buffers the warm-up made come from it,
  and older CuPy releases free a pool's memory with the pool even while arrays still point
  into it (their ``PooledMemory`` keeps only a weak reference to the pool).
* **The legacy default stream cannot be captured.** The captured epoch runs on a non-blocking
  stream that waits for the caller's stream first, and that stream waits for it at the end.

:func:`gemm_operands` (the row-major to column-major mapping) is pure Python, tested on the
CPU; everything else needs a GPU (``tests/test_capture.py``'s ``gpu`` tests).
"""

from __future__ import annotations

import contextlib
import ctypes
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

#: Workspace given to the capture handle: cuBLAS' default size on Hopper (32 MiB), so its
#: heuristics see the workspace the eager handle sees.
WORKSPACE_BYTES = 32 * 1024 * 1024
_OP_N, _OP_T = 0, 1


def graph_support(backend: Any) -> tuple[bool, str]:
    """Can ``backend`` capture CUDA graphs? ``(ok, reason)``; never raises."""
    name = getattr(backend, "name", None)
    if name != "cuda":
        return False, f"jit_compile=True needs the cuda backend; received backend {name}"
    if backend.simulated:
        return False, (
            "jit_compile=True needs a real GPU; the cuda backend runs in numba's "
            "CUDA simulator (NUMBA_ENABLE_CUDASIM=1), which has no CUDA graphs"
        )
    try:
        import cupy
        from cupy.cuda import graph  # noqa: F401
    except ImportError as exc:
        return False, f"jit_compile=True needs CuPy's CUDA graphs (cupy.cuda.graph): {exc}"
    if not hasattr(cupy.cuda.Stream, "begin_capture"):
        return False, f"jit_compile=True needs stream capture, which CuPy {cupy.__version__} lacks"
    return True, "cuda graphs"


def gemm_operands(
    a_shape: tuple[int, int], b_shape: tuple[int, int], transpose_a: bool, transpose_b: bool
) -> tuple[int, int, int, int, int, int, int, int]:
    """cuBLAS arguments for row-major ``C = op(a) @ op(b)`` (all C-contiguous).

    Column-major cuBLAS sees a row-major ``X`` as ``X^T``, so it computes
    ``C^T = op(b)^T op(a)^T``: ``b`` goes first. Returns ``(op_b, op_a, M, N, K, ld_b,
    ld_a, ldc)``: ``M, N`` are ``C``'s columns and rows, ``K`` the shared dimension, each
    leading dimension the row length of the array as stored.
    """
    m = a_shape[1] if transpose_a else a_shape[0]
    k = a_shape[0] if transpose_a else a_shape[1]
    kb = b_shape[1] if transpose_b else b_shape[0]
    n = b_shape[0] if transpose_b else b_shape[1]
    if k != kb:
        raise ValueError(
            f"matmul shapes do not match: {a_shape} (transpose_a={transpose_a}) "
            f"and {b_shape} (transpose_b={transpose_b})"
        )
    return (
        _OP_T if transpose_b else _OP_N,
        _OP_T if transpose_a else _OP_N,
        n,
        m,
        k,
        b_shape[1],
        a_shape[1],
        n,
    )


def _find_libcublas() -> str:
    """The path of the libcublas CuPy has loaded (so both use one library)."""
    import cupy

    cupy.cuda.device.get_cublas_handle()  # make CuPy load it
    with open("/proc/self/maps") as fh:
        for line in fh:
            path = line.split()[-1] if line.strip() else ""
            name = path.rsplit("/", 1)[-1]
            if name.startswith("libcublas.so"):
                return path
    raise RuntimeError("libcublas is not loaded in this process (CuPy did not load it)")


class CaptureGemm:
    """float32/float64 GEMM through a cuBLAS handle of our own, legal inside stream capture."""

    def __init__(self, stream_ptr: int) -> None:
        import cupy

        lib = ctypes.CDLL(_find_libcublas())
        self._lib = lib
        vp, i, sz = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
        for name, args in (
            ("cublasCreate_v2", [ctypes.POINTER(vp)]),
            ("cublasSetStream_v2", [vp, vp]),
            ("cublasSetWorkspace_v2", [vp, vp, sz]),
            ("cublasDestroy_v2", [vp]),
            ("cublasSgemm_v2", [vp, i, i, i, i, i, vp, vp, i, vp, i, vp, vp, i]),
            ("cublasDgemm_v2", [vp, i, i, i, i, i, vp, vp, i, vp, i, vp, vp, i]),
        ):
            getattr(lib, name).argtypes = args
            getattr(lib, name).restype = i
        handle = vp()
        self._check("cublasCreate_v2", lib.cublasCreate_v2(ctypes.byref(handle)))
        self.handle = handle
        self._finalizer = weakref.finalize(self, lib.cublasDestroy_v2, handle)
        # The stream first: cublasSetStream puts the handle back on cuBLAS' own workspace
        # pool, and cublasSetWorkspace applies to the stream set at the time.
        self._check("cublasSetStream_v2", lib.cublasSetStream_v2(handle, vp(stream_ptr)))
        self.workspace = cupy.empty(WORKSPACE_BYTES, dtype=np.uint8)
        self._check(
            "cublasSetWorkspace_v2",
            lib.cublasSetWorkspace_v2(handle, vp(self.workspace.data.ptr), WORKSPACE_BYTES),
        )
        self._scalars = {dt: (np.ones(1, dt), np.zeros(1, dt)) for dt in (np.float32, np.float64)}

    @staticmethod
    def _check(what: str, status: int) -> None:
        if status != 0:
            raise RuntimeError(f"{what} failed with cuBLAS status {status}")

    def matmul(self, a: Any, b: Any, out: Any, transpose_a: bool, transpose_b: bool) -> Any:
        """``out = op(a) @ op(b)`` on the handle's stream (2-D, one float dtype)."""
        import cupy

        a, b = cupy.ascontiguousarray(a), cupy.ascontiguousarray(b)
        op1, op2, m, n, k, ld1, ld2, ldc = gemm_operands(a.shape, b.shape, transpose_a, transpose_b)
        if out is None or not out.flags.c_contiguous:
            dst = cupy.empty((n, m), dtype=a.dtype)
        else:
            dst = out
        one, zero = self._scalars[np.dtype(a.dtype).type]
        fn = self._lib.cublasSgemm_v2 if a.dtype == np.float32 else self._lib.cublasDgemm_v2
        vp = ctypes.c_void_p
        self._check(
            "cublas gemm",
            fn(
                self.handle,
                op1,
                op2,
                m,
                n,
                k,
                vp(one.ctypes.data),
                vp(b.data.ptr),
                ld1,
                vp(a.data.ptr),
                ld2,
                vp(zero.ctypes.data),
                vp(dst.data.ptr),
                ldc,
            ),
        )
        if out is not None and dst is not out:
            out[...] = dst
            return out
        return dst

    def close(self) -> None:
        """Destroy the handle now (otherwise when this object is collected)."""
        self._finalizer()


@contextlib.contextmanager
def routed_matmul(backend: Any, gemm: CaptureGemm) -> Iterator[None]:
    """While capturing, ``backend.matmul`` runs through ``gemm`` (an instance attribute over
    the class's CuPy route, removed on exit: outside a capture nothing changes)."""

    def matmul(
        a: Any, b: Any, out: Any = None, transpose_a: bool = False, transpose_b: bool = False
    ) -> Any:
        return gemm.matmul(a, b, out, transpose_a, transpose_b)

    backend.matmul = matmul
    try:
        yield
    finally:
        del backend.matmul


class GraphRuntime:
    """Capture and replay on one private stream, with a private memory pool and GEMM route.

    The contract :mod:`netcore.training.capture` uses (a CPU test double implements the same
    four methods): ``epoch()`` (the context the whole captured epoch runs in), ``warmup()``
    (an eager step whose allocations the capture will reuse), ``capture(fn)`` (a graph of
    ``fn``'s device work; ``fn`` does not run) and ``replay(graph)``.
    """

    def __init__(self, backend: Any) -> None:
        import cupy

        # a weak reference: the backend keeps its runtime alive (runtime_of), not the reverse
        self._backend = weakref.ref(backend)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.pool = cupy.cuda.MemoryPool()
        self.gemm = CaptureGemm(self.stream.ptr)

    @property
    def backend(self) -> Any:
        return self._backend()

    @contextlib.contextmanager
    def epoch(self) -> Iterator[None]:
        import cupy

        caller = cupy.cuda.get_current_stream()
        self.stream.wait_event(caller.record())
        try:
            with self.stream:
                yield
        finally:
            caller.wait_event(self.stream.record())

    @contextlib.contextmanager
    def warmup(self) -> Iterator[None]:
        import cupy

        with cupy.cuda.using_allocator(self.pool.malloc):
            yield

    def capture(self, fn: Callable[[], None]) -> Any:
        import cupy

        with cupy.cuda.using_allocator(self.pool.malloc), routed_matmul(self.backend, self.gemm):
            self.stream.begin_capture()
            try:
                fn()
            except BaseException:
                with contextlib.suppress(Exception):  # the capture is void; its error is fn's
                    self.stream.end_capture()
                raise
            return self.stream.end_capture()

    def replay(self, graph: Any) -> None:
        graph.launch(stream=self.stream)

    def close(self) -> None:
        self.gemm.close()


_RUNTIMES: weakref.WeakKeyDictionary[Any, GraphRuntime] = weakref.WeakKeyDictionary()


def runtime_of(backend: Any, factory: Callable[[Any], GraphRuntime] = GraphRuntime) -> GraphRuntime:
    """``backend``'s one graph runtime, made by ``factory`` on first use and kept as long as
    the backend lives (its pool holds the layer buffers the warm-up step made)."""
    runtime = _RUNTIMES.get(backend)
    if runtime is None:
        runtime = _RUNTIMES[backend] = factory(backend)
    return runtime


__all__ = [
    "runtime_of",
    "GraphRuntime",
    "CaptureGemm",
    "graph_support",
    "gemm_operands",
    "routed_matmul",
    "WORKSPACE_BYTES",
]
