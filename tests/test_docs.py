"""Every Python example in README.md and docs/*.md runs, in page order, and prints what the
page says it prints; every picture a page shows is committed, and each picture of the
tutorial is written by the code block right before it.

The runner is docs/make_figures.py (the same code makes the pictures for ``make docs``). A
block preceded by ``<!-- needs: fashion-mnist -->`` (or ``sign-mnist``, ``mnist-full``) runs
only where that data set is found; ``<!-- no-exec: reason -->`` marks a block that cannot run
here (a GPU example). A ``text`` block right after a Python block is the output it must print.
Sign-Language-MNIST needs a Kaggle account, so where it is absent the tutorial's example runs
on a small stand-in of the same CSV format.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
assert _spec is not None and _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
sys.modules["make_figures"] = runner  # dataclasses look their module up by name
_spec.loader.exec_module(runner)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def write_sign_mnist_stand_in(folder: Path) -> None:
    """Two small CSVs in Kaggle's Sign-Language-MNIST format: every letter but J, random pixels."""
    from netcore.datasets import sign_mnist

    rng = np.random.default_rng(0)
    header = ",".join(["label"] + [f"pixel{i}" for i in range(1, 785)])
    folder.mkdir(parents=True)
    for name, rows in (("sign_mnist_train.csv", 96), ("sign_mnist_test.csv", 48)):
        labels = np.resize(sign_mnist.PRESENT_LABELS, rows)
        pixels = rng.integers(0, 256, size=(rows, 784))
        lines = [",".join(map(str, [label, *row])) for label, row in zip(labels, pixels)]
        (folder / name).write_text("\n".join([header, *lines]) + "\n")


def sign_mnist_installed() -> bool:
    from netcore.datasets import DatasetError, sign_mnist

    try:
        sign_mnist.find_files("train")
    except DatasetError:
        return False
    return True


@pytest.mark.parametrize(
    "page", [p for p in runner.PAGES if runner.blocks(p)], ids=lambda p: p.name
)
def test_page_examples_run_and_print_what_the_page_states(page, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if page == runner.TUTORIAL and not sign_mnist_installed():
        write_sign_mnist_stand_in(tmp_path / "data" / "sign-mnist")
        monkeypatch.setenv("NETCORE_DATA", str(tmp_path / "data"))
    work = tmp_path / "work"
    skipped, checked = [], 0
    for block, reason, printed in runner.run_page(page, work):
        if reason is not None:
            skipped.append(f"{block.name}: {reason}")
            continue
        if block.output is not None:
            checked += 1
            assert runner.outputs_match(block.output, printed), (
                f"{block.name} printed:\n{printed}\nbut the page states:\n{block.output}"
            )
    if page == runner.TUTORIAL:
        made = {name for name in runner.linked_pictures(page) if (work / name).is_file()}
        assert made == set(runner.linked_pictures(page)), "linked pictures no block wrote"
        assert checked >= 15
    if skipped and len(skipped) == len(runner.blocks(page)):
        pytest.skip("; ".join(skipped))


@pytest.mark.parametrize("page", runner.PAGES, ids=lambda p: p.name)
def test_every_picture_a_page_shows_is_committed(page):
    for link in IMAGE.findall(page.read_text()):
        if "://" in link:
            continue
        picture = page.parent / link
        assert picture.is_file(), f"{page.name} shows {link}, which is not in the repository"
        assert picture.read_bytes()[:8] == PNG_MAGIC
        assert picture.stat().st_size < 300_000, f"{link} is large for a committed picture"


def test_each_tutorial_picture_is_made_by_the_block_just_before_it():
    text = runner.TUTORIAL.read_text()
    pictures = runner.linked_pictures(runner.TUTORIAL)
    assert {
        "mnist_samples.png",
        "mnist_predictions.png",
        "trendlines.png",
        "xent.png",
        "linear_fit.png",
        "overfitting.png",
    } <= set(pictures)
    for name in pictures:
        link = text.index(f"(_static/tutorial/{name})")
        code = text.rindex("```python\n", 0, link)
        block = text[code : text.index("```\n", code + 10)]
        assert f'"{name}"' in block, f"{name} is not written by the code block before it"


@pytest.mark.parametrize(
    "stated,printed,same",
    [
        ("validation loss 0.170, accuracy 0.965", "validation loss 0.171, accuracy 0.962", True),
        ("validation loss 0.170, accuracy 0.965", "validation loss 0.170, accuracy 0.900", False),
        ("[2.5, 112.5, 18022.5]\n", "[2.5, 112.5, 18022.5]\n", True),
        ("[2.5, 112.5, 18022.5]\n", "[2.5, 112.5]\n", False),
        ("loss 0.1 -> 0.0043", "loss 0.1 => 0.0043", False),
        ("sgd   lr 0.01", "sgd lr 0.01", True),  # spacing may differ
        ("2.5\n", "", False),
    ],
)
def test_outputs_match_allows_last_digit_noise_but_not_other_words_or_numbers(
    stated, printed, same
):
    assert runner.outputs_match(stated, printed) is same


def test_blocks_pair_code_with_its_stated_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n```python\nprint(1 + 1)\n```\n\n```text\n2\n```\n\n"
        "<!-- needs: sign-mnist -->\n```python\nprint(3)\n```\n"
    )
    first, second = runner.blocks(page)
    assert (first.code, first.output, first.tag) == ("print(1 + 1)\n", "2\n", None)
    assert (second.tag, second.arg, second.output) == ("needs", "sign-mnist", None)
    assert [printed for _, _, printed in runner.run_page(page, tmp_path / "w")][0] == "2\n"


