"""Run the Python examples of the docs: make the tutorial's pictures, check or refresh the
outputs the pages state.

A page's example is a fenced ``python`` block. Two optional companions:

* a marker on the line before it: ``<!-- needs: mnist-full -->`` (or ``fashion-mnist``,
  ``sign-mnist``) runs it only where that data set is found; ``<!-- no-exec: reason -->``
  never runs it (a GPU example);
* a fenced ``text`` block right after it: the output the block prints, shown on the page.
  ``tests/test_docs.py`` runs every block and checks that it prints this (numbers within a
  small tolerance, :func:`outputs_match`).

The tutorial's pictures are written by its own blocks (``plot_samples(..., "samples.png")``,
run in a scratch folder) and copied to ``docs/_static/tutorial``, where the page links them:
each picture comes from exactly the code shown beside it, and the committed PNGs show on the
page read as a plain file.

Usage::

    python docs/make_figures.py                   # the tutorial's pictures (also run by `make docs`)
    python docs/make_figures.py --update-outputs  # also rewrite the stated outputs of every page
    python docs/make_figures.py --update-outputs docs/quickstart.md   # of one page
    python docs/make_figures.py --cnn             # the CNN chapter's pictures (docs/_static/cnn)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAGES = [ROOT / "README.md", *sorted(HERE.glob("*.md"))]
TUTORIAL = HERE / "tutorial.md"
#: The pages whose pictures their own blocks draw (copied to :data:`PICTURES`).
FIGURE_PAGES = [TUTORIAL, HERE / "augmentation.md"]
#: Where the tutorial's pictures are kept (committed), as the page links them.
PICTURES = HERE / "_static" / "tutorial"

_BLOCK = re.compile(
    r"(?:<!--\s*(?P<tag>needs|no-exec):\s*(?P<arg>[^>]*?)\s*-->\s*\n)?"
    r"```python\n(?P<code>.*?)```[ \t]*\n"
    r"(?:[ \t]*\n)?(?:```text\n(?P<out>.*?)```)?",
    re.S,
)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


@dataclass(frozen=True)
class Block:
    """One Python example of a page, with its marker and its stated output (None: none)."""

    page: Path
    number: int  # 1-based, in page order
    code: str
    tag: str | None  # "needs", "no-exec" or None
    arg: str | None
    output: str | None
    output_span: tuple[int, int] | None  # where the stated output sits in the page text

    @property
    def name(self) -> str:
        return f"{self.page.name}[block {self.number}]"


def blocks(page: Path) -> list[Block]:
    """The Python examples of ``page``, in order."""
    text = page.read_text()
    return [
        Block(
            page,
            i + 1,
            m.group("code"),
            m.group("tag"),
            m.group("arg"),
            m.group("out"),
            m.span("out") if m.group("out") is not None else None,
        )
        for i, m in enumerate(_BLOCK.finditer(text))
    ]


def _found(load: object) -> bool:
    from netcore.datasets import DatasetError

    try:
        load()  # type: ignore[operator]
    except DatasetError:
        return False
    return True


def missing(block: Block) -> str | None:
    """Why ``block`` cannot run here (its marker's data set is absent), or None."""
    if block.tag == "no-exec":
        return block.arg or "not run"
    if block.tag != "needs":
        return None
    from netcore.datasets import fashion_mnist, mnist, sign_mnist

    finders = {
        "mnist-full": lambda: mnist.find_files("train", download=False),
        "fashion-mnist": lambda: fashion_mnist.find_files("train", download=False),
        "sign-mnist": lambda: sign_mnist.find_files("train"),
    }
    if block.arg not in finders:
        raise ValueError(
            f"{block.name}: unknown data set in its needs marker, "
            f"received {block.arg!r}; known: {sorted(finders)}"
        )
    return None if _found(finders[block.arg]) else f"{block.arg} is not installed here"


def run_page(page: Path, workdir: Path) -> Iterator[tuple[Block, str | None, str]]:
    """Run the examples of ``page`` in order, in one namespace, in ``workdir``.

    Yields ``(block, skip_reason, printed)`` for each block; an exception in a block
    propagates with the block's name in the traceback.
    """
    page_blocks = blocks(page)  # read before moving into workdir: page may be relative
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    workdir.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    os.chdir(workdir)
    try:
        for block in page_blocks:
            reason = missing(block)
            if reason is not None:
                yield block, reason, ""
                continue
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(block.code, block.name, "exec"), namespace)
            yield block, None, printed.getvalue()
    finally:
        os.chdir(here)


