"""Every CUDA kernel built for real GPUs without one: PTX, cubin, registers, spills, shared memory.

Each kernel of :data:`netcore.kernels.SPECS` and of the captured step
(:data:`netcore.kernels.captured.SPECS`), for every dtype key, is compiled to PTX for sm_80
(A100) and sm_90 (H100/H200) by numba-cuda's NVVM (:func:`netcore.kernels._common.compile_ptx`,
the raw launcher's own compile), then assembled into a cubin by ``ptxas -v`` of the
``nvidia-cuda-nvcc`` wheel (the machine's ``/usr/local/cuda`` ptxas may be older than the PTX
the wheel's NVVM writes). ``ptxas -v`` reports registers per thread, spill stores/loads,
stack frame and static shared memory; the register bound of a kernel is what lets one block
of its launch configuration be resident on an SM: registers are allocated per warp in units
of 256 (8 per thread), so ``ceil(regs / 8) * 8 * threads_per_block <= 65536``.

``python -m benchmarks.ptx_registers`` writes ``benchmarks/results/ptx_registers.json`` and
``.md``; ``tests/test_ptx.py`` builds the same table and compares it with the committed one.
"""

from __future__ import annotations

import functools
import glob
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._provenance import provenance
from netcore.kernels import SPECS, _common, captured
from netcore.kernels.spec import KernelSpec

#: Compute capabilities every kernel is built for: Ampere (A100) and Hopper (H100, H200).
CCS = ((8, 0), (9, 0))
#: 32-bit registers of one SM (every cc from 5.0 to 9.0).
REGS_PER_SM = 65536
#: Registers are allocated per warp in units of 256: 8 per thread.
REG_UNIT = 8
#: Most registers ptxas gives a thread.
MAX_REGS = 255
#: Threads per block as the CUDA backend launches each kernel (``netcore/backend/cuda.py``:
#: ``_tpb`` 256 for the element-wise grid, ``_tile_block`` 32 x 8, ``_bwd_block`` 32 x 16,
#: ``_red_tpb`` = MAX_TPB for the row and reduction kernels; ``RECORD_THREADS`` for the
#: recorder). A kernel not listed is held to CUDA's largest block, 1024 threads: it fits
#: whatever block it is given (declare its block here to relax that).
LAUNCH_THREADS = {
    "bias_act_fwd": 32 * 8,
    "bias_act_bwd": 32 * 16,
    "softmax_xent": _common.MAX_TPB,
    "sigmoid_bce": _common.MAX_TPB,
    "sgd_update": 256,
    "adam_update": 256,
    "rmsprop_update": 256,
    "adagrad_update": 256,
    "gather_rows": 256,
    "adam_update_at": 256,
    "record_step": captured.RECORD_THREADS,
    # convolution, pooling, batch norm: ``_grid1`` (256) but the per-channel sums, which take
    # the ``_grid_cols`` block of 32 x 16
    **dict.fromkeys(
        ("im2col", "col2im", "max_pool_fwd", "max_pool_bwd", "avg_pool_fwd", "avg_pool_bwd"), 256
    ),
    **dict.fromkeys(("bn_apply", "bn_grad_apply"), 256),
    **dict.fromkeys(("bn_stats", "bn_grad_stats"), 32 * 16),
}
MAX_BLOCK = 1024
RESULT = Path(__file__).parent / "results" / "ptx_registers.json"


def kernel_specs() -> list[KernelSpec]:
    """Every CUDA kernel: the fused backend ops' and the captured step's (new families in
    either list are picked up)."""
    return [*SPECS.values(), *captured.SPECS]


def threads_per_block(name: str) -> int:
    return LAUNCH_THREADS.get(name, MAX_BLOCK)


def register_bound(threads: int) -> int:
    """Most registers per thread that let one block of ``threads`` threads fit on an SM."""
    per_thread = REGS_PER_SM // threads
    return min(MAX_REGS, per_thread - per_thread % REG_UNIT)


def find_ptxas() -> str | None:
    """The ``ptxas`` of the installed ``nvidia-cuda-nvcc`` wheel, or None."""
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(glob.glob(os.path.join(root, "*", "bin", "ptxas"))):
            if os.access(path, os.X_OK):
                return path
    return None