API_MODULES = [
    "netcore",
    "netcore.layers",
    "netcore.optimizers",
    "netcore.optimizers.schedules",
    "netcore.utils",
    "netcore.callbacks",
    "netcore.keras_support",
    "netcore.datasets",
    "netcore.datasets.mnist",
    "netcore.datasets.fashion_mnist",
    "netcore.datasets.sign_mnist",
    "netcore.plotting",
    "netcore.course",
    "netcore.course.linear",
    "netcore.distribution",
    "netcore.export",
    "netcore.preprocessing.image",
]


def _resolve(path: str) -> object:
    import importlib

    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


@pytest.mark.parametrize("module", API_MODULES)
def test_api_page_lists_every_public_function_and_class(module):
    import importlib
    import inspect

    targets = re.findall(r"^\.\. auto\w+:: (\S+)", (ROOT / "docs" / "api.md").read_text(), re.M)
    documented = {id(_resolve(t)) for t in targets}
    mod = importlib.import_module(module)
    # Without __all__, the public names are those defined in the module without a leading _.
    names = getattr(mod, "__all__", None) or [
        name
        for name, obj in vars(mod).items()
        if not name.startswith("_") and getattr(obj, "__module__", None) == module
    ]
    public = [
        name
        for name in names
        if callable(getattr(mod, name)) and not inspect.ismodule(getattr(mod, name))
    ]
    assert public, f"{module} exports nothing callable"
    missing = [name for name in public if id(getattr(mod, name)) not in documented]
    assert not missing, f"docs/api.md does not list {module}: {missing}"


def _demo_train_argv(out: Path) -> list[str]:
    """The arguments ``make demo`` gives ``netcore train``, read from the Makefile."""
    makefile = (ROOT / "Makefile").read_text()
    demo_train = re.search(r"^DEMO_TRAIN \?= (.+)$", makefile, re.M)
    command = re.search(r"-m netcore train \$\(DEMO_TRAIN\) (.+)$", makefile, re.M)
    assert demo_train and command, "the Makefile's demo no longer trains with $(DEMO_TRAIN)"
    argv = ["train", *demo_train.group(1).split(), *command.group(1).split()]
    return [*argv[: argv.index("--out")], "--out", str(out)]


