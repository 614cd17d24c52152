"""How far onnxruntime's outputs are from ``predict``'s, per network, for the exported models.

    python benchmarks/onnx_parity.py [--out benchmarks/results/onnx_parity.json] [--smoke]

Networks: the course MLP (Flatten, Dense 512 relu, Dropout 0.2, Dense 512 relu, Dropout 0.2,
Dense 10 softmax) after one epoch on the bundled MNIST training images; the course CNN (when
``netcore.course.cnn`` is present) after one epoch on 512 of them; a network of every image
layer (both paddings, strides, batch norm on two axes) after a few epochs on random data; and
one small network per activation. Each is exported, run by onnxruntime on the CPU, and
compared with ``predict`` on the same inputs (the MNIST validation images, or random ones):
the largest absolute difference. Nothing is timed. The file records the commit,
the machine and the date; ``--smoke`` runs tiny sizes and writes nothing unless ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import compare  # noqa: E402
from netcore import Sequential  # noqa: E402
from netcore.course import build_mlp  # noqa: E402
from netcore.datasets import mnist  # noqa: E402
from netcore.layers import (  # noqa: E402
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    MaxPooling2D,
    Reshape,
)
from netcore.utils import to_categorical  # noqa: E402


def _difference(model: Any, x: np.ndarray, folder: Path) -> dict[str, Any]:
    import onnxruntime as ort

    path = folder / f"{model.name}.onnx"
    model.export(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["output"], {"input": x.astype(model.dtype)})[0]
    want = model.predict(x)
    diff = np.abs(got.astype(np.float64) - want)
    return {
        "samples": len(x),
        "max_abs": float(diff.max()),
        "onnx_bytes": path.stat().st_size,
    }


def _image_layers(seed: int) -> Sequential:
    return Sequential(
        [
            Reshape((9, 11, 1), input_shape=(99,)),
            Conv2D(4, 3, padding="same", activation="relu"),
            BatchNormalization(momentum=0.5),
            MaxPooling2D(2, padding="same"),
            Conv2D(5, (2, 3), strides=2, activation="tanh"),
            BatchNormalization(axis=1, momentum=0.5),
            AveragePooling2D(2, strides=1, padding="same"),
            Conv2D(3, 1, activation="sigmoid"),
            GlobalAveragePooling2D(),
            Dense(3, activation="softmax"),
        ],
        seed=seed,
        name="image_layers",
    )


def networks(smoke: bool) -> list[tuple[Sequential, np.ndarray]]:
    """Each network, trained as the module doc says, with the inputs to compare on."""
    (x_train, y_train), (x_val, _) = mnist.load_bundled()
    n_train, n_val = (256, 64) if smoke else (len(x_train), len(x_val))
    x_tr, x_va = x_train[:n_train] / 255.0, x_val[:n_val] / 255.0
    y_tr = to_categorical(y_train[:n_train], 10)
    out: list[tuple[Sequential, np.ndarray]] = []
    mlp = build_mlp(10, hidden=(512, 512), dropout=0.2, seed=0)
    mlp.name = "course_mlp"
    mlp.compile("rmsprop", "categorical_crossentropy")
    mlp.fit(x_tr, y_tr, epochs=1, batch_size=32, verbose=0)
    out.append((mlp, x_va))
    if importlib.util.find_spec("netcore.course.cnn") is not None:
        from netcore.course import cnn

        model = cnn.build_cnn(10, seed=0)
        model.name = "course_cnn"
        model.compile("rmsprop", "categorical_crossentropy")
        k = 64 if smoke else 512
        model.fit(x_tr[:k, :, :, None], y_tr[:k], epochs=1, batch_size=32, verbose=0)
        out.append((model, x_va[:, :, :, None]))
    rng = np.random.default_rng(0)
    layers = _image_layers(1)
    layers.compile("adam", "categorical_crossentropy")
    xr = rng.normal(1.0, 2.0, (64, 99)).astype(np.float32)
    layers.fit(xr, np.eye(3)[rng.integers(0, 3, 64)], epochs=3, batch_size=16, verbose=0)
    out.append((layers, xr))
    for act in ("linear", "relu", "sigmoid", "tanh", "softmax"):
        m = Sequential([Dense(16, activation=act, input_shape=(20,)), Dense(5, activation=act)])
        m.name = f"dense_{act}"
        out.append((m, rng.normal(0.0, 3.0, (256, 20)).astype(np.float32)))
    return out


def provenance() -> dict[str, Any]:
    """The commit, machine, date and library versions of this run."""
    import onnx
    import onnxruntime

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": compare._cpu_name(),  # the CPU's model name, as compare.py records it
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a test of the script)")
    args = parser.parse_args(argv)
    out = args.out
    if out is None and not args.smoke:
        out = ROOT / "benchmarks" / "results" / "onnx_parity.json"
    record: dict[str, Any] = {"provenance": provenance(), "networks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for model, x in networks(args.smoke):
            row = _difference(model, x, Path(tmp))
            record["networks"][model.name] = row
            print(f"{model.name:>14}: max |onnxruntime - predict| = {row['max_abs']:.2e}")
    if out is not None:
        out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {out}")
    return record


if __name__ == "__main__":
    main()
