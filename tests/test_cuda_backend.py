"""The CUDA backend: availability reporting (any machine) and fused kernels on a real GPU."""

from __future__ import annotations

import sys
from typing import Any

import kernel_cases
import numpy as np
import pytest
from numba import types

import netcore as nc
from netcore.backend.cuda import probe, simulator_enabled
from netcore.kernels import SPECS


def test_one_spec_gives_both_signatures_and_the_launch_packing():
    """softmax_xent's spec: C-contiguous arrays on the CPU, any layout on the GPU, the label
    dtype as a second key, int codes int64 / int32, the reduction scratch on the GPU only."""
    spec = SPECS["softmax_xent"]
    assert spec.keys() == [
        ("float32", "int32"),
        ("float32", "int64"),
        ("float64", "int32"),
        ("float64", "int64"),
    ]
    f4, f8, i4, i8 = (np.dtype(t) for t in ("float32", "float64", "int32", "int64"))
    assert spec.params_for("cuda", ("float32", "int64")) == [
        (f4, 2),
        (f4, 2),
        (i8, 1),
        (i4, 0),
        (f4, 1),
        (i4, 0),
        (f4, 2),
        (f4, 1),
        (f8, 1),
        (i4, 1),
    ]
    assert spec.params_for("cpu", ("float64", "int32")) == [
        (f8, 2),
        (f8, 2),
        (i4, 1),
        (i8, 0),
        (f8, 1),
        (i8, 0),
        (f8, 2),
        (f8, 1),
    ]
    cpu = spec.signature("cpu", ("float32", "int32"))
    assert cpu.return_type == types.void
    assert cpu.args[0] == types.Array(types.float32, 2, "C")
    assert cpu.args[3] == types.int64
    gpu = spec.signature("cuda", ("float32", "int32"))
    assert gpu.args[0] == types.Array(types.float32, 2, "A") and gpu.args[3] == types.int32
    assert len(gpu.args) == len(cpu.args) + 2


def test_every_kernel_has_both_flavours_and_serves_a_backend_op():
    from netcore.backend.base import Backend

    for name, spec in SPECS.items():
        assert callable(spec.cpu) and callable(spec.cuda), name
        assert callable(getattr(Backend, spec.op, None)), f"{name} serves no Backend op"
        names = [p.name for p in spec.params]
        assert len(set(names)) == len(names), f"{name}: duplicate parameter names"


@pytest.mark.skipif(probe()[0], reason="CUDA (or its simulator) is usable here")
def test_cuda_unavailable_says_why_and_auto_picks_cpu():
    ok, reason = probe()
    with pytest.raises(nc.BackendUnavailableError) as exc:
        nc.get_backend("cuda")
    assert reason in str(exc.value)
    assert nc.get_backend("auto").name == "cpu"


# ---------------------------------------------------------------- real GPU only
@pytest.fixture(scope="module", params=["raw", "numba"])
def gpu_be(request):
    from netcore.backend.cuda import CudaBackend
    from netcore.kernels._launch import KernelSet

    be = CudaBackend(seed=0)
    be.kernels = KernelSet(False, path=request.param)
    be.launch_path = request.param
    return be


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", sorted(kernel_cases.ALL_CHECKS))
def test_gpu_kernel_matches_reference(gpu_be, kernel, dtype):
    kernel_cases.check_with_fresh_seed(kernel, gpu_be, dtype)
    assert not gpu_be.kernels.fallbacks, f"raw launch fell back: {gpu_be.kernels.fallbacks}"


@pytest.mark.gpu
def test_gpu_kernels_at_mnist_sizes(gpu_be):
    rng = np.random.default_rng(7)
    kernel_cases.check_bias_act(gpu_be, rng, np.float32, shapes=[(128, 512), (1000, 33)])
    kernel_cases.check_bias_act_grad(gpu_be, rng, np.float32, shapes=[(1024, 512)])
    kernel_cases.check_softmax_xent(gpu_be, rng, np.float32, shapes=[(1024, 10), (3000, 1000)])
    kernel_cases.check_sigmoid_bce(gpu_be, rng, np.float32, shapes=[(4096, 300)])
    kernel_cases.check_optimizers(gpu_be, rng, np.float32, shapes=[(784, 512)])