def test_readme_states_what_make_demo_prints(tmp_path, monkeypatch, capsys):
    from netcore import cli
    from netcore.datasets import _locate

    # A fresh machine: no MNIST anywhere, no network, the CPU backend.
    monkeypatch.delenv("NETCORE_DATA", raising=False)
    monkeypatch.setenv("NETCORE_BACKEND", "cpu")
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_locate, "SYSTEM_DIRS", (tmp_path / "system",))

    def no_network(url: str, out: Path, *, desc: str) -> None:
        raise AssertionError(f"make demo must not download; it fetched {url}")

    monkeypatch.setattr(_locate, "fetch", no_network)
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```text\n", readme.index("trains for two epochs")) + len("```text\n")
    stated = readme[start : readme.index("```\n", start)].splitlines()
    assert cli.main(_demo_train_argv(tmp_path / "demo")) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in stated:
        assert any(runner.outputs_match(line, p) for p in printed), (
            f"README states {line!r}; make demo printed:\n" + "\n".join(printed[-12:])
        )


RESULTS = ROOT / "benchmarks" / "results"
#: The result file behind each device's rows of the docs' benchmark tables.
RESULT_FILES = {"cpu": "compare_cpu.json", "cuda": "compare_gpu_h100.json"}


def _results(device: str) -> dict[int, dict[str, Any]]:
    import json

    rows = json.loads((RESULTS / RESULT_FILES[device]).read_text())["results"]
    return {row["batch_size"]: row for row in rows}


def _states(cell: str, value: float) -> bool:
    """``cell`` is ``value`` written with the digits it shows (``1.46``, ``39,358``,
    ``1.8e-07``): within half a unit of its last digit."""
    text = cell.replace(",", "")
    if "e" in text:
        mantissa = text.split("e")[0]
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return math.isclose(float(text), value, rel_tol=0.5 * 10**-digits * 1.01)
    digits = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10**-digits + 1e-12


def test_benchmark_tables_state_what_the_result_files_hold():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    rows = re.findall(r"^\| (cpu|cuda) \| (\d+) \|(.+)\|$", text, re.M)
    assert len(rows) == 8, "expected the CPU and the H100 table, four batch sizes each"
    for device, batch, rest in rows:
        r = _results(device)[int(batch)]
        cells = [c.strip() for c in rest.split("|")]
        med = r["median_s"]
        expected = [
            med["netcore"],
            med["torch"],
            med["gemm"],
            r["ratio_netcore_over_torch"],
            r["ratio_netcore_over_gemm"],
            r["netcore_samples_per_s"],
        ]
        for cell, value in zip(cells, expected):
            assert _states(cell, value), f"{device} b={batch}: {cell} but the file has {value}"
        if device == "cpu":
            ours, theirs = cells[6].split(" / ")
            first = r["loss_first_epoch"]
            assert _states(ours, first["netcore"]) and _states(theirs, first["torch"])
            assert _states(cells[7], r["lockstep"]["max_rel_loss_diff"])


def test_distributed_step_times_are_the_fastest_epochs_of_the_result_files():
    text = (ROOT / "docs" / "distributed.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ([\d.]+) ms \| ([\d.]+) ms \|$", text, re.M)
    assert [int(b) for b, _, _ in rows] == [128, 1024, 8192]
    for batch, cpu, gpu in rows:
        steps = math.ceil(60_000 / int(batch))
        for cell, device in ((cpu, "cpu"), (gpu, "cuda")):
            fastest = _results(device)[int(batch)]["min_s"]["netcore"]
            assert math.isclose(float(cell), 1000 * fastest / steps, rel_tol=0.05), (
                f"distributed.md: b={batch} {device} {cell} ms, the file: "
                f"{1000 * fastest / steps:.3f} ms"
            )


