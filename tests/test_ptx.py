"""Every CUDA kernel compiled and assembled for real GPUs, with no GPU (benchmarks/ptx_registers.py).

For each kernel of :data:`netcore.kernels.SPECS` and of the captured step, each dtype key and
sm_80/sm_90: PTX from numba-cuda's NVVM (the raw launcher's compile), a cubin from the
``nvidia-cuda-nvcc`` wheel's ``ptxas``. A test fails on a compile or assembly error, on any
register spill, or on more registers than let one block of the kernel's launch configuration
fit on an SM (``ceil(regs / 8) * 8 * threads_per_block <= 65536``). The raw launcher's
argument packing is checked against the ``.param`` list of each kernel's real PTX, and a
fresh build against the committed table ``benchmarks/results/ptx_registers.json``. Kernels
added to the SPECS lists are picked up without a change here.

Needs NVVM (numba-cuda finds the ``nvidia-nvvm`` wheel) and the ``nvidia-cuda-nvcc`` wheel's
ptxas (``pip install 'netcore[cuda-build]'``); skips with the reason otherwise.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import sys
import types
from typing import Any

import numpy as np
import pytest

from benchmarks import ptx_registers as pr

PTXAS = pr.find_ptxas()
CASES = [
    pytest.param(s.name, key, cc, id=f"{s.name}-{'-'.join(key)}-sm{cc[0]}{cc[1]}")
    for s in pr.kernel_specs()
    for key in s.keys()
    for cc in pr.CCS
]
#: Registers may differ by this much from the committed table when the table was made by
#: another ptxas or numba-cuda (one allocation unit each way and a little scheduling).
OTHER_VERSION_SLACK = 16


def _nvvm_missing() -> str | None:
    try:
        from numba.cuda.cudadrv import nvvm

        nvvm.NVVM()
    except Exception as exc:  # no libnvvm: the CUDA compile cannot run here
        return f"numba-cuda finds no NVVM ({exc!r}); pip install 'netcore[cuda-build]'"
    return None


_why = (
    "no ptxas of the nvidia-cuda-nvcc wheel; pip install 'netcore[cuda-build]'"
    if PTXAS is None
    else _nvvm_missing()
)
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")


@functools.cache
def _assembled(name: str, key: tuple[str, ...], cc: tuple[int, int]) -> dict[str, int]:
    assert PTXAS is not None
    return pr.assemble(pr.ptx_of(name, key, cc), cc, PTXAS)


@pytest.mark.parametrize("name, key, cc", CASES)
def test_kernel_assembles_without_spills_within_its_launch_register_bound(
    name: str, key: tuple[str, ...], cc: tuple[int, int]
) -> None:
    info = _assembled(name, key, cc)
    assert info["registers"] > 0
    assert info["spill_stores"] == info["spill_loads"] == 0, info
    threads = pr.threads_per_block(name)
    assert info["registers"] <= pr.register_bound(threads), (
        f"{name}{key} on sm_{cc[0]}{cc[1]} needs {info['registers']} registers; "
        f"{threads} threads per block fit on an SM with at most {pr.register_bound(threads)}"
    )
    assert info["shared_bytes"] <= 48 * 1024  # CUDA's limit of static shared memory per block


def test_register_bound_follows_the_allocation_unit() -> None:
    assert pr.register_bound(256) == 255  # 65536 / 256 = 256, capped at ptxas' 255
    assert pr.register_bound(512) == 128
    assert pr.register_bound(1024) == 64
    assert pr.register_bound(384) == 168  # 170 rounded down to a multiple of 8


def test_ptx_param_bytes_reads_the_entry_parameter_list() -> None:
    ptx = (
        ".visible .entry k(\n\t.param .u64 k_param_0,\n\t.param .f32 k_param_1,\n"
        "\t.param .align 8 .b8 k_param_2[24],\n\t.param .u32 k_param_3\n)\n{\n}"
    )
    assert pr.ptx_param_bytes(ptx) == [8, 4, 24, 4]


class _DevArray:
    """What the raw launcher reads from a CuPy array: a NumPy array plus ``data.ptr``."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.data = a, types.SimpleNamespace(ptr=a.ctypes.data)

    def __getattr__(self, k: str) -> Any:
        return getattr(self.a, k)


@pytest.mark.parametrize(
    "name, key",
    [
        pytest.param(s.name, k, id=f"{s.name}-{'-'.join(k)}")
        for s in pr.kernel_specs()
        for k in s.keys()
    ],
)
def test_raw_launcher_packs_exactly_the_ptx_parameter_list(
    monkeypatch: pytest.MonkeyPatch, name: str, key: tuple[str, ...]
) -> None:
    """The raw launcher's flattened arguments (numba's array ABI, scalars by value) have the
    count and byte sizes of the ``.param`` list of the PTX it loads (real PTX, sm_90)."""
    from netcore.kernels import _launch

    launches: list[tuple] = []
    loaded: list[str] = []

    def raw_module(path: str) -> Any:
        with open(path) as fh:
            loaded.append(fh.read())
        return types.SimpleNamespace(
            get_function=lambda entry: lambda g, b, args: launches.append(args)
        )

    fake: Any = types.ModuleType("cupy")
    fake.RawModule = raw_module
    fake.cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(compute_capability="90"))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(_launch._common, "compile_ptx", lambda s, k, cc: pr.ptx_of(s.name, k, cc))
    spec = {s.name: s for s in pr.kernel_specs()}[name]
    ks = _launch.KernelSet(simulated=False, path="raw", specs=[spec])
    launch = ks.get(name, *key)
    args = [
        _DevArray(np.zeros((2,) * nd, dtype=dt)) if nd else dt.type(1)
        for dt, nd in spec.params_for("cuda", key)
    ]
    launch((1,), (32,), *args)
    sizes = [np.asarray(v).itemsize for v in launches[0]]
    assert sizes == pr.ptx_param_bytes(loaded[0])


def test_committed_register_table_matches_a_fresh_build() -> None:
    """Registers and shared memory of every kernel equal the committed table's (within
    OTHER_VERSION_SLACK registers when it was made by another ptxas or numba-cuda); a kernel
    missing from it means the table is out of date: python -m benchmarks.ptx_registers."""
    assert PTXAS is not None
    table = json.loads(pr.RESULT.read_text())
    same = table["ptxas"] == pr.ptxas_version(PTXAS) and table[
        "numba_cuda"
    ] == importlib.metadata.version("numba-cuda")
    slack = 0 if same else OTHER_VERSION_SLACK
    committed = {(r["kernel"], r["key"], r["cc"]): r for r in table["kernels"]}
    for spec in pr.kernel_specs():
        for key in spec.keys():
            for cc in pr.CCS:
                row = committed.get((spec.name, "/".join(key), f"sm_{cc[0]}{cc[1]}"))
                assert row is not None, (
                    f"{spec.name}{key} sm_{cc[0]}{cc[1]} is not in {pr.RESULT.name}"
                )
                fresh = _assembled(spec.name, key, cc)
                assert abs(fresh["registers"] - row["registers"]) <= slack, (
                    spec.name,
                    key,
                    cc,
                    fresh,
                    row,
                )
                assert fresh["shared_bytes"] == row["shared_bytes"], (
                    spec.name,
                    key,
                    cc,
                    fresh,
                    row,
                )
    assert table["commit"] and table["machine"] and table["date"]
