"""Data-parallel training on the CPU: samples/s of one process against ``mpiexec -n 2``.

A script, not part of the asv suite (asv finds no benchmark names here)::

    python benchmarks/bench_distributed.py [--samples 16384] [--batch-sizes 128 1024]
        [--repeats 5] [--out benchmarks/results/distributed_cpu.md]

Workload: the course MLP (784-512-512-10, Adam, float32, 669,706 weights: a 2.7 MB gradient)
on ``benchmarks._common.make_data``. For each global batch size it times ``fit`` over
``--samples`` rows (after a short warm-up) in four set-ups, each a fresh process group:

* 1 process, 1 BLAS thread;
* 1 process, 2 BLAS threads (what one process makes of this machine's 2 cores);
* ``mpiexec -n 2``, 1 BLAS thread per rank, overlapped bucketed allreduce (and once more
  with one allreduce after backward).

The set-ups take turns, ``--repeats`` rounds, and the fastest run of each counts (the
machine is shared). For the MPI runs it also reports the time each step waited after
backward (for its reductions, and for the slower rank), and a bare ``Allreduce`` of the
2.7 MB buffer. Scaling efficiency = samples/s of 2 ranks /
(2 x samples/s of 1 process with 1 thread); against the 2-thread process it is the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _worker(args: argparse.Namespace) -> None:
    """One timed run; rank 0 prints one JSON line."""
    sys.path.insert(0, str(REPO))
    from benchmarks import _common as common
    from netcore.distribution import DataParallel

    dist = DataParallel(overlap=not args.one_allreduce)
    with dist.scope():
        x, y = common.make_data(args.samples)
        model = common.build_model("cpu")
        model.fit(
            x[: args.batch * 4], y[: args.batch * 4], batch_size=args.batch, epochs=1, verbose=0
        )
        dist.wait_seconds, dist.steps = 0.0, 0
        dist.barrier()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
        dist.barrier()
        seconds = time.perf_counter() - t0
    bare = None
    if dist.world_size > 1:
        buf = np.ones(model._flat_grads.size, dtype=np.float32)
        times = []
        for _ in range(20):
            dist.barrier()
            t = time.perf_counter()
            dist.comm.allreduce(buf)
            times.append(time.perf_counter() - t)
        bare = statistics.median(times)
    if dist.is_chief:
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "samples_per_s": args.samples / seconds,
                    "steps": dist.steps,
                    "wait_per_step_s": dist.wait_seconds / max(dist.steps, 1),
                    "bare_allreduce_s": bare,
                    "gradient_bytes": int(model._flat_grads.nbytes),
                }
            )
        )


def _mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.is_file() else "mpiexec"


def _run(ranks: int, threads: int, batch: int, samples: int, one_allreduce: bool = False) -> dict:
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        PYTHONPATH=str(REPO),
    )
    cmd = [sys.executable, __file__, "--worker", "--batch", str(batch), "--samples", str(samples)]
    if one_allreduce:
        cmd.append("--one-allreduce")
    if ranks > 1:
        cmd = [_mpiexec(), "-n", str(ranks), *cmd]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


SETUPS = [
    ("1 process, 1 thread", 1, 1, False),
    ("1 process, 2 threads", 1, 2, False),
    ("2 ranks x 1 thread, overlapped", 2, 1, False),
    ("2 ranks x 1 thread, one allreduce", 2, 1, True),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--one-allreduce", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    p.add_argument("--samples", type=int, default=16384)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    args = p.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    # Round-robin over the set-ups, so that the other work on the machine weighs on all alike.
    runs: dict[tuple[int, str], list[dict]] = {}
    for _ in range(args.repeats):
        for batch in args.batch_sizes:
            for label, ranks, threads, one in SETUPS:
                run = _run(ranks, threads, batch, args.samples, one)
                runs.setdefault((batch, label), []).append(run)
                print(
                    f"batch {batch:5d}  {label:34s} {run['samples_per_s']:9.0f} samples/s",
                    flush=True,
                )
    rows = []
    for batch in args.batch_sizes:
        for label, ranks, threads, _ in SETUPS:
            tries = runs[(batch, label)]
            best = max(tries, key=lambda r: r["samples_per_s"])
            best.update(
                setup=label,
                batch=batch,
                ranks=ranks,
                threads=threads,
                all_samples_per_s=[round(r["samples_per_s"]) for r in tries],
            )
            rows.append(best)
    report = _report(rows, args)
    print(report)
    if args.out is not None:
        sys.path.insert(0, str(REPO))
        from benchmarks import _common as common

        prov = common.provenance()
        common.write_md_result(args.out, report, prov)
        common.write_json_result(args.out.with_suffix(".json"), rows, prov)
    return 0


def _report(rows: list[dict], args: argparse.Namespace) -> str:
    from mpi4py import MPI

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        "# Data-parallel training on the CPU: 1 process against `mpiexec -n 2`",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu}, {os.cpu_count()} cores "
        f"(a VM shared with other work), Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{MPI.Get_library_version().splitlines()[0].strip()} (shared memory), by "
        f"`python benchmarks/bench_distributed.py --samples {args.samples} --batch-sizes "
        f"{' '.join(map(str, args.batch_sizes))} --repeats {args.repeats}`.",
        "",
        "Course MLP 784-512-512-10, float32, Adam; one epoch of "
        f"{args.samples} rows after a warm-up; the fastest of {args.repeats} runs. "
        "Efficiency = samples/s / (ranks x samples/s of 1 process with 1 thread); "
        "speed-up = against 1 process with 2 threads (the same 2 cores).",
        "",
        "| global batch | set-up | samples/s | ms/step | wait after backward, ms/step (slower rank included) | "
        "bare 2.7 MB Allreduce (ms) | efficiency | speed-up vs 2 threads |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for batch in args.batch_sizes:
        group = {r["setup"]: r for r in rows if r["batch"] == batch}
        one = group["1 process, 1 thread"]["samples_per_s"]
        two = group["1 process, 2 threads"]["samples_per_s"]
        for label, ranks, _, _ in SETUPS:
            r = group[label]
            sps = r["samples_per_s"]
            wait = f"{1000 * r['wait_per_step_s']:.2f}" if ranks > 1 else "-"
            bare = f"{1000 * r['bare_allreduce_s']:.2f}" if r.get("bare_allreduce_s") else "-"
            lines.append(
                f"| {batch} | {label} | {sps:,.0f} | {1000 * batch / sps:.2f} | {wait} | {bare} | "
                f"{sps / (ranks * one):.2f} | {sps / two:.2f} |"
            )
    lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