#: The ops of benchmarks.md's H100 kernel table, as device_check names them.
KERNEL_ROWS = {
    "bias + relu forward": ["bias+relu fwd"],
    "bias + sigmoid forward": ["bias+sigmoid fwd"],
    "relu backward + db": ["relu bwd + db"],
    "sigmoid backward + db": ["sigmoid bwd + db"],
    "softmax + cross-entropy, one-hot": ["softmax+xent one-hot"],
    "softmax + cross-entropy, labels": ["softmax+xent labels"],
    "sigmoid + binary cross-entropy": ["sigmoid+bce"],
    "Adam / SGD / RMSprop / Adagrad": ["adam", "sgd momentum", "rmsprop", "adagrad"],
}


def test_h100_kernel_table_states_what_the_device_check_files_hold():
    import json

    def load(name: str) -> dict[str, Any]:
        return json.loads((RESULTS / name).read_text())

    first, v3 = load("device_check_h100.json"), load("device_check_h100_v3.json")

    def pct(run: dict[str, Any], op: str) -> float:
        (row,) = [
            k
            for k in run["kernels"]
            if k["op"] == op and k["shape"] == "8192x4096" and k["path"] == "raw"
        ]
        return float(row["pct_copy"])

    def host_us(op: str) -> float:
        (row,) = [
            r for r in v3["launch"] if r["what"] == f"backend op: {op}" and r["path"] == "raw"
        ]
        return float(row["host_us"])

    text = (ROOT / "docs" / "benchmarks.md").read_text()
    for label, ops in KERNEL_ROWS.items():
        line = re.search(rf"^\| {re.escape(label)} \|(.+)\|$", text, re.M)
        assert line, f"benchmarks.md has no kernel row {label!r}"
        columns = [[v.strip() for v in c.split("/")] for c in line.group(1).split("|")]
        expected = [
            [pct(first, op) for op in ops],
            [pct(v3, op) for op in ops],
            list(map(host_us, ops)),
        ]
        for cells, values in zip(columns, expected, strict=True):
            for cell, value in zip(cells, values, strict=True):
                assert _states(cell, value), f"{label}: {cell} but the file has {value}"


# ------------------------------------------------------------------ result files and their code
sys.path.insert(0, str(ROOT))
from benchmarks import _common as bench_common  # noqa: E402

#: The line right under a table that quotes an out-of-date result file on purpose.
HISTORY_LABEL = re.compile(r"^History: measured at ([0-9a-f]{7,40})\b")
_HEADING = re.compile(r"^#+ ")


def quoting_tables(text: str, names: list[str]) -> list[dict[str, Any]]:
    """Each markdown table of ``text`` that quotes result files: the files named (from
    ``names``) in the text between the previous heading or table and the table, its first
    line (1-based), and whether it is history (a :data:`HISTORY_LABEL` line right under it,
    with the commit it names, or a heading with "History" above it)."""
    lines = text.split("\n")
    tables: list[dict[str, Any]] = []
    since: list[str] = []
    heading, i = "", 0
    while i < len(lines):
        line = lines[i]
        if _HEADING.match(line):
            heading, since = line, []
        if not line.startswith("|"):
            since.append(line)
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].startswith("|"):
            i += 1
        before = "\n".join(since)
        quoted = [n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}\b", before)]
        under = next((ln for ln in lines[i:] if ln.strip()), "")
        label = HISTORY_LABEL.match(under)
        if quoted:
            tables.append(
                {
                    "line": start + 1,
                    "quoted": quoted,
                    "history": bool(label) or "History" in heading,
                    "label_commit": label.group(1) if label else None,
                }
            )
        since = []
    return tables


def _git(*args: str) -> str:
    import subprocess

    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _git_history_available() -> bool:
    try:
        return _git("rev-parse", "--is-inside-work-tree") == "true"
    except Exception:
        return False


