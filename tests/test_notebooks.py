"""The course notebooks run in a real Jupyter kernel and show what they say.

Each notebook in docs/notebooks/ is executed from its first cell in a fresh kernel running
this Python (docs/run_notebooks.py: a private kernel spec and HOME), then its outputs are
checked: no error, nothing on stderr (so no warning the notebook does not expect), and the
numbers it prints within the ranges stated here. One test per notebook, so progress shows.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "docs" / "run_notebooks.py")
assert _spec is not None and _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
sys.modules["run_notebooks"] = runner
_spec.loader.exec_module(runner)


class Executed:
    """An executed notebook, the seconds it took, and the kernel messages of each cell."""

    def __init__(self, path: Path) -> None:
        from nbclient import NotebookClient

        messages: dict[int, list[str]] = defaultdict(list)
        updates: list[str] = []

        class Recording(NotebookClient):
            def process_message(self, msg: dict, cell: Any, cell_index: int) -> Any:
                messages[cell_index].append(msg["msg_type"])
                if msg["msg_type"] == "update_display_data":
                    updates.append(msg["content"]["data"].get("text/plain", ""))
                return super().process_message(msg, cell, cell_index)

        self.nb, self.seconds = runner.execute(path, client_class=Recording)
        self.messages = messages
        #: the text of every in-place redraw, in order
        self.updates = updates
        self.code = [c for c in self.nb.cells if c.cell_type == "code"]

    def stdout(self) -> str:
        return "".join(o.text for c in self.code for o in c.outputs if o.output_type == "stream")

    def cell(self, source_part: str) -> Any:
        (found,) = [c for c in self.code if source_part in c.source]
        return found

    def images(self) -> int:
        return sum("image/png" in o.get("data", {}) for c in self.code for o in c.outputs)


def check_clean(run: Executed) -> None:
    """Every cell ran, none failed, none wrote to stderr (warnings go there)."""
    for c in run.code:
        assert c.execution_count is not None, c.source
        for o in c.outputs:
            assert o.output_type != "error", f"{c.source}\n{o.get('evalue')}"
            assert not (o.output_type == "stream" and o.name == "stderr"), (
                f"unexpected stderr in the cell\n{c.source}\n---\n{o.text}"
            )


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the output:\n{text}"
    return float(found.group(1))


def epoch_lines(cell: Any) -> list[str]:
    """The fit cell's outputs: one display per epoch, left showing the summary line."""
    assert all(o.output_type == "display_data" for o in cell.outputs), cell.outputs
    return [o.data["text/plain"] for o in cell.outputs]


def check_linear(run: Executed) -> None:
    out = run.stdout()
    assert "predictions: [4. 3.]" in out and "MSE: 2.5\n" in out
    assert "after one step: m = -0.7000, b = 5.1000" in out
    assert "step 1: m = -1 - 0.1 * (-3) = -0.7, b = 5 - 0.1 * (-1) = 5.1" in out
    assert number(r"after 2000 steps: m = ([-\d.]+)", out) == pytest.approx(2.0, abs=1e-3)
    assert number(r"after 2000 steps: .* b = ([-\d.]+)", out) == pytest.approx(1.0, abs=1e-3)
    assert run.images() == 2  # the fitted lines and the descent on the contour


def check_mnist(run: Executed) -> None:
    out = run.stdout()
    assert "x_train: (8000, 28, 28) uint8 y_train: (8000,)" in out
    lines = epoch_lines(run.cell("history = model.fit("))
    assert [line.split(" - ")[:2] for line in lines] == [
        ["Epoch 1/2", "63/63 steps"],
        ["Epoch 2/2", "63/63 steps"],
    ]
    assert all("val_accuracy: " in line for line in lines)
    # two epochs of the MLP on 8,000 bundled digits: about 0.93 on the 2,000 held out
    assert 0.85 <= number(r"validation accuracy: ([\d.]+)", out) <= 0.98
    assert "flatten it into a batch of one row with x.reshape(1, 784)" in out
    predicted, true = re.search(r"predicted digit: (\d) - true digit: (\d)", out).groups()  # type: ignore[union-attr]
    assert predicted == true  # the first validation digit, a clear 4
    assert run.images() == 3  # samples, history, predictions


