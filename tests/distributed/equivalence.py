"""Training cases run once in one process and under ``mpiexec -n N``; tests compare them.

``python tests/distributed/equivalence.py OUT CASE [CASE ...]``: every rank writes
``OUT/CASE.rank<r>.npz`` (weights, History, evaluate and predict results). Without mpiexec
it is the one-process reference (``DataParallel()`` then spans this process alone).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import netcore
from netcore import layers, optimizers
from netcore.distribution import DataParallel

#: name -> settings. 97 and 50 rows divide by neither 2 nor 3; their last batch is 1 row, so
#: one rank gets no rows in it (and the other batches split unevenly).
CASES: dict[str, dict[str, Any]] = {
    "f64_softmax": dict(
        dtype="float64", n=97, batch=16, loss="categorical_crossentropy", overlap=True
    ),
    "f64_softmax_one_allreduce": dict(
        dtype="float64", n=97, batch=16, loss="categorical_crossentropy", overlap=False
    ),
    "f32_softmax": dict(
        dtype="float32", n=97, batch=16, loss="categorical_crossentropy", overlap=True
    ),
    "f64_rmse": dict(dtype="float64", n=50, batch=7, loss="root_mean_squared_error", overlap=True),
    # GPU only (tests marked gpu): NCCL, or host staging where NCCL refuses ranks sharing a GPU
    "f32_cuda_softmax": dict(
        dtype="float32",
        n=97,
        batch=16,
        loss="categorical_crossentropy",
        overlap=True,
        backend="cuda",
    ),
}


def data(case: dict, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6))
    if case["loss"] == "categorical_crossentropy":
        labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + 2 * (x[:, 2] > 0.3)
        return x, np.eye(4)[labels]
    return x, np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2])], axis=1)


def build(case: dict) -> netcore.Sequential:
    if case["loss"] == "categorical_crossentropy":
        model = netcore.Sequential(
            [
                layers.Dense(12, activation="relu", input_shape=(6,)),
                layers.Dense(10, activation="tanh"),
                layers.Dense(4, activation="softmax"),
            ],
            backend=case.get("backend", "cpu"),
            seed=7,
            dtype=case["dtype"],
        )
        model.compile(
            optimizer=optimizers.Adam(learning_rate=0.01), loss=case["loss"], metrics=["accuracy"]
        )
    else:
        model = netcore.Sequential(
            [layers.Dense(8, activation="sigmoid", input_shape=(6,)), layers.Dense(2)],
            backend=case.get("backend", "cpu"),
            seed=7,
            dtype=case["dtype"],
        )
        model.compile(
            optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.9),
            loss=case["loss"],
            metrics=["mae"],
        )
    return model


def run(name: str) -> dict[str, Any]:
    case = CASES[name]
    # bucket_mb tiny: one bucket per layer, so the overlapped path starts several reductions
    dist = DataParallel(bucket_mb=1e-6, overlap=case["overlap"])
    with dist.scope():
        x, y = data(case, case["n"], 1)
        xv, yv = data(case, 23, 2)
        model = build(case)
        hist = model.fit(
            x, y, batch_size=case["batch"], epochs=2, verbose=0, validation_data=(xv, yv)
        )
        ev = model.evaluate(xv, yv, batch_size=5)
        if not isinstance(ev, dict):  # Keras 3 returns [loss, *metrics]
            ev = dict(zip(["loss", *[m.name for m in model.metrics]], np.atleast_1d(ev).tolist()))
        pred = model.predict(x, batch_size=8)
        weights = model.get_weights()
        one_batch = model.train_on_batch(x[:11], y[:11])
    out: dict[str, Any] = {f"weight{i}": w for i, w in enumerate(weights)}
    out.update({f"after_train_on_batch{i}": w for i, w in enumerate(model.get_weights())})
    out["train_on_batch"] = np.array(json.dumps(one_batch))
    out["history"] = np.array(json.dumps(hist.history))
    out["evaluate"] = np.array(json.dumps(ev))
    out["predict"] = pred
    out["world"] = np.array(dist.world_size)
    out["rank"] = np.array(dist.rank)
    return out


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    for name in argv[1:]:
        res = run(name)
        np.savez(out / f"{name}.rank{int(res['rank'])}.npz", **res)


if __name__ == "__main__":
    main(sys.argv[1:])
