"""What the never-write-NaN guarantee of the optimizer updates costs a CPU training step.

Three copies of the course MLP (same seed: same weights, the same batches in the same order)
train side by side, a chunk of ``--chunk`` steps (fit's per-batch step) each in turn, so all
see the same machine load:

* ``off``: the updates write without any check (``CPUBackend._check_updates = False``);
* ``checked``: netcore as shipped: Adam's check pass over its four arrays (a sufficient
  bound, exact values only where it fails), then the writing pass.

Per mode and batch size the fastest chunk's milliseconds per step are kept (the least
disturbed by other work on a shared machine: short chunks, as whole epochs are rarely left
alone on a busy 2-core machine), and the median. The three trainings must end with identical
weights ("same work" check; exit status 1 otherwise). Run from the repository root, with
OpenBLAS's own kernel choice::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/nonfinite_check.py \\
        --json benchmarks/results/nonfinite_check_cpu.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``netcore`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402

MODES = ("off", "checked")


def build(mode: str) -> Any:
    model = common.build_model("cpu")
    model.backend._check_updates = mode != "off"
    return model


def measure(samples: int, batch_sizes: Sequence[int], rounds: int, chunk: int) -> dict[str, Any]:
    x, y = common.make_data(samples)
    rows: list[dict[str, Any]] = []
    for bs in batch_sizes:
        models = {mode: build(mode) for mode in MODES}
        batches = [(x[s : s + bs], y[s : s + bs]) for s in range(0, samples - bs + 1, bs)]
        for m in models.values():  # warm-up: kernels, buffers, BLAS threads
            m.fit(x[: 2 * bs], y[: 2 * bs], batch_size=bs, epochs=1, shuffle=False, verbose=0)
        steps = {mode: m._train_step for mode, m in models.items()}  # fit's per-batch step
        ms: dict[str, list[float]] = {mode: [] for mode in MODES}
        k = 0
        for _ in range(rounds):
            todo = [batches[(k + j) % len(batches)] for j in range(chunk)]
            k += chunk
            for mode, step in steps.items():
                t0 = time.perf_counter()
                for xb, yb in todo:
                    step(xb, yb)
                ms[mode].append((time.perf_counter() - t0) / chunk * 1e3)
        ref = models["off"].get_weights()
        same = all(
            all(np.array_equal(a, b) for a, b in zip(ref, models[k].get_weights()))
            for k in MODES[1:]
        )
        best = {mode: min(v) for mode, v in ms.items()}
        rows.append(
            {
                "batch_size": bs,
                "ms_per_step_fastest": best,
                "ms_per_step_median": {mode: statistics.median(v) for mode, v in ms.items()},
                "cost_pct": 100 * (best["checked"] / best["off"] - 1),
                "identical_weights": same,
            }
        )
        print(
            f"batch {bs:4d}: off {best['off']:.3f} ms, checked {best['checked']:.3f} ms "
            f"({rows[-1]['cost_pct']:+.1f}%), same weights: {same}"
        )
    return {"rows": rows}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=4096, help="samples the batches cycle over")
    ap.add_argument("--batch-sizes", default="32,128")
    ap.add_argument("--rounds", type=int, default=60, help="timed chunks per mode")
    ap.add_argument("--chunk", type=int, default=8, help="steps per timed chunk")
    ap.add_argument("--json", type=Path, help="write the results here (and a .md beside it)")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_info

    blas = [
        {k: d.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for d in threadpool_info()
    ]
    print("BLAS:", blas)
    prov = common.provenance()  # the code measured: the checkout as the run starts
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    load_before = os.getloadavg()
    res = measure(args.samples, sizes, args.rounds, args.chunk)
    res.update(
        samples=args.samples,
        rounds=args.rounds,
        chunk=args.chunk,
        blas=blas,
        dtype="float32",
        # the machine's other work: 1-minute load average before and after (2 cores here)
        load_average_1min=[round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    )
    if args.json:
        common.write_json_result(args.json, res, prov)
        lines = [
            "# Cost of the never-write-NaN update check, CPU (course MLP, Adam)",
            "",
            f"Fastest of {args.rounds} interleaved chunks of {args.chunk} training steps per mode,"
            " ms per step; load average (1 min) before / after: "
            + " / ".join(map(str, res["load_average_1min"]))
            + f" on {os.cpu_count()} cores;"
            " BLAS: " + ", ".join(f"{b['internal_api']} {b['architecture']}" for b in blas) + ".",
            "",
            "| batch | check off | check on | cost |",
            "|---|---|---|---|",
        ]
        for r in res["rows"]:
            b = r["ms_per_step_fastest"]
            lines.append(
                f"| {r['batch_size']} | {b['off']:.3f} ms | {b['checked']:.3f} ms | "
                f"{r['cost_pct']:+.1f}% |"
            )
        common.write_md_result(args.json.with_suffix(".md"), "\n".join(lines), prov)
    return 0 if all(r["identical_weights"] for r in res["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