@pytest.mark.gpu
def test_gpu_results_stay_on_device_and_follow_the_current_stream(gpu_be):
    import cupy

    rng = np.random.default_rng(8)
    z = rng.normal(size=(256, 10)).astype(np.float32)
    t = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 256)]
    w_loss, w_grad = kernel_cases.REF.softmax_xent(z, t)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        zd, td = cupy.asarray(z), cupy.asarray(t)
        for _ in range(3):  # queue several launches without synchronising
            loss, grad = gpu_be.softmax_xent(zd, td)
    assert isinstance(loss, cupy.ndarray) and loss.ndim == 0
    assert isinstance(grad, cupy.ndarray)
    stream.synchronize()
    kernel_cases.close(cupy.asnumpy(loss), w_loss, np.float32, "loss on a side stream")
    kernel_cases.close(cupy.asnumpy(grad), w_grad, np.float32, "grad on a side stream")


@pytest.mark.gpu
def test_gpu_skip_flag_on_device_blocks_the_update(gpu_be):
    import cupy

    p = cupy.ones(1000, dtype=cupy.float32)
    g = cupy.ones(1000, dtype=cupy.float32)
    m, v = cupy.zeros_like(p), cupy.zeros_like(p)
    skip = cupy.ones(1, dtype=cupy.int32)
    gpu_be.adam_update(p, g, m, v, 0.1, 0.9, 0.999, 1e-7, skip)
    assert bool((p == 1).all()) and bool((m == 0).all())
    skip[0] = 0
    gpu_be.adam_update(p, g, m, v, 0.1, 0.9, 0.999, 1e-7, skip)
    assert bool((p < 1).all())


def test_simulator_flag_matches_backend_description():
    if not simulator_enabled():
        pytest.skip("only meaningful under NUMBA_ENABLE_CUDASIM=1 (covered by tests/sim)")
    assert "SIMULATED" in nc.get_backend("cuda").describe()


class _DevArray:
    """What the raw launcher reads from a CuPy array: the NumPy array plus ``data.ptr``."""

    def __init__(self, a):
        import types

        self.a, self.data = a, types.SimpleNamespace(ptr=a.ctypes.data)

    def __getattr__(self, k):
        return getattr(self.a, k)


def _raw_launcher(monkeypatch, kernel, extra_modules=()):
    """The raw launcher of ``kernel`` (float32) over a stand-in CuPy that records each
    launch's argument tuple; returns (launch, launches)."""
    import types

    from netcore.kernels import _launch

    launches = []

    class Kern:
        def __call__(self, grid, block, args):
            launches.append(args)

    fake: Any = types.ModuleType("cupy")
    fake.RawModule = lambda path: types.SimpleNamespace(get_function=lambda name: Kern())
    fake.cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(compute_capability="90"))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    for name, mod in extra_modules:
        monkeypatch.setitem(sys.modules, name, mod)
    ks = _launch.KernelSet(simulated=simulator_enabled(), path="raw")
    # The values packed, not the PTX: tests/test_ptx.py checks the packing against the
    # .param list of each kernel's real PTX.
    monkeypatch.setattr(
        _launch._common,
        "compile_ptx",
        lambda spec, key, cc: ".visible .entry _ZN7netcore1kE(\n.param .u64 p\n)",
    )
    return ks._build_raw(SPECS[kernel], ("float32",)), launches


def _raw_bias_act_launch(monkeypatch, extra_modules=()):
    """bias_act_fwd's raw launcher, its arrays (z, b, strided out) and the expected values."""
    launch, launches = _raw_launcher(monkeypatch, "bias_act_fwd", extra_modules)
    z = _DevArray(np.zeros((3, 5), np.float32))
    b = _DevArray(np.zeros(5, np.float32))
    out = _DevArray(np.zeros((3, 6), np.float32)[:, ::2])  # strided view
    expected = [
        0,
        0,
        15,
        4,
        z.a.ctypes.data,
        3,
        5,
        20,
        4,
        0,
        0,
        5,
        4,
        b.a.ctypes.data,
        5,
        4,
        0,
        0,
        9,
        4,
        out.a.ctypes.data,
        3,
        3,
        24,
        8,
        1,
        0,
    ]  # code, has_bias: int32 scalars
    return launch, launches, (z, b, out), expected


