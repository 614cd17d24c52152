"""Plot ``compare.py`` results: samples per second against batch size, per device and framework.

Merges any number of ``compare.py --json`` files (typically one CPU run from a dev machine and
one GPU run from the device machine); later files win where two give the same device and batch
size. Writes a PNG and, with ``--markdown``, prints the table that ``docs/benchmarks.md`` quotes::

    python benchmarks/plot_results.py benchmarks/results/compare_cpu.json \\
        benchmarks/results/compare_gpu.json -o docs/_static/benchmarks.png --markdown
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Line colour per device; line style per series.
_COLOURS = {"cpu": "tab:blue", "cuda": "tab:green"}
_SERIES = (
    ("netcore", "netcore_samples_per_s", "-", "o"),
    ("PyTorch", "torch_samples_per_s", "--", "s"),
    ("GEMM floor", "gemm_samples_per_s", ":", None),
)


def load(
    paths: Sequence[str | Path],
) -> tuple[dict[tuple[str, int], dict[str, Any]], dict[str, dict[str, Any]]]:
    """Merge result files: ``({(device, batch): row}, {device: machine info of its run})``."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    machines: dict[str, dict[str, Any]] = {}
    for p in paths:
        data = json.loads(Path(p).read_text())
        if "results" not in data or "machine" not in data:
            raise ValueError(f"{p}: not a compare.py --json file (no 'results'/'machine')")
        for r in data["results"]:
            rows[(r["device"], int(r["batch_size"]))] = r
            machines[r["device"]] = data["machine"]
    return rows, machines


def device_label(device: str, machine: dict[str, Any]) -> str:
    """``CPU (AMD EPYC, 2 cores)`` or ``GPU (NVIDIA H100 ...)``."""
    if device == "cuda":
        return f"GPU ({machine.get('gpu', 'CUDA')})"
    return f"CPU ({machine.get('cpu', '?')}, {machine.get('cores', '?')} cores)"


def plot(
    rows: dict[tuple[str, int], dict[str, Any]],
    machines: dict[str, dict[str, Any]],
    out: str | Path,
) -> Path:
    """Draw the log-log plot into ``out`` (PNG) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6.2), dpi=120)
    for device in ("cpu", "cuda"):
        pts = sorted((b, r) for (d, b), r in rows.items() if d == device)
        if not pts:
            continue
        label = device_label(device, machines.get(device, {}))
        for name, key, style, marker in _SERIES:
            xs = [b for b, r in pts if r.get(key)]
            ys = [r[key] for b, r in pts if r.get(key)]
            if not xs:
                continue
            ax.plot(
                xs,
                ys,
                linestyle=style,
                marker=marker,
                color=_COLOURS[device],
                alpha=0.55 if name == "GEMM floor" else 1.0,
                linewidth=1.2 if name == "GEMM floor" else 2.0,
                label=f"{name}, {label}",
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    batches = sorted({b for _, b in rows})
    ax.set_xticks(batches)
    ax.set_xticklabels([str(b) for b in batches])
    ax.set_xlabel("batch size")
    ax.set_ylabel("training samples per second (one epoch, median)")
    n = next(iter(rows.values()))["samples"] if rows else 0
    ax.set_title(
        f"MLP 784-512-512-10, Adam, float32: epoch of {n:,} samples\n"
        "(GEMM floor: the step's 8 matrix products alone)",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def markdown_table(rows: dict[tuple[str, int], dict[str, Any]]) -> str:
    """The medians and ratios as a Markdown table."""

    def f(v: float | None, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    lines = [
        "| device | batch | netcore epoch (s) | PyTorch epoch (s) | GEMM floor (s) "
        "| netcore / PyTorch | netcore / GEMM floor | netcore samples/s "
        "| first-epoch loss netcore / PyTorch | lockstep loss diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for (device, b), r in sorted(rows.items()):
        med = r["median_s"]
        lf = r.get("loss_first_epoch")
        loss = f"{lf['netcore']:.5f} / {lf['torch']:.5f}" if lf else "n/a"
        lines.append(
            f"| {device} | {b} | {med['netcore']:.3f} | {f(med.get('torch'), '.3f')} "
            f"| {med['gemm']:.3f} | {f(r.get('ratio_netcore_over_torch'), '.2f')} "
            f"| {r['ratio_netcore_over_gemm']:.2f} | {r['netcore_samples_per_s']:,.0f} | {loss} "
            f"| {f(r.get('lockstep', {}).get('max_rel_loss_diff'), '.1e')} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("json", nargs="+", help="compare.py --json result files (CPU, GPU, ...)")
    p.add_argument("-o", "--output", default="docs/_static/benchmarks.png", help="PNG to write")
    p.add_argument("--markdown", action="store_true", help="also print the Markdown table")
    args = p.parse_args(argv)
    rows, machines = load(args.json)
    if not rows:
        print("no results in the given files", file=sys.stderr)
        return 1
    out = plot(rows, machines, args.output)
    print(f"wrote {out}")
    if args.markdown:
        print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