def outputs_match(stated: str, printed: str, rel: float = 0.02, abs_: float = 0.005) -> bool:
    """True when ``printed`` says what ``stated`` says: the same words, and numbers that
    agree within ``rel`` (relative) or ``abs_`` (absolute), so that the last digit of a
    trained model's accuracy may differ between machines."""

    def split(text: str) -> tuple[list[str], list[str]]:
        words = [" ".join(part.split()) for part in _NUMBER.split(text)]
        return words, _NUMBER.findall(text)

    words_s, nums_s = split(stated)
    words_p, nums_p = split(printed)
    if words_s != words_p or len(nums_s) != len(nums_p):
        return False
    for s, p in zip(nums_s, nums_p):
        a, b = float(s), float(p)
        if not (math.isclose(a, b, rel_tol=rel, abs_tol=abs_) or (math.isnan(a) and math.isnan(b))):
            return False
    return True


def update_outputs(page: Path, workdir: Path) -> tuple[int, list[str]]:
    """Rewrite the stated outputs of ``page`` with what its blocks print (blocks that
    cannot run here keep theirs). Returns how many changed, and the blocks not run."""
    text = page.read_text()
    edits, skipped = [], []
    for block, reason, printed in run_page(page, workdir):
        if reason is not None:
            skipped.append(f"{block.name} ({reason})")
        elif block.output_span is not None and block.output != printed:
            edits.append((block.output_span, printed))
    for (start, end), printed in sorted(edits, reverse=True):
        text = text[:start] + printed + text[end:]
    page.write_text(text)
    return len(edits), skipped


def linked_pictures(page: Path) -> list[str]:
    """The file names of the pictures ``page`` links under ``_static/tutorial/``."""
    return re.findall(r"\]\(_static/tutorial/([^)\s]+\.png)\)", page.read_text())