def test_raw_launch_flattens_numba_array_abi(monkeypatch):
    """CPU-side unit test of the 'raw' path's argument packing (a stand-in CuPy records the
    launch): each array becomes meminfo, parent, nitems, itemsize, data, shape, strides (bytes),
    exactly numba's kernel ABI; scalars take the signature's types; wrong ranks are refused."""
    launch, launches, (z, b, out), expected = _raw_bias_act_launch(monkeypatch)
    for _ in range(2):  # second call served from the memoised views
        launch((1,), (32,), z, b, out, 1, 0)
    for args in launches:
        assert [int(x) for x in args] == expected
        assert [type(x) for x in args[-2:]] == [np.int32, np.int32]
    with pytest.raises(TypeError):
        launch((1,), (32,), _DevArray(np.zeros(3, np.float32)), b, out, 1, 0)


def test_raw_launch_passes_cupy_argument_boxes(monkeypatch):
    """Where CuPy has its by-value argument boxes (cupy.cuda.function.CIntptr, CNumpyArray:
    CPointers it passes through without conversion), the raw path hands over boxes with the
    same values, 8-byte integers for the array ABI and the signature's type for scalars,
    reused from launch to launch."""
    import types

    fmod: Any = types.ModuleType("cupy.cuda.function")

    class CPointer:
        pass

    class CIntptr(CPointer):
        def __init__(self, v):
            self.v = int(v)

    class CNumpyArray(CPointer):
        def __init__(self, a):
            assert isinstance(a, np.ndarray) and a.size == 1
            self.a = a

    fmod.CPointer, fmod.CIntptr, fmod.CNumpyArray = CPointer, CIntptr, CNumpyArray
    launch, launches, (z, b, out), expected = _raw_bias_act_launch(
        monkeypatch, [("cupy.cuda.function", fmod)]
    )
    for _ in range(2):  # second call served from the memoised views
        launch((1,), (32,), z, b, out, 1, 0)
    assert len(launches) == 2 and all(x is y for x, y in zip(*launches))  # memoised boxes
    for args in launches:
        assert all(isinstance(x, CIntptr) for x in args[:-2])
        assert [x.a.dtype for x in args[-2:]] == [np.int32, np.int32]
        assert [x.v if isinstance(x, CIntptr) else int(x.a[0]) for x in args] == expected


def test_raw_launch_views_contiguous_arrays_flat_for_1d_parameters(monkeypatch):
    """A 1-D kernel parameter takes any C-contiguous array (0-d too) as its flat view (the
    backend passes sigmoid_bce's 2-D arrays and the 0-d loss without reshape calls); a
    non-contiguous one is refused."""
    launch, launches = _raw_launcher(monkeypatch, "sigmoid_bce")
    DevArray = _DevArray
    z, t, g = (DevArray(np.zeros((3, 5), np.float32)) for _ in range(3))
    w = DevArray(np.zeros(1, np.float32))
    part, cnt = DevArray(np.zeros(8, np.float64)), DevArray(np.zeros(1, np.int32))
    loss = DevArray(np.zeros((), np.float32))
    launch((1,), (32,), z, t, w, 0, g, loss, 5, 15.0, 1 / 15, part, cnt)
    args = launches[0]

    def abi(a, n, item):
        return [0, 0, n, item, a.a.ctypes.data, n, item]

    flat = [int(x) for x in args[:21]] + [int(x) for x in args[22:36]] + [int(x) for x in args[39:]]
    assert flat == (
        abi(z, 15, 4)
        + abi(t, 15, 4)
        + abi(w, 1, 4)
        + abi(g, 15, 4)
        + abi(loss, 1, 4)
        + abi(part, 8, 8)
        + abi(cnt, 1, 4)
    )
    assert [type(x) for x in args[21:22] + args[36:39]] == [
        np.int32,
        np.int32,
        np.float64,
        np.float32,
    ]
    with pytest.raises(TypeError):
        launch(
            (1,),
            (32,),
            DevArray(np.zeros((3, 10), np.float32)[:, ::2]),
            t,
            w,
            0,
            g,
            loss,
            5,
            15.0,
            1 / 15,
            part,
            cnt,
        )
