"""The device check's report: targets, the Markdown file, the closing summary.

Pure functions of ``device_check``'s results dict (sections, kernels, launch, compare) and its
list of failures, so the check itself stays about measuring.
"""

from __future__ import annotations

from typing import Any

#: Targets of every fused kernel: share of the measured D2D copy bandwidth at the largest
#: size, and host launch overhead per backend op on the default launch path.
TARGET_PCT_COPY = 70.0
TARGET_HOST_US = 20.0


def _verdict(value: float | None, ok: bool) -> str:
    return "-" if value is None else ("met" if ok else "MISSED")


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per fused op: % of copy bandwidth (largest shape) and host us/op against the targets."""
    kernels, launch = results["kernels"], results["launch"]
    if not kernels and not launch:
        return []
    path = results["meta"].get("launch_path", "raw")
    shapes = [r["shape"] for r in kernels]
    big = shapes[-1] if shapes else None
    names = list(dict.fromkeys(r["op"] for r in kernels))
    if not names:
        names = list(
            dict.fromkeys(
                r["what"].removeprefix("backend op: ")
                for r in launch
                if r["what"].startswith("backend op: ")
            )
        )
    rows = []
    for name in names:
        k: dict[str, Any] = next((r for r in kernels if r["op"] == name and r["shape"] == big), {})
        h: dict[str, Any] = next(
            (r for r in launch if r["what"] == f"backend op: {name}" and r["path"] == path), {}
        )
        pct, us = k.get("pct_copy"), h.get("host_us")
        rows.append(
            {
                "op": name,
                "shape": big,
                "pct_copy": pct,
                "host_us": us,
                "path": path,
                "bw_target": _verdict(pct, pct is not None and pct >= TARGET_PCT_COPY),
                "launch_target": _verdict(us, us is not None and us <= TARGET_HOST_US),
            }
        )
    return rows


def markdown(results: dict[str, Any], failures: list[str]) -> list[str]:
    """The lines of ``device_check.md``."""
    meta = results["meta"]
    md = [
        f"# netcore device check: {meta.get('device', '?')}",
        "",
        f"- run: {meta.get('date', '?')}, commit {meta.get('commit', '?')}"
        f"{'' if meta.get('tree_clean', True) else ' (uncommitted changes)'}, "
        f"host {meta.get('host', '?')}",
        f"- backend: {meta.get('backend', '?')}",
        f"- versions: python {meta.get('python')}, numpy {meta.get('numpy')}, numba "
        f"{meta.get('numba')}, numba-cuda {meta.get('numba_cuda')}, "
        f"cupy {meta.get('cupy', '-')}, torch {meta.get('torch')}",
        f"- driver {meta.get('driver', '-')}, runtime {meta.get('runtime', '-')}, "
        f"cc {meta.get('compute_capability', '-')}, smoke={meta.get('smoke')}",
        f"- total {results['seconds']} s; failures: {len(failures)}",
        "",
    ]
    md += ["## Sections", "", "| section | status | s |", "|---|---|---|"]
    md += [f"| {k} | {v['status']} | {v['seconds']} |" for k, v in results["sections"].items()]
    if results.get("pytest"):
        md += ["", "## pytest", "", "| run | rc | summary |", "|---|---|---|"]
        md += [f"| {k} | {v['rc']} | {v['summary']} |" for k, v in results["pytest"].items()]
    if results["kernels"]:
        cp = results["copy"]
        md += [
            "",
            f"## Fused kernels (float32; D2D copy {cp.get('shape')}: {cp.get('us')} us, "
            f"{cp.get('GBps')} GB/s)",
            "",
            "| op | shape | fused us | unfused CuPy us | speedup | GB/s | % of copy |",
            "|---|---|---|---|---|---|---|",
        ]
        md += [
            f"| {r['op']} | {r['shape']} | {r.get('fused_us', 'ERR')} | "
            f"{r.get('unfused_us', '')} | {r.get('speedup', '')} | {r.get('GBps', '')} | "
            f"{r.get('pct_copy', '')} |"
            for r in results["kernels"]
        ]
    if results.get("conv_kernels"):
        md += [
            "",
            "## Convolution, pooling, batch-norm kernels (course CNN shapes, float32)",
            "",
            "| op | shape | fused us | unfused CuPy us | speedup | GB/s | % of copy | max rel diff |",
            "|---|---|---|---|---|---|---|---|",
        ]
        md += [
            f"| {r['op']} | {r['shape']} | {r.get('fused_us', 'ERR')} | "
            f"{r.get('unfused_us', '')} | {r.get('speedup', '')} | {r.get('GBps', '')} | "
            f"{r.get('pct_copy', '')} | {r.get('max_rel_diff', '')} |"
            for r in results["conv_kernels"]
        ]
    if results["launch"]:
        md += [
            "",
            "## Host launch overhead (tiny arrays, back-to-back)",
            "",
            "| what | path | host us/call |",
            "|---|---|---|",
        ]
        md += [
            f"| {r['what']} | {r['path']} | {r.get('host_us', r.get('error'))} |"
            for r in results["launch"]
        ]
    if results.get("targets"):
        md += [
            "",
            f"## Targets: >= {TARGET_PCT_COPY:.0f}% of copy bandwidth, "
            f"<= {TARGET_HOST_US:.0f} us host launch overhead per op",
            "",
            "| op | shape | % of copy | bandwidth target | host us/op | path | launch target |",
            "|---|---|---|---|---|---|---|",
        ]
        md += [
            f"| {r['op']} | {r['shape']} | {r['pct_copy']} | {r['bw_target']} | "
            f"{r['host_us']} | {r['path']} | {r['launch_target']} |"
            for r in results["targets"]
        ]
    if results.get("capture"):
        md += [
            "",
            "## Eager and captured (jit_compile=True) epochs of the course MLP",
            "",
            "| batch | steps | eager s | captured s | captured/eager | eager us/step | "
            "captured us/step | replay host us | loss rel diff |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        md += [
            f"| {r['batch_size']} | {r['steps']} | {r.get('eager_s')} | {r.get('captured_s', '-')} | "
            f"{r.get('captured_over_eager', '-')} | {r.get('eager_step_us')} | "
            f"{r.get('captured_step_us', '-')} | {r.get('replay_host_us', '-')} | "
            f"{r.get('loss_rel_diff', '-')} |"
            for r in results["capture"]
        ]
    sc = results.get("selfcheck")
    if sc:
        md += [
            "",
            "## The captured step's self-check (first capture against an eager step)",
            "",
            f"On {sc['device']}, batch {sc['batch_size']}: the checked step took "
            f"{sc['checked_step_s']} s against {sc['step_s']} s for a plain step "
            f"({sc['extra_steps']:.2f} steps extra, once per model, batch size and optimizer); "
            "a graph with a frozen Adam rate was "
            + ("caught." if sc["frozen_rate_caught"] else "**not caught**."),
        ]
    cmp = results["compare"]
    if cmp:
        md += [
            "",
            "## One epoch of the course MLP: netcore, PyTorch, GEMM floor (compare.py)",
            "",
            f"`benchmarks/compare.py {' '.join(cmp['argv'])}` (exit {cmp['rc']}; full results "
            f"in `{cmp['json']}`; PyTorch: {cmp['torch']})",
            "",
            "```",
            *cmp["table"],
            "```",
        ]
        md += [f"- {line}" for line in cmp["targets"]]
    cnn = results.get("compare_cnn")
    if cnn:
        md += [
            "",
            "## One training step of the course CNN: netcore against PyTorch (compare_cnn.py)",
            "",
            f"`benchmarks/compare_cnn.py {' '.join(cnn['argv'])}` (exit {cnn['rc']}; full "
            f"results in `{cnn['json']}`; fastest epoch of each side)",
            "",
            "| batch | netcore ms/step | PyTorch ms/step | netcore / PyTorch |",
            "|---|---|---|---|",
        ]
        for b, ms in cnn["step_ms"].items():
            ratio = cnn["ratio_netcore_over_torch"][b]
            md.append(
                f"| {b} | {ms['netcore']:.2f} | "
                + ("-" if ms["torch"] is None else f"{ms['torch']:.2f}")
                + f" | {'-' if ratio is None else f'{ratio:.2f}'} |"
            )
    if failures:
        md += ["", "## Failures", ""] + [f"- {f}" for f in failures]
    return md


def print_summary(results: dict[str, Any], failures: list[str], seconds: float) -> None:
    """The closing summary on standard output."""
    meta = results["meta"]
    print("\n" + "=" * 100)
    print(f"device: {meta.get('device', '?')}   backend: {meta.get('backend', '?')}")
    for k, v in results["sections"].items():
        print(f"  {k:12s} {v['status'][:80]:80s} {v['seconds']:6.1f}s")
    if results["kernels"]:
        print(
            f"\n  {'op':22s} {'shape':10s} {'fused us':>10s} {'unfused us':>11s} {'x':>6s} "
            f"{'GB/s':>8s} {'%copy':>6s}"
        )
        for r in results["kernels"]:
            print(
                f"  {r['op']:22s} {r['shape']:10s} {r.get('fused_us', 'ERR')!s:>10s} "
                f"{r.get('unfused_us', '')!s:>11s} {r.get('speedup', '')!s:>6s} "
                f"{r.get('GBps', '')!s:>8s} {r.get('pct_copy', '')!s:>6s}"
            )
    if results["launch"]:
        print()
        for r in results["launch"]:
            print(f"  {r['what']:36s} {r['path']:22s} {r.get('host_us', 'ERR')!s:>8s} us")
    if results["compare"]:
        print()
        for line in results["compare"]["table"] + results["compare"]["targets"]:
            print(f"  {line}")
    rows = results.get("targets") or targets(results)
    if rows:
        print(
            f"\n  targets: >= {TARGET_PCT_COPY:.0f}% of copy bandwidth (largest shape), "
            f"<= {TARGET_HOST_US:.0f} us host per op ({rows[0]['path']} path)"
        )
        print(f"  {'op':22s} {'shape':10s} {'%copy':>6s} {'bw':>7s} {'host us':>8s} {'launch':>7s}")
        for r in rows:
            print(
                f"  {r['op']:22s} {r['shape']!s:10s} {r['pct_copy']!s:>6s} {r['bw_target']:>7s} "
                f"{r['host_us']!s:>8s} {r['launch_target']:>7s}"
            )
    print(f"\n{len(failures)} failure(s); {seconds:.1f} s total")
    for f in failures:
        print(f"  FAIL {f}")