def _shrink(src: Path, dst: Path) -> None:
    """Copy a PNG as a 256-colour palette image: about a third of the size, which matters
    for pictures committed to the repository, and no visible change for line plots."""
    from PIL import Image

    with Image.open(src) as image:
        palette = image.convert("RGB").quantize(
            256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    palette.save(dst, optimize=True)


def copy_pictures(
    workdir: Path, skipped: list[str], out: Path = PICTURES, page: Path = TUTORIAL
) -> list[Path]:
    """Copy the pictures ``page`` links from ``workdir`` (where its blocks ran) to ``out``,
    shrunk by :func:`_shrink`.

    Raises:
        RuntimeError: a linked picture was not written and no committed one can stand in
            for it (a block that did not run here may make it elsewhere).
    """
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in linked_pictures(page):
        if (workdir / name).is_file():
            _shrink(workdir / name, out / name)
            copied.append(out / name)
        elif not skipped or not (out / name).is_file():
            raise RuntimeError(
                f"{page.name} links _static/tutorial/{name} but no block wrote "
                f"{name}" + (f"; not run here: {', '.join(skipped)}" if skipped else "")
            )
    return copied


#: Where the CNN chapter's pictures are kept (committed), as docs/cnn.md links them.
CNN_PICTURES = HERE / "_static" / "cnn"


def convolution_figure(out: Path = CNN_PICTURES) -> Path:
    """docs/cnn.md's first picture: a 3x3 vertical-edge filter slid over a bundled MNIST digit
    with "same" and "valid" padding, strides 1 and 2 (netcore Conv2D layers, weights set)."""
    import numpy as np

    from netcore import Sequential
    from netcore.datasets import mnist
    from netcore.layers import Conv2D
    from netcore.plotting._base import new_figure, save_png

    _, (xv, _) = mnist.load_bundled()
    digit = xv[:1].astype(np.float32)[..., None] / np.float32(255.0)
    # A vertical-edge filter: bright on the left of a stroke minus bright on its right.
    edge = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)
    fig = new_figure(12.0, 3.0)
    axes = fig.subplots(1, 5)
    axes[0].imshow(digit[0, :, :, 0], cmap="gray")
    axes[0].set_title("input 28x28")
    axes[1].imshow(edge, cmap="RdBu_r", vmin=-2, vmax=2)
    axes[1].set_title("filter 3x3")
    for ax, (padding, stride) in zip(axes[2:], (("same", 1), ("valid", 1), ("same", 2))):
        conv = Sequential([Conv2D(1, 3, strides=stride, padding=padding, input_shape=(28, 28, 1))])
        conv.build()
        conv.set_weights([edge[:, :, None, None], np.zeros(1, np.float32)])
        maps = np.asarray(conv.predict(digit))[0, :, :, 0]
        ax.imshow(maps, cmap="RdBu_r", vmin=-np.abs(maps).max(), vmax=np.abs(maps).max())
        ax.set_title(f'"{padding}", strides {stride}: {maps.shape[0]}x{maps.shape[1]}', fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("One filter slid over an image: each output pixel is a 3x3 weighted sum")
    return save_png(fig, out / "convolution.png")


def cnn_figures(out: Path = CNN_PICTURES) -> list[Path]:
    """The pictures of docs/cnn.md, drawn by netcore from the bundled MNIST set: the
    convolution picture (:func:`convolution_figure`), then the course CNN (10 classes) trained
    for one epoch on the 8,000 bundled training images: its first layer's filters and one
    validation digit through its layers. About two minutes of one CPU core."""
    import numpy as np

    from netcore.course import build_cnn
    from netcore.datasets import mnist
    from netcore.plotting import plot_feature_maps, plot_filters
    from netcore.utils import to_categorical

    written = [convolution_figure(out)]
    (x, y), (xv, _) = mnist.load_bundled()
    x = x.astype(np.float32)[..., None] / np.float32(255.0)
    digit = xv[:1].astype(np.float32)[..., None] / np.float32(255.0)
    model = build_cnn(num_classes=10, seed=0, backend="cpu")
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, to_categorical(y, 10), batch_size=32, epochs=1, verbose=0)
    written.append(plot_filters(model, out / "filters.png"))
    written.append(plot_feature_maps(model, digit[0], out / "feature_maps.png", max_maps=8))
    return written


def main(argv: list[str] | None = None) -> None:
    """Make the tutorial's pictures; with ``--update-outputs``, refresh the stated outputs of
    the pages too (and the pictures, when the tutorial is among them)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--update-outputs",
        action="store_true",
        help="rewrite the outputs the pages state with what their code prints",
    )
    parser.add_argument(
        "pages",
        nargs="*",
        type=lambda p: Path(p).resolve(),
        default=PAGES,
        help="with --update-outputs: only these pages (default: every page)",
    )
    parser.add_argument(
        "--cnn",
        action="store_true",
        help="only the CNN chapter's pictures (docs/_static/cnn; trains for about a minute)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.path.insert(0, str(ROOT))
    if args.cnn:
        for path in cnn_figures():
            print(f"wrote {path}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.update_outputs:
            for page in FIGURE_PAGES:
                skipped = [
                    f"{block.name} ({reason})"
                    for block, reason, _ in run_page(page, work / page.stem)
                    if reason is not None
                ]
                copy_pictures(work / page.stem, skipped, page=page)
            return
        for page in args.pages:
            changed, skipped = update_outputs(page, work / page.stem)
            print(f"{page.name}: {changed} output(s) updated")
            if page in FIGURE_PAGES:
                copy_pictures(work / page.stem, skipped, page=page)


if __name__ == "__main__":
    main()
