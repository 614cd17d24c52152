"""Every Python example in README.md and docs/*.md runs, in page order, so the docs cannot drift.

A block preceded by ``<!-- needs: fashion-mnist -->`` runs only where the Fashion-MNIST files
are installed (Debian's dataset-fashion-mnist); ``<!-- no-exec: reason -->`` marks a block that
cannot run here (a GPU example), and the reason shows as the skip reason.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
BLOCK = re.compile(r"(?:<!--\s*(?P<tag>needs|no-exec):\s*(?P<arg>[^>]*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```",
                   re.S)


def blocks(page: Path):
    return [(m.group("tag"), m.group("arg"), m.group("code")) for m in BLOCK.finditer(page.read_text())]


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    skipped = []
    for i, (tag, arg, code) in enumerate(blocks(page)):
        if tag == "no-exec":
            skipped.append(f"block {i + 1}: {arg}")
            continue
        if tag == "needs" and arg == "fashion-mnist" and not FASHION.exists():
            skipped.append(f"block {i + 1}: Fashion-MNIST is not installed at {FASHION.parent}")
            continue
        try:
            exec(compile(code, f"{page.name}[block {i + 1}]", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{page.name}, example {i + 1} failed: {type(exc).__name__}: {exc}\n{code}")
    if skipped and len(skipped) == len(blocks(page)):
        pytest.skip("; ".join(skipped))