def check_sign_language(run: Executed) -> None:
    out = run.stdout()
    stand_in = "Sign-Language-MNIST is not here" in out
    assert stand_in or "Using the real Sign-Language-MNIST files." in out
    assert re.search(r"\(\d+, 784\) \(\d+, 25\)", out)  # 25 one-hot columns, not 24
    lines = epoch_lines(run.cell("history = model.fit("))
    assert [line.split(" - ")[0] for line in lines] == [f"Epoch {k}/5" for k in range(1, 6)]
    accuracy = number(r"validation accuracy: ([\d.]+)", out)
    # the stand-in's letters are one pattern each plus noise: easy; the real photos: harder
    assert accuracy >= (0.9 if stand_in else 0.5)
    assert run.images() == 2


def check_cnn(run: Executed) -> None:
    out = run.stdout()
    # the course's network, built as the course writes it (24 classes there, 10 here)
    assert "Total params: 256,867" in out and "Non-trainable params: 300" in out
    assert "(2000, 28, 28, 1) (2000, 10) (1000, 28, 28, 1)" in out
    lines = epoch_lines(run.cell("history = model.fit("))
    assert [line.split(" - ")[:2] for line in lines] == [
        ["Epoch 1/2", "63/63 steps"],
        ["Epoch 2/2", "63/63 steps"],
    ]
    # two epochs of a small CNN on 2,000 digits: about 0.85 on 1,000 held out
    assert 0.7 <= number(r"validation accuracy: ([\d.]+)", out) <= 0.98
    assert run.images() == 2  # history, predictions


def check_augmentation_deployment(run: Executed) -> None:
    out = run.stdout()
    assert "(2000, 28, 28, 1) (2000, 10) (1000, 28, 28, 1)" in out
    lines = epoch_lines(run.cell("history = model.fit("))
    # the course's float steps_per_epoch, len(x_train) / 32 = 62.5, rounds up to 63
    assert [line.split(" - ")[:2] for line in lines] == [
        ["Epoch 1/2", "63/63 steps"],
        ["Epoch 2/2", "63/63 steps"],
    ]
    # two epochs of a small CNN on 2,000 augmented digits: about 0.8 on 1,000 held out
    assert 0.6 <= number(r"validation accuracy: ([\d.]+)", out) <= 0.98
    assert run.images() == 1  # one image and eight augmented versions
    predicted, true = re.search(r"predicted digit: (\d) - true digit: (\d)", out).groups()  # type: ignore[union-attr]
    assert predicted == true  # the first validation digit, a clear 4
    assert number(r"differ by at most ([\d.e+-]+)", out) <= 1e-5


CHECKS = {
    "01_linear_model.ipynb": check_linear,
    "02_mnist.ipynb": check_mnist,
    "03_sign_language.ipynb": check_sign_language,
    "04_cnn.ipynb": check_cnn,
    "05_augmentation_deployment.ipynb": check_augmentation_deployment,
}


def test_every_notebook_has_its_checks():
    assert sorted(p.name for p in runner.NOTEBOOKS.glob("*.ipynb")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs_in_a_jupyter_kernel_and_shows_its_results(name):
    run = Executed(runner.NOTEBOOKS / name)
    print(f"{name}: {run.seconds:.1f}s")
    check_clean(run)
    CHECKS[name](run)


def test_in_a_kernel_the_progress_bar_updates_one_output_per_epoch_in_place(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    source = """
import numpy as np
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.training import progress
progress.EpochProgress.interval = 0.0  # redraw at every step, so a short fit shows it
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3))
y = (x[:, 0] > 0).astype(int)
model = Sequential([Dense(2, activation="softmax", input_shape=(3,))], backend="cpu", seed=0)
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=2, batch_size=8, verbose=1)
"""
    path = tmp_path / "progress.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(source)]), path)
    run = Executed(path)
    check_clean(run)
    kinds = run.messages[0]
    # one output per epoch, redrawn at each of its 8 steps
    assert kinds.count("display_data") == 2 and kinds.count("update_display_data") >= 16
    lines = epoch_lines(run.code[0])
    assert [line.split(" - ")[:2] for line in lines] == [
        ["Epoch 1/2", "8/8 steps"],
        ["Epoch 2/2", "8/8 steps"],
    ]
    assert all("loss: " in line and "accuracy: " in line for line in lines)
    # while an epoch runs, the output is a bar with the steps done and the running loss
    during = [u for u in run.updates if u.startswith("Epoch 1/2 [")]
    assert any(" 3/8 - " in u and "=" in u and "loss: " in u for u in during), run.updates
