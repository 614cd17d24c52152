"""``jit_compile``: the captured training step (netcore/training/capture*.py).

On the CPU: the argument, ``NETCORE_JIT`` and ``--jit``, the resolution per backend, the step
plan, the buffer layout, the device-counter kernels against their NumPy references, the
per-step Adam kernel derived from ``adam_update``'s spec, the GEMM operand mapping, and the
whole captured epoch loop driven by a CPU stand-in for the graph runtime (``capture`` keeps
the step function, ``replay`` calls it): that runs exactly the code a CUDA graph would hold,
so captured and eager training must agree bit for bit. Wrong replays injected into the
stand-in (a frozen rate, a stale input buffer) must be caught by the self-check. The ``gpu``
tests repeat the end-to-end checks with real CUDA graphs.
"""

from __future__ import annotations

import contextlib
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import netcore
from netcore.backend.graph import gemm_operands, graph_support
from netcore.errors import NonFiniteLossError
from netcore.kernels import captured as step_kernels
from netcore.kernels.optimizers import CHECK, WRITE
from netcore.training import capture, capture_check, capture_kernels


class ReplayingRuntime:
    """The graph runtime's contract on the CPU: capture keeps ``fn``, replay runs it."""

    def __init__(self, fail: bool = False) -> None:
        self.captures = self.replays = 0
        self.fail = fail

    def epoch(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def warmup(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def capture(self, fn: Callable[[], None]) -> Callable[[], None]:
        if self.fail:
            raise RuntimeError("this step cannot be captured")
        self.captures += 1
        return fn

    def replay(self, graph: Callable[[], None]) -> None:
        self.replays += 1
        graph()


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> ReplayingRuntime:
    """Make every backend capture, through a :class:`ReplayingRuntime`."""
    rt = ReplayingRuntime()
    monkeypatch.setattr(capture, "backend_can_capture", lambda be: (True, "stand-in"))
    monkeypatch.setattr(capture, "runtime_of", lambda be: rt)
    return rt


def _model(
    optimizer: Any = "adam", jit_compile: Any = "auto", dropout: bool = False, backend: str = "cpu"
) -> netcore.Sequential:
    layers: list[Any] = [netcore.layers.Input((6,)), netcore.layers.Dense(8, activation="relu")]
    if dropout:
        layers.append(netcore.layers.Dropout(0.25))
    layers.append(netcore.layers.Dense(3, activation="softmax"))
    m = netcore.Sequential(layers, seed=3, backend=backend)
    m.compile(
        optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit_compile
    )
    return m


def _data(n: int = 70) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, n)


# ---------------------------------------------------------------- the argument
@pytest.mark.parametrize("bad", ["yes", 1, 0, None, "Auto"])
def test_jit_compile_refuses_anything_but_true_false_or_auto(bad: Any) -> None:
    m = netcore.Sequential([netcore.layers.Input((2,)), netcore.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"jit_compile must be True, False or 'auto', received"):
        m.compile("sgd", "mse", jit_compile=bad)


def test_jit_compile_true_on_the_cpu_backend_fails_at_compile_naming_the_backend() -> None:
    with pytest.raises(
        ValueError, match="jit_compile=True needs the cuda backend; received backend cpu"
    ):
        _model(jit_compile=True)


def test_graph_support_names_the_simulator() -> None:
    sim = types.SimpleNamespace(name="cuda", simulated=True)
    ok, reason = graph_support(sim)
    assert not ok and "simulator" in reason


def test_graph_support_refuses_an_object_without_a_backend_name_without_raising() -> None:
    assert graph_support(object()) == (
        False,
        "jit_compile=True needs the cuda backend; received backend None",
    )


def test_auto_trains_eagerly_on_the_cpu_and_the_choice_is_not_saved(tmp_path: Any) -> None:
    m = _model()
    assert m.jit_compile == "auto"
    x, y = _data()
    feed = m._prepare(x, y, "x")
    assert capture.for_fit(m, feed, 16, data_parallel=False, weighted=False) is None
    m.fit(x, y, batch_size=16, verbose=0)
    m.save(tmp_path / "m.netcore")
    assert "jit_compile" not in str(m.get_config())
    assert netcore.load_model(tmp_path / "m.netcore").jit_compile == "auto"


@pytest.mark.parametrize(
    "case, reason",
    [
        ({"data_parallel": True}, "data-parallel"),
        ({"weighted": True}, "sample_weight"),
    ],
)
def test_fit_that_cannot_be_captured_is_eager_under_auto_and_refused_under_true(
    runtime: ReplayingRuntime, case: dict, reason: str
) -> None:
    x, y = _data()
    for mode in ("auto", True):
        m = _model(jit_compile=mode)
        feed = m._prepare(x, y, "x")
        args = {"data_parallel": False, "weighted": False, **case}
        if mode == "auto":
            assert capture.for_fit(m, feed, 16, **args) is None
        else:
            with pytest.raises(ValueError, match=reason):
                capture.for_fit(m, feed, 16, **args)


@pytest.mark.parametrize(
    "env, arg, want",
    [
        (None, "auto", "auto"),
        ("", True, True),
        ("auto", False, False),
        ("0", "auto", False),
        ("0", True, False),  # the operator's switch turns every capture off
        ("1", "auto", True),  # "auto" becomes capture-or-raise
        ("1", False, False),  # an explicit False in the code stays eager
        (" 1 ", "auto", True),
    ],
)
def test_netcore_jit_environment_variable_over_the_compile_argument(
    monkeypatch: pytest.MonkeyPatch, env: str | None, arg: Any, want: Any
) -> None:
    if env is None:
        monkeypatch.delenv(capture.JIT_ENV, raising=False)
    else:
        monkeypatch.setenv(capture.JIT_ENV, env)
    assert capture.effective_jit(arg) == want


def test_netcore_jit_refuses_other_values_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(capture.JIT_ENV, "yes")
    with pytest.raises(ValueError, match="NETCORE_JIT must be 0, 1 or auto, received 'yes'"):
        _model().fit(*_data(), batch_size=16, verbose=0)


def test_netcore_jit_0_trains_eagerly_where_auto_would_capture(
    runtime: ReplayingRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(capture.JIT_ENV, "0")
    _model().fit(*_data(), batch_size=16, verbose=0)
    assert runtime.captures == runtime.replays == 0


def test_cli_jit_switches_reach_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    from netcore.cli import train as cli_train
    from netcore.cli.parser import build_parser

    parser = build_parser()
    base = ["train", "--dataset", "mnist"]
    assert parser.parse_args(base).jit is None
    assert parser.parse_args([*base, "--jit"]).jit is True
    assert parser.parse_args([*base, "--no-jit"]).jit is False
    seen: list[Any] = []

    class Stop(Exception):
        pass

    def spy(self: Any, *args: Any, **kw: Any) -> None:
        seen.append(kw.get("jit_compile"))
        raise Stop

    monkeypatch.setattr(netcore.Sequential, "compile", spy)
    for argv, want in ((["--no-jit"], False), (["--jit"], True), ([], "auto")):
        args = parser.parse_args([*base, "--no-download", "--limit", "40", *argv])
        with pytest.raises(Stop):
            cli_train.cmd_train(args)
        assert seen[-1] == want


# ---------------------------------------------------------------- plan and buffers
@pytest.mark.parametrize(
    "n, b, modes",
    [
        (70, 16, ["warmup", "replay", "replay", "replay", "eager"]),
        (64, 16, ["warmup", "replay", "replay", "replay"]),
        (32, 16, ["warmup", "replay"]),
        (20, 16, ["eager", "eager"]),  # one full batch: nothing to replay
        (10, 16, ["eager"]),
    ],
)
def test_step_plan_replays_the_full_batches_after_the_first(n: int, b: int, modes: list) -> None:
    plan = capture.StepPlan(n, b, capture=True)
    assert [plan.mode(s) for s in range(plan.steps)] == modes
    assert [plan.rows(s) for s in range(plan.steps)] == [
        (s * b, min(n, (s + 1) * b)) for s in range(len(modes))
    ]
    assert all(capture.StepPlan(n, b, capture=False).mode(s) == "eager" for s in range(plan.steps))


def test_buffer_layout_holds_one_batch_and_one_log_row_per_step() -> None:
    x = np.zeros((70, 28, 28), np.float32)
    y = np.zeros((70,), np.int64)
    lay = capture.buffer_layout(16, 5, x, y, n_metrics=2, adam=True)
    assert lay["x"] == ((16, 28, 28), np.float32) and lay["y"] == ((16,), np.int64)
    assert lay["counter"] == ((1,), np.int32)
    assert lay["row"] == ((5,), np.float64) and lay["log"] == ((5, 5), np.float64)
    assert lay["alphas"] == ((5,), np.float32)
    assert "alphas" not in capture.buffer_layout(16, 5, x, y, 0, adam=False)


def test_adam_rates_follow_keras_bias_correction() -> None:
    opt = netcore.optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99)
    got = capture.adam_rates(opt, 4, 3, np.float64)
    want = [0.01 * np.sqrt(1 - 0.99**t) / (1 - 0.8**t) for t in (4, 5, 6)]
    np.testing.assert_allclose(got, want, rtol=1e-15)


# ---------------------------------------------------------------- the counter kernels
@pytest.mark.parametrize(
    "src",
    [
        np.arange(50 * 6, dtype=np.float32).reshape(50, 6),
        np.arange(50 * 3, dtype=np.float64).reshape(50, 3),
        np.arange(50 * 4 * 2, dtype=np.float32).reshape(50, 4, 2),
        np.arange(50, dtype=np.int64),
        np.arange(50, dtype=np.int32),
    ],
    ids=["f32", "f64", "f32-3d", "i64-labels", "i32-labels"],
)
def test_gather_kernel_takes_the_counters_rows_of_the_order(src: np.ndarray) -> None:
    k = step_kernels.cpu_step_kernels()
    order = np.random.default_rng(1).permutation(50).astype(np.int64)
    for c in range(50 // 8):
        dst = np.full((8, *src.shape[1:]), -1, dtype=src.dtype)
        want = dst.copy()
        counter = np.array([c], np.int32)
        k["gather_rows"](counter, order, step_kernels.word_rows(src), step_kernels.word_rows(dst))
        step_kernels.gather_rows_reference(counter, order, src, want)
        np.testing.assert_array_equal(dst, want)
        np.testing.assert_array_equal(dst, src[order[c * 8 : (c + 1) * 8]])
        assert counter[0] == c  # the gather reads the counter, record_step moves it


def test_record_kernel_writes_the_counters_row_and_moves_it_on() -> None:
    k = step_kernels.cpu_step_kernels()
    log, want = np.full((4, 3), np.nan), np.full((4, 3), np.nan)
    counter, ref_counter = np.array([1], np.int32), np.array([1], np.int32)
    for v in (1.5, -2.0):
        row = np.array([v, 2 * v, 0.0])
        k["record_step"](counter, row, log)
        step_kernels.record_step_reference(ref_counter, row, want)
    np.testing.assert_array_equal(log, want)
    assert counter[0] == ref_counter[0] == 3


def test_word_rows_refuses_rows_that_are_not_whole_words() -> None:
    with pytest.raises(ValueError, match="4-byte words"):
        step_kernels.word_rows(np.zeros((4, 3), np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_at_kernel_is_the_adam_update_with_the_tables_rate(dtype: Any) -> None:
    be = netcore.get_backend("cpu")
    rng = np.random.default_rng(2)
    p, g, m = (rng.normal(size=37).astype(dtype) for _ in range(3))
    v = rng.random(37).astype(dtype)
    alphas = np.array([1e-3, 2e-3, 5e-3], dtype)
    got = [a.copy() for a in (p, g, m, v)]
    want = [a.copy() for a in (p, g, m, v)]
    flag, flag_ref = np.zeros(1, np.int32), np.zeros(1, np.int32)
    step_kernels.cpu_step_kernels()["adam_update_at"](
        flag,
        *got,
        alphas,
        np.array([2], np.int32),
        dtype(1 - 0.9),
        dtype(1 - 0.999),
        dtype(1e-7),
        CHECK | WRITE,
    )
    be.adam_update(*want, float(alphas[2]), 0.9, 0.999, 1e-7, flag_ref)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert flag[0] == flag_ref[0] == 0


def test_per_step_kernel_is_derived_from_the_ops_spec() -> None:
    """adam_update_at takes adam_update's parameters with alpha replaced by the table and
    the counter: nothing of Adam's parameter list is written twice."""
    from netcore.kernels import SPECS

    base = [(p.name, p.type, p.ndim) for p in SPECS["adam_update"].params]
    at = [(p.name, p.type, p.ndim) for p in step_kernels.PER_STEP_SPECS["adam_update"].params]
    i = [n for n, _, _ in base].index("alpha")
    assert at == base[:i] + [("alphas", "float", 1), ("counter", "int32", 1)] + base[i + 1 :]
    assert step_kernels.PER_STEP_SPECS["adam_update"].name == "adam_update_at"


def test_routed_update_reads_the_rate_at_the_counter_and_leaves_other_ops_alone() -> None:
    be = netcore.get_backend("cpu")
    kernels = capture_kernels.StepKernels(be)
    rng = np.random.default_rng(7)
    p, g, m, v = (rng.random(11).astype(np.float32) for _ in range(4))
    table, counter = np.array([1e-2, 3e-2], np.float32), np.array([1], np.int32)
    got, want = [a.copy() for a in (p, g, m, v)], [a.copy() for a in (p, g, m, v)]
    flag = np.zeros(1, np.int32)
    with capture_kernels.routed_updates(be, kernels, {"adam_update": table}, counter):
        be.adam_update(*got, 123.0, 0.9, 0.999, 1e-7, flag)  # the host's alpha is not used
        sgd_p = p.copy()
        be.sgd_update(sgd_p, g, None, 0.5, 0.0, False, flag)
    be.adam_update(*want, float(table[1]), 0.9, 0.999, 1e-7, np.zeros(1, np.int32))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sgd_p, p - np.float32(0.5) * g)
    assert "_update" not in vars(be)


# ---------------------------------------------------------------- the GEMM mapping
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_operands_compute_the_row_major_product_in_column_major(ta: bool, tb: bool) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 3) if ta else (3, 5))
    b = rng.normal(size=(4, 5) if tb else (5, 4))
    op1, op2, m, n, k, ld1, ld2, ldc = gemm_operands(a.shape, b.shape, ta, tb)

    def col_major(buf: np.ndarray, rows: int, cols: int, ld: int, op: int) -> np.ndarray:
        # the matrix cuBLAS reads from a flat buffer with leading dimension ld, then op
        mat = buf.reshape(-1)[: ld * cols].reshape(cols, ld).T[:rows]
        return mat.T if op == 1 else mat

    first = col_major(b, *((k, m) if op1 == 1 else (m, k)), ld1, op1)
    second = col_major(a, *((n, k) if op2 == 1 else (k, n)), ld2, op2)
    c_col = first @ second  # (m, n) column-major = C^T
    want = (a.T if ta else a) @ (b.T if tb else b)
    np.testing.assert_allclose(c_col.T, want, rtol=1e-12)
    assert ldc == m


def test_gemm_operands_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="matmul shapes do not match"):
        gemm_operands((3, 5), (4, 2), False, False)


# ---------------------------------------------------------------- captured epochs (CPU stand-in)
@pytest.mark.parametrize(
    "optimizer",
    [
        netcore.optimizers.Adam,
        netcore.optimizers.RMSprop,
        lambda: netcore.optimizers.SGD(0.05, momentum=0.9),
        lambda: netcore.optimizers.Adagrad(0.05),
    ],
    ids=["adam", "rmsprop", "sgd-momentum", "adagrad"],
)
@pytest.mark.parametrize("shuffle", [True, False])
def test_captured_training_matches_eager_training_bit_for_bit(
    runtime: ReplayingRuntime, optimizer: Callable[[], Any], shuffle: bool
) -> None:
    x, y = _data()
    cap, eager = _model(optimizer()), _model(optimizer(), jit_compile=False)
    hc = cap.fit(x, y, batch_size=16, epochs=3, shuffle=shuffle, verbose=0)
    he = eager.fit(x, y, batch_size=16, epochs=3, shuffle=shuffle, verbose=0)
    assert (runtime.captures, runtime.replays) == (3, 9)  # one capture per epoch, steps 1..3
    assert hc.history == he.history
    for a, b in zip(cap.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert cap.optimizer is not None and eager.optimizer is not None
    assert cap.optimizer.iterations == eager.optimizer.iterations == 15


def test_captured_training_with_dropout_matches_eager(runtime: ReplayingRuntime) -> None:
    x, y = _data()
    cap, eager = _model(dropout=True), _model(dropout=True, jit_compile=False)
    assert (
        cap.fit(x, y, batch_size=16, epochs=2, verbose=0).history
        == eager.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    )


def _nan_run(jit_compile: Any) -> tuple[NonFiniteLossError, netcore.Sequential]:
    x, y = _data(80)
    x[40] = 3e38  # step 3 of 5 (rows 32..47), a replayed step: the loss overflows
    m = _model("sgd", jit_compile=jit_compile)
    with pytest.raises(NonFiniteLossError) as err:
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return err.value, m


def test_nonfinite_loss_in_a_replayed_step_stops_with_the_last_good_weights(
    runtime: ReplayingRuntime,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the input-scale advice about 3e38
        got, cap = _nan_run("auto")
        want, eager = _nan_run(False)
    assert runtime.replays >= 2
    assert (got.epoch, got.step, got.cause) == (want.epoch, want.step, want.cause) == (1, 3, "loss")
    for a, b in zip(cap.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert cap.optimizer is not None and eager.optimizer is not None
    assert cap.optimizer.iterations == eager.optimizer.iterations == 2


def test_nonfinite_loss_in_the_checked_step_is_agreement_not_a_mismatch(
    runtime: ReplayingRuntime,
) -> None:
    x, y = _data(80)
    x[20] = 3e38  # step 1 (rows 16..31): the self-checked replay
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = _model("sgd")
        with pytest.raises(NonFiniteLossError) as err:
            m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert not [w for w in rec if "differs" in str(w.message)]
    assert (err.value.step, err.value.cause) == (2, "loss")  # 1-based, as eagerly
    assert not capture_check.needs_check(m, 16)


def test_captured_model_saves_and_resumes_like_an_uninterrupted_run(
    runtime: ReplayingRuntime, tmp_path: Any
) -> None:
    x, y = _data()
    whole = _model()
    whole.fit(x, y, batch_size=16, epochs=3, verbose=0)
    first = _model()
    first.fit(x, y, batch_size=16, epochs=2, verbose=0)
    first.save(tmp_path / "m.netcore")
    resumed = netcore.load_model(tmp_path / "m.netcore")
    h = resumed.fit(x, y, batch_size=16, epochs=3, initial_epoch=2, verbose=0)
    assert whole.history is not None
    assert h.history["loss"] == whole.history.history["loss"][2:]
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_failed_capture_warns_once_and_trains_eagerly_under_auto(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = ReplayingRuntime(fail=True)
    monkeypatch.setattr(capture, "backend_can_capture", lambda be: (True, "stand-in"))
    monkeypatch.setattr(capture, "runtime_of", lambda be: rt)
    x, y = _data()
    with pytest.warns(RuntimeWarning, match="could not be captured") as rec:
        h = _model().fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert len([w for w in rec if "captured" in str(w.message)]) == 1
    assert (
        h.history == _model(jit_compile=False).fit(x, y, batch_size=16, epochs=2, verbose=0).history
    )


def test_a_runtime_that_cannot_start_is_eager_under_auto_and_refused_under_true(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(be: Any) -> Any:
        raise OSError("libcublas not found")

    monkeypatch.setattr(capture, "backend_can_capture", lambda be: (True, "stand-in"))
    monkeypatch.setattr(capture, "runtime_of", broken)
    x, y = _data()
    with pytest.warns(RuntimeWarning, match="libcublas not found"):
        h = _model().fit(x, y, batch_size=16, verbose=0)
    assert h.history == _model(jit_compile=False).fit(x, y, batch_size=16, verbose=0).history
    with pytest.raises(RuntimeError, match="jit_compile=True: the graph runtime failed"):
        _model(jit_compile=True).fit(x, y, batch_size=16, verbose=0)


def test_failed_capture_raises_under_jit_compile_true(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "backend_can_capture", lambda be: (True, "stand-in"))
    monkeypatch.setattr(capture, "runtime_of", lambda be: ReplayingRuntime(fail=True))
    x, y = _data()
    with pytest.raises(RuntimeError, match="jit_compile=True: capturing the training step failed"):
        _model(jit_compile=True).fit(x, y, batch_size=16, verbose=0)


# ---------------------------------------------------------------- the self-check
def _frozen_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong replay: the graph's Adam rate frozen at the warm-up step's value."""
    real = capture.adam_rates

    def frozen(optimizer: Any, first_t: int, steps: int, dtype: Any) -> np.ndarray:
        return np.full_like(real(optimizer, first_t, steps, dtype), optimizer.rate_at(first_t))

    monkeypatch.setattr(capture, "adam_rates", frozen)


def _stale_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong replay: the graph no longer refills its input buffer."""
    monkeypatch.setattr(capture_kernels.StepKernels, "gather", lambda self, *args: None)


@pytest.mark.parametrize("inject", [_frozen_rate, _stale_input], ids=["frozen-rate", "stale-x"])
def test_wrong_replay_is_caught_warned_once_and_trained_eagerly_under_auto(
    runtime: ReplayingRuntime, monkeypatch: pytest.MonkeyPatch, inject: Callable[..., None]
) -> None:
    inject(monkeypatch)
    x, y = _data()
    with pytest.warns(RuntimeWarning, match="replayed step differs") as rec:
        cap = _model()
        hc = cap.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert len([w for w in rec if "differs" in str(w.message)]) == 1
    assert "largest difference" in str(rec[0].message) and "tolerance" in str(rec[0].message)
    assert (runtime.captures, runtime.replays) == (1, 1)  # the checked replay, then eager
    eager = _model(jit_compile=False)
    assert hc.history == eager.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    for a, b in zip(cap.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a later fit of the model: eager, and no new warning
        cap.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert (runtime.captures, runtime.replays) == (1, 1)


def test_wrong_replay_raises_under_jit_compile_true(
    runtime: ReplayingRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stale_input(monkeypatch)
    x, y = _data()
    with pytest.raises(
        RuntimeError, match=r"jit_compile=True: the replayed step differs.*largest difference"
    ):
        m = _model()
        m.jit_compile = True  # compile() refuses True on the CPU; the stand-in captures
        m.fit(x, y, batch_size=16, verbose=0)


def test_self_check_runs_once_per_model_batch_size_and_optimizer(
    runtime: ReplayingRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[int] = []
    real = capture_check.snapshot

    def counted(model: Any) -> Any:
        checks.append(1)
        return real(model)

    monkeypatch.setattr(capture_check, "snapshot", counted)
    x, y = _data()
    m = _model()
    m.fit(x, y, batch_size=16, epochs=2, verbose=0)
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert len(checks) == 1
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert len(checks) == 2


def test_compare_names_the_largest_difference_relative_to_the_steps_change() -> None:
    before = {"weights": np.array([1.0, 2.0, 3.0], np.float32)}
    eager = {"weights": np.array([1.1, 2.0, 3.0], np.float32), "loss": np.float32(0.5)}
    same = capture_check.compare(before, dict(eager), eager, np.float32)
    assert same.ok
    close = {**eager, "weights": eager["weights"] + np.float32(1e-5)}  # 1e-4 of the change
    assert capture_check.compare(before, close, eager, np.float32).ok
    off = {**eager, "weights": np.array([1.1, 2.0, 3.01], np.float32)}
    v = capture_check.compare(before, off, eager, np.float32)
    assert not v.ok and v.where == "weights[2]" and v.difference == pytest.approx(0.01, rel=1e-3)
    assert "weights[2]" in v.message()
    nan = capture_check.compare(before, {**eager, "loss": np.float32("nan")}, eager, np.float32)
    assert not nan.ok and nan.where == "loss"
    both = {**eager, "loss": np.float32("nan")}
    assert capture_check.compare(before, both, dict(both), np.float32).ok  # both steps NaN
    flag = {"skip flag": np.array([0], np.int32)}
    skipped = capture_check.compare(flag, {"skip flag": np.array([1], np.int32)}, flag, np.float32)
    assert not skipped.ok and skipped.where == "skip flag[0]"


# ---------------------------------------------------------------- real CUDA graphs
def _step_losses(model: netcore.Sequential, x: np.ndarray, y: np.ndarray, b: int) -> list[float]:
    """Per-step losses of one epoch: eager steps through _train_step, replays from the log."""
    losses: list[Any] = []
    inner = model._train_step

    def spy(*args: Any) -> Any:
        loss, sums = inner(*args)
        losses.append(loss)
        return loss, sums

    model._train_step = spy  # type: ignore[method-assign,assignment]
    kept: list[Any] = []
    make = capture.for_fit

    def keep(*args: Any, **kw: Any) -> Any:
        got = make(*args, **kw)
        kept.append(got)
        return got

    capture.for_fit = keep
    try:
        model.fit(x, y, batch_size=b, epochs=1, shuffle=True, verbose=0)
    finally:
        capture.for_fit = make
        del model._train_step
    host = [float(model.backend.to_numpy(v)) for v in losses]
    if kept and kept[0] is not None:  # captured: step 0 eager, the rest in the log
        log = model.backend.to_numpy(kept[0].buf["log"])
        host = host[:1] + [float(v) for v in log[1:, 0]]
    return host


@pytest.mark.gpu
@pytest.mark.parametrize(
    "optimizer, dropout",
    [
        ("adam", False),
        ("adam", True),
        ("rmsprop", False),
        (lambda: netcore.optimizers.SGD(0.05, momentum=0.9), False),
        ("rmsprop", True),
    ],
    ids=["adam", "adam-dropout", "rmsprop", "sgd-momentum", "rmsprop-dropout"],
)
def test_gpu_captured_and_eager_steps_agree(optimizer: Any, dropout: bool) -> None:
    """Every step of a captured epoch (its self-check included) against the eager epoch:
    Adam's per-step rate, dropout's generator under capture, the constant-rate optimizers."""
    x, y = _data(51 * 32)

    def make(jit: Any) -> netcore.Sequential:
        opt = optimizer() if callable(optimizer) else optimizer
        return _model(opt, backend="cuda", jit_compile=jit, dropout=dropout)

    cap, eager = make(True), make(False)
    lc, le = _step_losses(cap, x, y, 32), _step_losses(eager, x, y, 32)
    assert len(lc) == len(le) == 51
    np.testing.assert_allclose(lc, le, rtol=1e-6)
    for a, b in zip(cap.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
def test_gpu_nonfinite_loss_under_capture_keeps_the_last_good_weights() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = _data(80)
        x[40] = 3e38
        got = {}
        for mode in (True, False):
            m = _model("sgd", backend="cuda", jit_compile=mode)
            with pytest.raises(NonFiniteLossError) as err:
                m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
            assert m.optimizer is not None
            got[mode] = (err.value.step, m.get_weights(), m.optimizer.iterations)
    assert got[True][0] == got[False][0] == 3 and got[True][2] == got[False][2] == 2
    for a, b in zip(got[True][1], got[False][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
def test_gpu_captured_model_saves_and_resumes_exactly(tmp_path: Any) -> None:
    x, y = _data(640)
    whole = _model(backend="cuda", jit_compile=True)
    whole.fit(x, y, batch_size=32, epochs=3, verbose=0)
    first = _model(backend="cuda", jit_compile=True)
    first.fit(x, y, batch_size=32, epochs=2, verbose=0)
    first.save(tmp_path / "m.netcore")
    resumed = netcore.load_model(tmp_path / "m.netcore", backend="cuda")
    assert resumed.jit_compile == "auto"  # captures on cuda; compile() again would reset Adam
    h = resumed.fit(x, y, batch_size=32, epochs=3, initial_epoch=2, verbose=0)
    assert whole.history is not None
    assert h.history["loss"] == whole.history.history["loss"][2:]
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- the benchmark contender
def test_compare_times_the_captured_contender_and_checks_its_loss(
    runtime: ReplayingRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import compare

    monkeypatch.setattr(compare, "netcore_modes", lambda device: (False, True))
    r = compare.run_config("cpu", 64, 200, 1, None, 2e-3, log=lambda *a: None)
    assert runtime.replays > 0  # the captured contender replayed its steps
    assert r["median_s"]["netcore_captured"] > 0
    assert r["ratio_netcore_captured_over_netcore"] > 0
    check = r["loss_first_epoch_captured"]
    assert check["match"] and check["netcore_captured"] == check["netcore"]
    r["loss_first_epoch_captured"] = {**check, "match": False}
    assert compare.report_mismatches([r]) == ["captured loss cpu b=64"]
    r["device"] = "cuda"
    r["batch_size"] = 128
    r["ratio_netcore_captured_over_torch"] = 0.25
    assert (
        "target cuda b=128: netcore captured/torch = 0.250 (<= 0.5) MET"
        in compare.check_targets([r])
    )


# ---------------------------------------------------------------- the CUDA runtime's own logic
class _FakeStream:
    def __init__(self) -> None:
        self.events: list[str] = []

    def begin_capture(self) -> None:
        self.events.append("begin")

    def end_capture(self) -> str:
        self.events.append("end")
        return "graph"


def _fake_runtime(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, list[str]]:
    """A GraphRuntime over stand-ins for CuPy's stream, pool and allocator switch."""
    import sys

    from netcore.backend.graph import GraphRuntime

    allocators: list[str] = []

    @contextlib.contextmanager
    def using_allocator(fn: Any) -> Any:
        allocators.append("private")
        yield
        allocators.append("default")

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(using_allocator=using_allocator))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    be = netcore.get_backend("cpu")
    rt = GraphRuntime.__new__(GraphRuntime)
    rt._backend, rt.stream = weakref.ref(be), _FakeStream()
    rt.pool = types.SimpleNamespace(malloc=None)
    rt.gemm = types.SimpleNamespace(  # type: ignore[assignment]
        matmul=lambda a, b, out, ta, tb: ("gemm", ta, tb)
    )
    return rt, be, allocators


def test_graph_runtime_routes_matmul_only_while_capturing(monkeypatch: pytest.MonkeyPatch) -> None:
    rt, be, allocators = _fake_runtime(monkeypatch)
    seen = []

    def body() -> None:
        seen.append(be.matmul(None, None, transpose_b=True))
        assert rt.stream.events == ["begin"] and allocators == ["private"]

    assert rt.capture(body) == "graph"
    assert seen == [("gemm", False, True)]
    assert rt.stream.events == ["begin", "end"] and allocators == ["private", "default"]
    assert "matmul" not in vars(be)  # the class's CuPy/NumPy route again
    np.testing.assert_array_equal(be.matmul(np.eye(2), np.ones((2, 2))), np.ones((2, 2)))


def test_graph_runtime_ends_a_failed_capture_and_raises_the_bodys_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt, be, _ = _fake_runtime(monkeypatch)

    def body() -> None:
        raise ValueError("not capturable")

    with pytest.raises(ValueError, match="not capturable"):
        rt.capture(body)
    assert rt.stream.events == ["begin", "end"] and "matmul" not in vars(be)


def test_each_backend_keeps_one_graph_runtime_for_its_life() -> None:
    import gc

    from netcore.backend import graph

    made: list[Any] = []

    def factory(be: Any) -> Any:
        made.append(be)
        return types.SimpleNamespace()

    be = netcore.get_backend("cpu")
    first = graph.runtime_of(be, factory)
    assert graph.runtime_of(be, factory) is first and len(made) == 1
    other = netcore.get_backend("cpu")
    assert graph.runtime_of(other, factory) is not first
    made.clear()
    n = len(graph._RUNTIMES)
    del be, other
    gc.collect()
    assert len(graph._RUNTIMES) == n - 2  # the runtime (and its pool) goes with its backend


class _FakeLaunchers:
    """A CUDA launcher set that records which kernels were compiled (requested)."""

    def __init__(self) -> None:
        self.compiled: list[tuple[str, str]] = []

    def get(self, name: str, key: str) -> Callable[..., None]:
        self.compiled.append((name, key))
        return lambda *args: None


class _FakeCudaBackend:
    name, simulated = "cuda", True


def test_step_kernels_compile_once_per_backend_and_adam_only_for_adam(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    made: list[_FakeLaunchers] = []

    def make(simulated: bool) -> _FakeLaunchers:
        made.append(_FakeLaunchers())
        return made[-1]

    monkeypatch.setattr(step_kernels, "cuda_step_kernels", make)
    be, other = _FakeCudaBackend(), _FakeCudaBackend()
    first = capture_kernels.StepKernels(be)
    first.prepare(np.float32, adam=False)
    assert made[0].compiled == [
        ("gather_rows", step_kernels.UNTYPED_KEY),
        ("record_step", step_kernels.UNTYPED_KEY),
    ]
    capture_kernels.StepKernels(be).prepare(np.float64, adam=True)
    assert len(made) == 1 and made[0].compiled[-1] == ("adam_update_at", "float64")
    capture_kernels.StepKernels(other)
    assert len(made) == 2
    n = len(capture_kernels._CUDA_SETS)
    del be, other, first
    gc.collect()
    assert len(capture_kernels._CUDA_SETS) == n - 2  # the launchers go with their backend


def test_capture_gemm_sets_its_workspace_after_its_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """cublasSetStream resets a handle to cuBLAS' default workspace pool, so the workspace
    the capture relies on must be set after the stream (cuBLAS' documented behaviour)."""
    import sys

    from netcore.backend import graph

    calls: list[str] = []

    class _Fn:
        def __init__(self, name: str) -> None:
            self.name = name

        def __call__(self, *args: Any) -> int:
            calls.append(self.name)
            return 0

    class _Lib:
        def __getattr__(self, name: str) -> _Fn:
            fn = _Fn(name)
            setattr(self, name, fn)
            return fn

    fake_cupy = types.SimpleNamespace(
        empty=lambda n, dtype: types.SimpleNamespace(data=types.SimpleNamespace(ptr=4096))
    )
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setattr(graph, "_find_libcublas", lambda: "libcublas.so.12")
    monkeypatch.setattr(graph.ctypes, "CDLL", lambda path: _Lib())
    gemm = graph.CaptureGemm(stream_ptr=1234)
    assert calls == ["cublasCreate_v2", "cublasSetStream_v2", "cublasSetWorkspace_v2"]
    gemm.close()
    assert calls[-1] == "cublasDestroy_v2"
