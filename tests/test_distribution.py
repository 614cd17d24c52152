"""Data-parallel training (netcore.distribution): the batch split and its weights, bucket plans,
and, under real ``mpiexec`` runs spawned from here, the equivalence with one process (weights,
History, evaluate, predict), failure of one rank, mismatched ranks, the CLI.

The one-process reference of each case runs in this process (``tests/distributed/equivalence.py``);
the MPI runs use ``mpiexec`` from the MPI extra (``pip install 'netcore[mpi]'``) and are
skipped, with that reason, where it is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

import netcore
from netcore import distribution, layers
from netcore.distribution import (
    DataParallel,
    plan_buckets,
    set_distribution,
    shard_bounds,
    shard_counts,
    shard_weight,
)

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "tests" / "distributed"


def _mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


def _have_mpi4py() -> bool:
    return importlib.util.find_spec("mpi4py") is not None


needs_mpi = pytest.mark.skipif(
    not (_have_mpi4py() and _mpiexec()),
    reason="the MPI extra is not installed (pip install 'netcore[mpi]': mpi4py and mpiexec)",
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in distribution._comm.LAUNCHER_VARIABLES}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    # one BLAS thread per rank: the ranks share the machine's cores
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(extra)
    return env


def run_mpi(
    n: int, *args: str, timeout: float = 120, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    """``mpiexec -n N python ARGS`` (ARGS may start with ``-m module``); ``env``: extra
    environment variables."""
    mpiexec = _mpiexec()
    assert mpiexec is not None
    cmd = [mpiexec, "-n", str(n), sys.executable, *args]
    return subprocess.run(
        cmd, env=_env(**env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def _equivalence_module():
    spec = importlib.util.spec_from_file_location("dist_equivalence", DIST / "equivalence.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def no_distribution_left_behind():
    yield
    set_distribution(None)


# --------------------------------------------------------------------------- the split
@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
def test_shards_cover_each_batch_once_in_order_and_differ_by_at_most_one_row(size):
    for start, stop in [(0, 0), (0, 1), (5, 6), (10, 26), (96, 97), (0, 128), (3, 3 + size - 1)]:
        bounds = [shard_bounds(start, stop, r, size) for r in range(size)]
        assert bounds[0][0] == start and bounds[-1][1] == stop
        assert all(
            bounds[r][1] == bounds[r + 1][0] for r in range(size - 1)
        )  # contiguous, in order
        sizes = [hi - lo for lo, hi in bounds]
        assert min(sizes) >= 0 and max(sizes) - min(sizes) <= 1
        assert shard_counts(stop - start, size) == sizes


def test_a_batch_shorter_than_the_world_leaves_ranks_empty():
    assert shard_counts(1, 2) == [0, 1]
    assert shard_counts(2, 3) == [0, 1, 1]
    assert shard_counts(7, 3) == [2, 2, 3]


def test_sample_weighted_rank_means_are_the_global_mean_loss_and_gradient():
    # A mean over n rows equals sum_r (n_r / n) * (mean over rank r's rows), for the values
    # and for any per-row gradient: the scaling every rank applies before the allreduce.
    rng = np.random.default_rng(0)
    per_row = rng.normal(size=(23, 5))
    for size in (2, 3, 5):
        total = sum(
            shard_weight(hi - lo, 23) * per_row[lo:hi].mean(axis=0)
            for lo, hi in (shard_bounds(0, 23, r, size) for r in range(size))
            if hi > lo
        )
        np.testing.assert_allclose(total, per_row.mean(axis=0), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("args", [(5, 3, 3, 2), (5, 3, -1, 2), (0, 1, 0, 0)])
def test_bad_split_arguments_are_refused_with_the_values(args):
    start, stop, rank, size = args
    with pytest.raises(ValueError, match="received"):
        shard_bounds(start, stop, rank, size)
    with pytest.raises(ValueError, match="local=5, total=3"):
        shard_weight(5, 3)


def _mlp(dtype: str = "float64") -> netcore.Sequential:
    model = netcore.Sequential(
        [
            layers.Dense(12, activation="relu", input_shape=(6,)),
            layers.Dropout(0.1),
            layers.Dense(10, activation="tanh"),
            layers.Dense(4, activation="softmax"),
        ],
        backend="cpu",
        seed=7,
        dtype=dtype,
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def test_buckets_hold_whole_layers_last_first_and_tile_the_gradient_buffer():
    model = _mlp()
    sizes = {0: 6 * 12 + 12, 2: 12 * 10 + 10, 3: 10 * 4 + 4}  # the Dropout (1) has no weights
    per_layer = plan_buckets(model, bucket_bytes=1)
    assert [b.first_layer for b in per_layer] == [3, 2, 0]
    assert [b.hi - b.lo for b in per_layer] == [sizes[3], sizes[2], sizes[0]]
    assert per_layer[0].hi == model._flat_grads.size and per_layer[-1].lo == 0
    assert all(a.lo == b.hi for a, b in zip(per_layer, per_layer[1:]))
    # 8-byte floats: the last layer alone (352 B) is under 400 B, so it takes the next one too
    merged = plan_buckets(model, bucket_bytes=400)
    assert [(b.first_layer, b.lo, b.hi) for b in merged] == [
        (2, sizes[0], model._flat_grads.size),
        (0, 0, sizes[0]),
    ]
    whole = plan_buckets(model, bucket_bytes=10**9)
    assert [(b.first_layer, b.lo, b.hi) for b in whole] == [(0, 0, model._flat_grads.size)]


# --------------------------------------------------------------------------- one process
def test_outside_mpiexec_the_world_is_this_process_and_training_is_unchanged():
    x = np.random.default_rng(0).normal(size=(50, 6))
    y = np.eye(4)[np.arange(50) % 4]
    plain = _mlp()
    plain.fit(x, y, batch_size=16, epochs=2, verbose=0)
    dist = DataParallel()
    assert (dist.rank, dist.world_size, dist.is_chief, dist.comm.name) == (0, 1, True, "local")
    with dist.scope():
        assert distribution.get_distribution() is dist and distribution.distribution() is dist
        assert distribution.active() is None  # one process: the trainer's own path
        model = _mlp()
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert distribution.get_distribution() is None
    for a, b in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_distribution_arguments_are_checked():
    with pytest.raises(TypeError, match="DataParallel or None, received 'mpi'"):
        set_distribution("mpi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bucket_mb must be a positive number, received 0"):
        DataParallel(bucket_mb=0)
    with pytest.raises(ValueError, match="overlap must be True or False, received 1"):
        DataParallel(overlap=1)  # type: ignore[arg-type]


_BLOCK_MPI4PY = (
    "import runpy, sys; sys.modules['mpi4py'] = None; "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def test_without_mpi4py_a_script_trains_as_one_process(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _BLOCK_MPI4PY,
            str(DIST / "equivalence.py"),
            str(tmp_path),
            "f64_softmax",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "f64_softmax.rank0.npz")
    assert int(got["world"]) == 1
    ref = _equivalence_module().run("f64_softmax")
    for i in range(3 * 2):
        np.testing.assert_allclose(got[f"weight{i}"], ref[f"weight{i}"], rtol=1e-12, atol=1e-14)


def test_under_a_launcher_without_mpi4py_the_error_says_what_to_install():
    code = (
        "import sys; sys.modules['mpi4py'] = None\n"
        "from netcore.distribution import DataParallel\nDataParallel()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(PMI_RANK="0", PMI_SIZE="2"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "runs under mpiexec but mpi4py cannot be imported" in proc.stderr
    assert "pip install 'netcore[mpi]'" in proc.stderr


# --------------------------------------------------------------------------- under mpiexec
CASES = ["f64_softmax", "f64_softmax_one_allreduce", "f32_softmax", "f64_rmse"]


@pytest.fixture(scope="module")
def reference():
    mod = _equivalence_module()
    return {name: mod.run(name) for name in CASES}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_mpiexec_training_equals_one_process_and_ranks_agree(tmp_path, reference, ranks):
    proc = run_mpi(ranks, str(DIST / "equivalence.py"), str(tmp_path), *CASES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in CASES:
        ref = reference[name]
        rtol = 1e-5 if name.startswith("f32") else 1e-10
        runs = [np.load(tmp_path / f"{name}.rank{r}.npz") for r in range(ranks)]
        assert [int(r["world"]) for r in runs] == [ranks] * ranks
        weights = sorted(k for k in ref if k.startswith("weight"))
        for k in weights:
            assert _rel(runs[0][k], ref[k]) < rtol, (name, k, _rel(runs[0][k], ref[k]))
            for other in runs[1:]:  # replicas stay bit-identical
                np.testing.assert_array_equal(other[k], runs[0][k], err_msg=f"{name} {k}")
        hist = [json.loads(str(r["history"])) for r in runs]
        ref_hist = json.loads(str(ref["history"]))
        assert set(hist[0]) == set(ref_hist) and len(hist[0]["loss"]) == 2
        assert all(h == hist[0] for h in hist), f"{name}: History differs between ranks"
        for key, values in ref_hist.items():
            np.testing.assert_allclose(hist[0][key], values, rtol=rtol, err_msg=f"{name} {key}")
        ev = [json.loads(str(r["evaluate"])) for r in runs]
        assert all(e == ev[0] for e in ev)
        for key, value in json.loads(str(ref["evaluate"])).items():
            np.testing.assert_allclose(
                ev[0][key], value, rtol=rtol, err_msg=f"{name} evaluate {key}"
            )
        for r in runs:
            np.testing.assert_allclose(
                r["predict"], ref["predict"], rtol=10 * rtol, atol=rtol, err_msg=f"{name} predict"
            )
        for k in (k for k in ref if k.startswith("after_train_on_batch")):
            assert _rel(runs[-1][k], ref[k]) < rtol, (name, k)
        one_batch = json.loads(str(runs[-1]["train_on_batch"]))
        for key, value in json.loads(str(ref["train_on_batch"])).items():
            np.testing.assert_allclose(one_batch[key], value, rtol=rtol, err_msg=f"{name} {key}")


@needs_mpi
def test_an_exception_on_one_rank_ends_the_job_promptly_with_its_message():
    t0 = time.perf_counter()
    proc = run_mpi(2, str(DIST / "fail_one_rank.py"), timeout=60)
    elapsed = time.perf_counter() - t0
    assert proc.returncode != 0
    assert "deliberate failure on rank 1 after epoch 1" in proc.stderr
    assert "netcore: rank 1 of 2: uncaught RuntimeError" in proc.stderr
    assert elapsed < 30, f"the job took {elapsed:.0f} s to end"


@needs_mpi
@pytest.mark.parametrize(
    "mode, code, said",
    [
        ("exit", 1, "netcore: rank 1 of 2: SystemExit (0) during fit; aborting all ranks"),
        ("interrupt", 130, "netcore: rank 1 of 2: KeyboardInterrupt during fit; aborting all"),
        ("term", 143, "netcore: rank 1 of 2: received SIGTERM at\n"),
    ],
)
def test_sys_exit_ctrl_c_or_sigterm_on_one_rank_during_fit_ends_the_job(mode, code, said):
    t0 = time.perf_counter()
    proc = run_mpi(2, str(DIST / "leave.py"), mode, timeout=60)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == code, proc.stderr
    assert said in proc.stderr and 'leave.py", line' in proc.stderr  # with its traceback
    assert proc.stderr.count("aborting all ranks") == 1
    assert elapsed < 30, f"the job took {elapsed:.0f} s to end"


@needs_mpi
def test_ctrl_c_on_one_rank_of_netcore_train_ends_the_job_and_keeps_the_model(tmp_path):
    proc = run_mpi(
        2,
        str(DIST / "cli_interrupt.py"),
        *("train", "--dataset", "mnist", "--limit", "200", "--epochs", "6"),
        *("--batch-size", "64", "--hidden", "8", "--out", "run", "--no-download"),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "netcore: rank 1 of 2: KeyboardInterrupt during fit; aborting all" in proc.stderr
    model = netcore.load_model(tmp_path / "run" / "model.netcore")  # an epoch's model, whole
    assert model.optimizer is not None
    assert model.optimizer.iterations in (3, 6)  # after epoch 1 or 2 (3 steps of 64 of 160)


@pytest.fixture(scope="module")
def agree_runs(tmp_path_factory):
    """What each of 2 ranks said in each case of tests/distributed/agree.py (one launch)."""
    out = tmp_path_factory.mktemp("agree")
    proc = run_mpi(2, str(DIST / "agree.py"), str(out), timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        case: [(out / f"{case}.rank{r}.txt").read_text() for r in range(2)]
        for case in ("rows", "batch", "no-seed", "stop")
    }


@needs_mpi
@pytest.mark.parametrize(
    "case, field",
    [
        ("rows", "predict call: rank 1 differs from rank 0 in rows (rank 0: 12, rank 1: 13)"),
        ("batch", "evaluate call: rank 1 differs from rank 0 in batch_size (rank 0: 4, rank 1: 5)"),
    ],
)
def test_inference_calls_that_differ_between_ranks_are_refused_on_every_rank(
    agree_runs, case, field
):
    said = agree_runs[case]
    assert said[0] == said[1], said
    assert said[0].startswith("refused: DataParallel: the ranks do not make the same ")
    assert field in said[0]


@needs_mpi
def test_ranks_without_a_seed_predict_and_evaluate_with_rank_0s_weights(agree_runs):
    said = agree_runs["no-seed"]
    assert said[0].startswith("seed ") and said[0] == said[1]  # same seed, outputs, weights


@needs_mpi
def test_stop_training_on_one_rank_stops_every_rank_at_the_same_epoch(agree_runs):
    assert agree_runs["stop"] == ["trained 2 epochs", "trained 2 epochs"]


@needs_mpi
def test_evaluate_on_rank_0_alone_is_reported_as_a_stall_and_ends_at_the_timeout():
    t0 = time.perf_counter()
    proc = run_mpi(
        2,
        str(DIST / "leave.py"),
        "stall",
        timeout=60,
        NETCORE_DIST_STALL_S="1",
        NETCORE_DIST_TIMEOUT_S="3",
    )
    elapsed = time.perf_counter() - t0
    assert proc.returncode != 0
    err = proc.stderr
    assert (
        "netcore: rank 0 of 2: has waited 1 s in check of the evaluate call" in err
        and "rank 1 waits in fit" in err
    ), err
    assert "netcore: rank 1 of 2: has waited 1 s in fit" in err
    assert "rank 0 waits in check of the evaluate call" in err
    assert "inside `if dist.is_chief:` in a callback" in err
    assert "timeout_s=3 s reached; aborting all ranks" in err
    assert elapsed < 30, f"the job took {elapsed:.0f} s to end"


def test_stall_and_timeout_arguments_are_checked(monkeypatch):
    assert DataParallel().stall_s == 60.0 and DataParallel().timeout_s is None
    assert DataParallel(stall_s=2, timeout_s=5.5).timeout_s == 5.5
    monkeypatch.setenv("NETCORE_DIST_STALL_S", "1.5")
    assert DataParallel().stall_s == 1.5
    with pytest.raises(
        ValueError, match="stall_s must be a positive number of seconds, received 0"
    ):
        DataParallel(stall_s=0)
    monkeypatch.setenv("NETCORE_DIST_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="NETCORE_DIST_TIMEOUT_S must be a positive .* 'soon'"):
        DataParallel()


@pytest.fixture(scope="module")
def mismatch_runs(tmp_path_factory):
    """What each of 2 ranks said in each mode of tests/distributed/mismatch.py (one launch)."""
    out = tmp_path_factory.mktemp("mismatch")
    proc = run_mpi(2, str(DIST / "mismatch.py"), str(out), timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        mode: [(out / f"{mode}.rank{r}.txt").read_text() for r in range(2)]
        for mode in ("seed", "units", "data", "no-seed")
    }


@needs_mpi
@pytest.mark.parametrize(
    "what, field",
    [
        ("seed", "seed (rank 0: 4, rank 1: 5)"),
        ("units", "architecture"),
        ("data", "data (rank 0: 40 rows"),
    ],
)
def test_ranks_that_differ_are_refused_at_the_first_step(mismatch_runs, what, field):
    said = mismatch_runs[what]
    assert said[0] == said[1], said  # every rank stops, with the same message
    assert said[0].startswith("refused: DataParallel: the ranks do not run the same training")
    assert f"rank 1 differs from rank 0 in {field}" in said[0]
    assert "Sequential(seed=...)" in said[0]


@needs_mpi
def test_ranks_without_a_seed_adopt_rank_0s_and_train_alike(mismatch_runs):
    said = mismatch_runs["no-seed"]
    assert said[0].startswith("trained with seed ") and said[0] == said[1]


@needs_mpi
def test_cli_train_under_mpiexec_prints_one_line_per_epoch_from_rank_0(tmp_path):
    proc = run_mpi(
        2,
        "-m",
        "netcore",
        "train",
        "--dataset",
        "mnist",
        "--limit",
        "300",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--hidden",
        "16",
        "--out",
        "run",
        "--no-download",
        cwd=tmp_path,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" - ")[0] for line in lines if line.startswith("Epoch ")] == [
        "Epoch 1/2",
        "Epoch 2/2",
    ]
    assert sum(line.startswith("Data: ") for line in lines) == 1  # rank 0 alone prints
    assert (
        "Training: data parallel, 2 processes (mpi); each batch of 64 is split across them."
        in lines
    )
    record = json.loads((tmp_path / "run" / "history.json").read_text())
    assert record["epochs"] == [1, 2]
    assert (tmp_path / "run" / "model.netcore").is_file()


# --------------------------------------------------------------------------- CUDA (unrun here)
@pytest.mark.gpu
def test_nccl_with_one_rank_leaves_device_buffers_summed_in_place():
    import cupy

    from netcore.distribution import LocalComm
    from netcore.distribution._nccl import NcclReducer

    reducer = NcclReducer(LocalComm())
    buf = cupy.arange(10, dtype=cupy.float32)
    reducer.wait([reducer.iallreduce(buf[2:7])])
    reducer.allreduce(buf)
    cupy.cuda.get_current_stream().synchronize()
    np.testing.assert_array_equal(buf.get(), np.arange(10, dtype=np.float32))


@pytest.mark.gpu
@needs_mpi
def test_two_ranks_sharing_the_gpu_train_as_one_process(tmp_path):
    ref = _equivalence_module().run("f32_cuda_softmax")
    proc = run_mpi(2, str(DIST / "equivalence.py"), str(tmp_path), "f32_cuda_softmax")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = [np.load(tmp_path / f"f32_cuda_softmax.rank{r}.npz") for r in range(2)]
    for k in (k for k in ref if k.startswith("weight")):
        assert _rel(runs[0][k], ref[k]) < 1e-4, (k, _rel(runs[0][k], ref[k]))
        np.testing.assert_array_equal(runs[1][k], runs[0][k])
    assert json.loads(str(runs[0]["history"])) == json.loads(str(runs[1]["history"]))


@needs_mpi
def test_rank_0_alone_saves_every_rank_loads_and_a_nan_on_one_rank_stops_all(tmp_path):
    ref_dir, mpi_dir = tmp_path / "one", tmp_path / "two"
    ref_dir.mkdir(), mpi_dir.mkdir()
    script = str(DIST / "save_load_nan.py")
    one = subprocess.run(
        [sys.executable, script, str(ref_dir)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert one.returncode == 0, one.stderr
    proc = run_mpi(2, script, str(mpi_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in mpi_dir.glob("*.netcore")) == ["from_rank0.netcore"]
    ref = np.load(ref_dir / "rank0.npz")
    assert str(ref["stopped"]) == "epoch 1, step 2"  # row 13 is in the second batch of 8
    runs = [np.load(mpi_dir / f"rank{r}.npz") for r in range(2)]
    for run in runs:
        np.testing.assert_allclose(run["pred"], ref["pred"], rtol=1e-12)
        assert str(run["stopped"]) == "epoch 1, step 2"
        assert int(run["iterations"]) == int(ref["iterations"]) == 1
        for k in (k for k in ref.files if k.startswith("weight")):
            assert np.all(np.isfinite(run[k]))
            np.testing.assert_allclose(run[k], ref[k], rtol=1e-12)


def _fake_cupy(monkeypatch, nccl_available: bool) -> None:
    """Just enough of CuPy for the choice between NCCL and host staging."""
    nccl = types.ModuleType("cupy.cuda.nccl")
    nccl.available = nccl_available  # type: ignore[attr-defined]
    cuda = types.ModuleType("cupy.cuda")
    cuda.nccl = nccl  # type: ignore[attr-defined]
    cuda.Device = lambda: types.SimpleNamespace(pci_bus_id="0000:3B:00.0")  # type: ignore[attr-defined]
    cupy = types.ModuleType("cupy")
    cupy.cuda = cuda  # type: ignore[attr-defined]
    for name, mod in (("cupy", cupy), ("cupy.cuda", cuda), ("cupy.cuda.nccl", nccl)):
        monkeypatch.setitem(sys.modules, name, mod)


class _TwoRanksOnOneGpu(distribution.LocalComm):
    """Rank 0 of a world where rank 1 answers exactly as rank 0 (same host, same GPU)."""

    size = 2

    def allgather_obj(self, obj, what=""):
        return [obj, obj]


class _DeviceArray:
    def __init__(self, values):
        self.values = np.array(values, dtype=np.float32)

    def get(self):
        return self.values.copy()

    def set(self, host):
        self.values[...] = host


@pytest.mark.parametrize(
    "available, comm, reason",
    [
        (False, distribution.LocalComm(), "rank 0: this CuPy has no NCCL"),
        (True, _TwoRanksOnOneGpu(), "ranks share a GPU (NCCL takes one GPU per rank)"),
    ],
)
def test_device_gradients_go_through_the_host_when_nccl_cannot_serve_and_one_line_says_why(
    monkeypatch, caplog, available, comm, reason
):
    from netcore.distribution._nccl import StagingReducer, device_reducer

    _fake_cupy(monkeypatch, available)
    with caplog.at_level("WARNING", logger="netcore"):
        reducer = device_reducer(comm)
    assert isinstance(reducer, StagingReducer)
    [record] = caplog.records
    assert reason in record.getMessage() and "through host memory with MPI" in record.getMessage()
    buf = _DeviceArray([1.5, -2.0, 3.0])
    reducer.wait([reducer.iallreduce(buf)])
    np.testing.assert_array_equal(buf.values, [1.5, -2.0, 3.0])  # one rank's sum: itself


@needs_mpi
def test_the_replicas_average_their_batch_norm_statistics_after_every_epoch(tmp_path):
    # each replica updates its moving statistics from its own rows; averaged after each epoch,
    # every rank holds one model: the same statistics and the same predictions
    proc = run_mpi(2, str(DIST / "bn_state.py"), str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r0, r1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    assert np.abs(r0["mean"]).max() > 0.01  # moved away from their start by training
    for key in ("mean", "var", "predict"):
        np.testing.assert_array_equal(r0[key], r1[key], err_msg=key)