def ptxas_version(ptxas: str) -> str:
    out = subprocess.run([ptxas, "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"release [\d.]+, V[\d.]+", out)
    return found.group(0) if found else out.strip().splitlines()[-1]


# ---------------------------------------------------------------- PTX and cubin
@functools.cache
def ptx_of(name: str, key: tuple[str, ...], cc: tuple[int, int]) -> str:
    """The PTX of kernel ``name`` (cached for the process: NVVM is the slow part)."""
    spec = {s.name: s for s in kernel_specs()}[name]
    return _common.compile_ptx(spec, key, cc)


_PARAM = re.compile(
    r"\.param\s+(?:\.align\s+\d+\s+)?\.([busf])(\d+)\s+[\w$]+?(?:\[(\d+)\])?\s*[,)]"
)


def ptx_param_bytes(ptx: str) -> list[int]:
    """Byte size of each parameter of the PTX's (one) ``.entry``, in order."""
    start = ptx.index(".entry")
    body = ptx[start : ptx.index(")", start) + 1]
    return [int(bits) // 8 * int(count or 1) for _, bits, count in _PARAM.findall(body)]


def assemble(ptx: str, cc: tuple[int, int], ptxas: str) -> dict[str, int]:
    """``ptxas -arch=sm_XY -v``: registers, spill stores/loads, stack and shared bytes.
    Raises RuntimeError with ptxas' message if it fails."""
    arch = f"sm_{cc[0]}{cc[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "k.ptx"), os.path.join(tmp, "k.cubin")
        Path(src).write_text(ptx)
        run = subprocess.run(
            [ptxas, f"-arch={arch}", "-v", src, "-o", out], capture_output=True, text=True
        )
        if run.returncode != 0 or not os.path.getsize(out):
            raise RuntimeError(f"ptxas -arch={arch} failed: {run.stderr.strip()}")
    log = run.stderr

    def num(pattern: str) -> int:
        found = re.search(pattern, log)
        return int(found.group(1)) if found else 0

    return {
        "registers": num(r"Used (\d+) registers"),
        "spill_stores": num(r"(\d+) bytes spill stores"),
        "spill_loads": num(r"(\d+) bytes spill loads"),
        "stack_bytes": num(r"(\d+) bytes stack frame"),
        "shared_bytes": num(r"(\d+) bytes smem"),
    }


def build(ptxas: str) -> list[dict[str, Any]]:
    """One row per kernel, dtype key and compute capability."""
    rows = []
    for spec in kernel_specs():
        for key in spec.keys():
            for cc in CCS:
                threads = threads_per_block(spec.name)
                info = assemble(ptx_of(spec.name, key, cc), cc, ptxas)
                rows.append(
                    {
                        "kernel": spec.name,
                        "key": "/".join(key),
                        "cc": f"sm_{cc[0]}{cc[1]}",
                        **info,
                        "threads_per_block": threads,
                        "register_bound": register_bound(threads),
                    }
                )
    return rows


def markdown(table: dict[str, Any]) -> str:
    lines = [
        "# Registers, spills and shared memory of every CUDA kernel (ptxas -v)",
        "",
        f"Commit {table['commit'][:12]}{'' if table['tree_clean'] else ' (uncommitted changes)'}, "
        f"{table['machine']}, {table['date']}; {table['ptxas']}, numba-cuda {table['numba_cuda']}. "
        "Written by `python -m benchmarks.ptx_registers`; `tests/test_ptx.py` compares a fresh "
        "build with this table. Bound: registers allocated in units of 8 per thread, "
        "`ceil(regs / 8) * 8 * threads_per_block <= 65536`.",
        "",
        "| kernel | dtype | cc | registers | bound | threads/block | spills (st/ld bytes) | stack | shared bytes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table["kernels"]:
        lines.append(
            f"| {r['kernel']} | {r['key']} | {r['cc']} | {r['registers']} | {r['register_bound']} "
            f"| {r['threads_per_block']} | {r['spill_stores']}/{r['spill_loads']} "
            f"| {r['stack_bytes']} | {r['shared_bytes']} |"
        )
    worst = max(table["kernels"], key=lambda r: r["registers"] / r["register_bound"])
    lines += [
        "",
        f"Worst kernel: {worst['kernel']} ({worst['key']}, {worst['cc']}), {worst['registers']} "
        f"registers of a bound of {worst['register_bound']} at {worst['threads_per_block']} "
        "threads per block.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ptxas = find_ptxas()
    if ptxas is None:
        raise SystemExit("no ptxas: pip install 'netcore[cuda-build]' (nvidia-cuda-nvcc)")
    table = {
        **provenance(),
        "ptxas": ptxas_version(ptxas),
        "numba_cuda": importlib.metadata.version("numba-cuda"),
        "kernels": build(ptxas),
    }
    RESULT.write_text(json.dumps(table, indent=1) + "\n")
    RESULT.with_suffix(".md").write_text(markdown(table))
    print(markdown(table))


if __name__ == "__main__":
    main()