def out_of_date(name: str) -> str | None:
    """Why result file ``name`` no longer measures the code it names, or None: the code
    paths of :data:`benchmarks._common.MEASURED_CODE` changed after its commit."""
    prov = bench_common.read_provenance(RESULTS / name)
    assert prov is not None, f"{name} records no provenance"
    paths = bench_common.measured_code(name)
    try:
        changes = _git("log", "--format=%h", f"{prov['commit']}..HEAD", "--", *paths).split()
    except Exception:
        return f"its commit {prov['commit'][:10]} is not in this checkout's history"
    if changes:
        return f"{', '.join(paths)} changed after its commit {prov['commit'][:10]} ({changes[0]})"
    return None


def test_every_result_file_records_commit_tree_machine_and_date():
    for path in sorted(RESULTS.iterdir()):
        prov = bench_common.read_provenance(path)
        assert prov is not None, f"{path.name} records no provenance"
        assert set(prov) >= {"commit", "dirty", "machine", "date"}, path.name
        assert re.fullmatch(r"[0-9a-f]{40}", prov["commit"]), path.name
        assert prov["dirty"] in (True, False, None) and prov["machine"] and prov["date"]
        bench_common.measured_code(path.name)  # every file says what code it measured


def test_quoting_tables_finds_the_files_a_table_quotes_and_its_history_label():
    text = (
        "## A\n\nRaw data: `benchmarks/results/a.json`.\n\n| x |\n|---|\n| 1 |\n\n"
        "History: measured at 0123abc, before the rework.\n\n"
        "Now `b.md` and nothing else:\n\n| y |\n|---|\n\n## History: old\n\na.json\n| z |\n"
    )
    got = quoting_tables(text, ["a.json", "b.md", "c.json"])
    assert [(t["line"], t["quoted"], t["history"], t["label_commit"]) for t in got] == [
        (5, ["a.json"], True, "0123abc"),
        (13, ["b.md"], False, None),
        (19, ["a.json"], True, None),
    ]


@pytest.mark.skipif(not _git_history_available(), reason="needs the git history of the checkout")
@pytest.mark.parametrize("page", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_doc_tables_quote_result_files_newer_than_the_code_they_measure(page):
    names = sorted(p.name for p in RESULTS.iterdir())
    for table in quoting_tables(page.read_text(), names):
        where = f"{page.name}:{table['line']}"
        if table["history"]:
            commit = table["label_commit"]
            if commit is not None:
                commits = [bench_common.read_provenance(RESULTS / n) for n in table["quoted"]]
                assert any(p and p["commit"].startswith(commit) for p in commits), (
                    f"{where}: 'History: measured at {commit}' names no commit of {table['quoted']}"
                )
            continue
        for name in table["quoted"]:
            why = out_of_date(name)
            assert why is None, (
                f"{where}: the table quotes {name}, out of date: {why}. Measure again, or "
                "label the table with a line 'History: measured at <commit>' under it"
            )


def test_nonfinite_check_table_states_what_its_result_file_holds():
    import json

    data = json.loads((RESULTS / "nonfinite_check_cpu.json").read_text())
    rows = {r["batch_size"]: r for r in data["rows"]}
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    found = re.findall(
        r"^\| (\d+) \| ([\d.]+) ms \| ([\d.]+) ms \| ([+-][\d.]+)% \|$",
        text,
        re.M,
    )
    assert [int(f[0]) for f in found] == [32, 128], "expected the check's table, b=32 and 128"
    for batch, off, checked, cost in found:
        r = rows[int(batch)]
        best = r["ms_per_step_fastest"]
        expected = [(off, best["off"]), (checked, best["checked"]), (cost, r["cost_pct"])]
        for cell, value in expected:
            assert _states(cell.lstrip("+"), value), f"b={batch}: {cell} but the file has {value}"
        assert r["identical_weights"]
    flat = " ".join(text.split())
    assert f"fastest of {data['rounds']} single steps" in flat and data["chunk"] == 1
    assert f"Measured {data['provenance']['date'][:16].replace('T', ' ')} UTC" in flat
