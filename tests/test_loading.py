"""Loading a model file: every damaged, inconsistent or foreign file ends in ModelFileError naming
the file and the fault, arrays are checked against the architecture before their data is read,
and memory stays bounded by what the architecture needs."""

import json
import os
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from zipedit import data_span, members, npy, npy_header_only, set_field, write_members

import netcore as nc
from netcore.layers import Dense
from netcore.models import Sequential


def trained(optimizer="adam", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    m = Sequential(
        [Dense(8, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")],
        backend="cpu",
        seed=seed,
    )
    m.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return m


def optimizer_of(model):
    assert model.optimizer is not None
    return model.optimizer


@pytest.fixture
def saved(tmp_path):
    m = trained()
    path = tmp_path / "m.netcore"
    m.save(path)
    return m, path


def edited(path, **changes):
    """Rewrite ``path`` with members replaced (bytes) or removed (None); CRCs stay valid."""
    items = members(path)
    for name, data in changes.items():
        name = name.replace("__", "/").replace("_npy", ".npy").replace("_json", ".json")
        if data is None:
            items.pop(name)
        else:
            items[name] = data
    write_members(path, items)
    return path


def with_meta(path, change):
    items = members(path)
    meta = json.loads(items["netcore.json"])
    change(meta)
    items["netcore.json"] = json.dumps(meta).encode()
    write_members(path, items)
    return path


def refused(path, match):
    with pytest.raises(nc.ModelFileError, match=match) as info:
        nc.load_model(path, backend="cpu")
    assert str(path) in str(info.value)
    return info.value


# ------------------------------------------------------------------ what loads
@pytest.mark.parametrize(
    "optimizer",
    [
        nc.optimizers.Adam(0.01),
        nc.optimizers.SGD(0.1, momentum=0.9),
        nc.optimizers.Adagrad(0.1),
        nc.optimizers.RMSprop(0.01, momentum=0.5),
        nc.optimizers.RMSprop(0.01),
    ],
)
def test_round_trip_restores_weights_optimizer_state_and_step_count(tmp_path, optimizer):
    m = trained(optimizer)
    m.save(tmp_path / "m.netcore")
    back = nc.load_model(tmp_path / "m.netcore", backend="cpu")
    for a, b in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert optimizer_of(back).iterations == optimizer_of(m).iterations == 8
    assert [sorted(s) for s in optimizer_of(back).state] == [
        sorted(s) for s in optimizer_of(m).state
    ]
    for mine, theirs in zip(optimizer_of(m).state, optimizer_of(back).state):
        for slot in mine:
            np.testing.assert_array_equal(mine[slot], theirs[slot])


def test_a_file_written_by_hand_in_the_documented_layout_loads(tmp_path):
    kernel0 = np.arange(32, dtype=np.float32).reshape(4, 8) / 10
    weights = [
        kernel0,
        np.ones(8, np.float32),
        np.full((8, 3), 0.5, np.float32),
        np.zeros(3, np.float32),
    ]
    config = {
        "name": "hand",
        "seed": 3,
        "dtype": "float32",
        "layers": [
            {
                "class": "Dense",
                "config": {"name": "dense", "units": 8, "activation": "relu", "input_shape": [4]},
            },
            {"class": "Dense", "config": {"name": "dense_1", "units": 3, "activation": "linear"}},
        ],
    }
    meta = {
        "format": "netcore-model",
        "format_version": 1,
        "netcore_version": "0.1.0",
        "model": config,
        "input_shape": [4],
        "compile": {
            "loss": "mse",
            "metrics": [],
            "iterations": 7,
            "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": False},
        },
    }
    velocity = np.linspace(-1, 1, 4 * 8 + 8 + 8 * 3 + 3).astype(np.float32)
    path = tmp_path / "hand.netcore"
    write_members(
        path,
        [("netcore.json", json.dumps(meta).encode())]
        + [(f"weights/{i}.npy", npy(w)) for i, w in enumerate(weights)]
        + [("optimizer/0/velocity.npy", npy(velocity))],
    )
    m = nc.load_model(path, backend="cpu")
    for a, b in zip(m.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(optimizer_of(m).state[0]["velocity"], velocity)
    assert optimizer_of(m).iterations == 7 and m.seed == 3
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(m.predict(x), np.maximum(x @ kernel0 + 1, 0) @ weights[2], rtol=1e-6)


def test_a_file_written_by_the_first_release_loads(tmp_path):
    # tests/data/model_format_v1.netcore was written by netcore 0.1.0's saving.save_model:
    # weights arange(n) / 100 - 0.05 * i, Adam m = linspace(-1, 1), v = linspace(0, 2), 12 steps.
    path = Path(__file__).parent / "data" / "model_format_v1.netcore"
    m = nc.load_model(path, backend="cpu")
    expected = [
        np.arange(np.prod(s), dtype=np.float32).reshape(s) / 100 - np.float32(0.05 * i)
        for i, s in enumerate([(6, 4), (4,), (4, 2), (2,)])
    ]
    for a, b in zip(m.get_weights(), expected):
        np.testing.assert_array_equal(a, b)
    opt = optimizer_of(m)
    assert opt.iterations == 12 and opt.get_config()["learning_rate"] == 0.01
    np.testing.assert_array_equal(opt.state[0]["m"], np.linspace(-1, 1, 38, dtype=np.float32))
    np.testing.assert_array_equal(opt.state[0]["v"], np.linspace(0, 2, 38, dtype=np.float32))
    assert [layer.name for layer in m.layers] == ["flatten", "dense", "dropout", "dense_1"]
    assert (m.name, m.seed, m.input_shape) == ("format_v1", 7, (2, 3))
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(2, 2, 3)
    hidden = np.maximum(x.reshape(2, 6) @ expected[0] + expected[1], 0)
    logits = hidden @ expected[2] + expected[3]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(m.predict(x), probs / probs.sum(1, keepdims=True), rtol=1e-6)


def test_a_file_recompressed_with_deflate_loads(saved, tmp_path):
    m, path = saved
    write_members(path, members(path), compression=zipfile.ZIP_DEFLATED)
    back = nc.load_model(path, backend="cpu")
    np.testing.assert_array_equal(back.get_weights()[0], m.get_weights()[0])


def test_uncompiled_model_round_trips_without_optimizer(tmp_path):
    m = Sequential([Dense(2, input_shape=(3,))], backend="cpu", seed=1)
    m.save(tmp_path / "m.netcore")
    back = nc.load_model(tmp_path / "m.netcore", backend="cpu")
    assert not back.compiled
    np.testing.assert_array_equal(back.get_weights()[0], m.get_weights()[0])


# ------------------------------------------------------------------ memory bounded by the architecture
def test_a_member_the_format_does_not_define_is_never_read(saved, tmp_path):
    m, path = saved
    big = tmp_path / "big.netcore"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(big, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        # 256 MiB of zeros in ~256 KiB: read, it would cost 256 MiB
        junk = zipfile.ZipInfo("junk/x.npy")
        junk.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(junk, "w", force_zip64=True) as fh:
            zeros = bytes(2**20)
            for _ in range(256):
                fh.write(zeros)
    assert os.path.getsize(big) < 2**20
    tracemalloc.start()
    try:
        back = nc.load_model(big, backend="cpu")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(back.get_weights()[0], m.get_weights()[0])
    assert peak < 4 * 2**20


def test_an_npy_header_declaring_a_huge_shape_is_refused_before_any_data(saved):
    _, path = saved
    edited(path, weights__0_npy=npy_header_only("<f4", (10**11,)))
    tracemalloc.start()
    try:
        refused(path, r"weights/0.npy declares 128 bytes, its .npy header says 400000000128")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("units", [10**9, 2**40])
def test_an_architecture_larger_than_the_weights_in_the_file_is_refused_before_building(
    saved, units
):
    _, path = saved
    with_meta(path, lambda meta: meta["model"]["layers"][0]["config"].__setitem__("units", units))
    tracemalloc.start()
    try:
        refused(path, f"needs at least {4 * units + units * 3} parameters, the file holds 67")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_a_first_layer_input_shape_larger_than_the_file_says_is_refused_before_building(saved):
    _, path = saved
    with_meta(
        path,
        lambda meta: meta["model"]["layers"][0]["config"].__setitem__("input_shape", [6 * 2**30]),
    )
    tracemalloc.start()
    try:
        refused(path, r"the first layer's input_shape is \[6442450944\], the file's \[4\]")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_a_file_without_compile_settings_loads_uncompiled(saved):
    m, path = saved
    items = members(path)
    meta = json.loads(items["netcore.json"])
    del meta["compile"]
    items = {k: v for k, v in items.items() if not k.startswith("optimizer/")}
    items["netcore.json"] = json.dumps(meta).encode()
    write_members(path, items)
    back = nc.load_model(path, backend="cpu")
    assert not back.compiled
    np.testing.assert_array_equal(back.get_weights()[2], m.get_weights()[2])


def test_a_model_without_biases_loads(tmp_path):
    m = Sequential(
        [Dense(5, use_bias=False, input_shape=(3,)), Dense(1, use_bias=False)],
        backend="cpu",
        seed=2,
    )
    m.save(tmp_path / "m.netcore")
    back = nc.load_model(tmp_path / "m.netcore", backend="cpu")
    for a, b in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_member_longer_than_its_header_says_is_refused(saved):
    _, path = saved
    w = npy(np.ones((4, 8), np.float32))
    edited(path, weights__0_npy=w + bytes(10**6))
    refused(path, "weights/0.npy declares")


def test_a_member_shorter_than_its_header_says_is_refused(saved):
    _, path = saved
    edited(path, weights__0_npy=npy(np.ones((4, 8), np.float32))[:-4])
    refused(path, "weights/0.npy declares")


def test_a_stored_member_whose_sizes_disagree_is_refused(saved):
    _, path = saved
    path.write_bytes(set_field(path.read_bytes(), "weights/1.npy", "usize", 10**9))
    refused(path, "weights/1.npy")


# ------------------------------------------------------------------ arrays against the architecture
def test_an_extra_weight_array_is_inconsistent(saved):
    _, path = saved
    edited(path, weights__4_npy=npy(np.ones(3, np.float32)))
    refused(path, r"weight arrays the architecture does not have \(weights/4.npy\)")


def test_a_missing_weight_array_is_inconsistent(saved):
    _, path = saved
    edited(path, weights__3_npy=None)
    refused(path, "weights/3.npy is missing")


def test_complex_weights_are_refused(saved):
    _, path = saved
    edited(path, weights__1_npy=npy(np.ones(8, np.complex64)))
    refused(path, "complex")


def test_weights_of_another_dtype_are_refused(saved):
    _, path = saved
    edited(path, weights__1_npy=npy(np.ones(8, np.float64)))
    refused(path, "float64 data, the model's dtype is float32")


def test_object_arrays_are_refused_without_unpickling(saved):
    _, path = saved
    edited(path, weights__1_npy=npy_header_only("|O", (8,), payload=b"\x80\x04N." * 16))
    refused(path, "weights/1.npy")


def test_big_endian_weights_load_as_their_values(saved):
    m, path = saved
    edited(path, weights__0_npy=npy(m.get_weights()[0].astype(">f4")))
    np.testing.assert_array_equal(
        nc.load_model(path, backend="cpu").get_weights()[0], m.get_weights()[0]
    )


def test_nan_in_a_weight_is_refused(saved):
    m, path = saved
    w = m.get_weights()[2]
    w[1, 1] = np.nan
    edited(path, weights__2_npy=npy(w))
    refused(path, "NaN or inf in weights/2.npy")


def test_a_broadcastable_scalar_optimizer_slot_is_refused(saved):
    _, path = saved
    edited(path, optimizer__0__m_npy=npy(np.float32(0.5)))
    refused(path, r"optimizer/0/m.npy has shape \(\), the architecture needs \(67,\)")


def test_nan_in_an_optimizer_slot_is_refused(saved):
    m, path = saved
    v = np.array(optimizer_of(m).state[0]["m"])
    v[0] = np.nan
    edited(path, optimizer__0__m_npy=npy(v))
    refused(path, "NaN or inf in optimizer/0/m.npy")


@pytest.mark.parametrize(
    "optimizer, slot, signed_ok",
    [
        ("adam", "v", False),
        ("adam", "m", True),
        (nc.optimizers.RMSprop(momentum=0.5), "velocity", False),
        (nc.optimizers.RMSprop(momentum=0.5), "momentum", True),
        ("adagrad", "accumulator", False),
        (nc.optimizers.SGD(momentum=0.9), "velocity", True),
    ],
)
def test_negative_state_is_refused_where_the_rule_keeps_it_nonnegative(
    tmp_path, optimizer, slot, signed_ok
):
    m = trained(optimizer)
    path = tmp_path / "m.netcore"
    m.save(path)
    state = np.array(optimizer_of(m).state[0][slot])
    state[5] = -1e-3
    edited(path, **{f"optimizer__0__{slot}_npy": npy(state)})
    if signed_ok:
        assert optimizer_of(nc.load_model(path, backend="cpu")).state[0][slot][5] == np.float32(
            -1e-3
        )
    else:
        refused(path, f"optimizer/0/{slot}.npy holds negative values")


def test_optimizer_state_for_slots_the_optimizer_does_not_use_is_refused(saved):
    _, path = saved
    edited(path, optimizer__0__momentum_npy=npy(np.zeros(67, np.float32)))
    refused(path, "optimizer state the architecture does not have")


def test_a_duplicated_member_is_refused(saved):
    _, path = saved
    with zipfile.ZipFile(path, "a") as zf:
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("weights/1.npy", npy(np.zeros(8, np.float32)))
    refused(path, "appears twice")


# ------------------------------------------------------------------ netcore.json
def deep(n):
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    "text, match",
    [
        ("[]", r"not a netcore model file \(format 'list'\)"),
        (deep(100_000), "not valid JSON: RecursionError"),
        ('{"format": "netcore-model", "x": NaN}', "not valid JSON"),
        ("\xff\xfe", "not valid JSON"),
        ('{"format": "other"}', r"format 'other'"),
    ],
)
def test_foreign_or_broken_json_is_refused(saved, text, match):
    _, path = saved
    edited(path, netcore_json=text.encode("latin-1"))
    refused(path, match)


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("format_version", "1", "format_version must be a positive integer, received '1'"),
        ("format_version", True, "format_version must be a positive integer"),
        ("format_version", 0, "format_version must be a positive integer"),
        ("format_version", 2, "format version 2; this netcore reads up to 1: upgrade netcore"),
        ("model", [], "'model' must be an object"),
        ("input_shape", [4, -1], "input_shape must be a list of positive integers"),
        ("input_shape", "4", "input_shape must be a list of positive integers"),
        ("compile", [], "'compile' must be an object or null"),
    ],
)
def test_bad_top_level_fields_are_refused(saved, key, value, match):
    _, path = saved
    with_meta(path, lambda meta: meta.__setitem__(key, value))
    refused(path, match)


@pytest.mark.parametrize("value", [-5, 1.5, True, "3", None, 2**63, 10**30])
def test_a_step_count_that_is_not_a_nonnegative_integer_is_refused(saved, value):
    _, path = saved
    with_meta(path, lambda meta: meta["compile"].__setitem__("iterations", value))
    refused(path, "compile.iterations must be an integer step count")


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_nonfinite_json_numbers_are_refused(saved, literal):
    _, path = saved
    text = members(path)["netcore.json"].decode()
    text = text.replace('"iterations": 8', f'"iterations": {literal}')
    assert literal in text
    edited(path, netcore_json=text.encode())
    refused(path, "not valid JSON")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda c: c.__setitem__("loss", 3), "compile.loss must be a loss name"),
        (lambda c: c.__setitem__("loss", "nope"), "compile settings: ValueError"),
        (lambda c: c.__setitem__("metrics", "accuracy"), "compile.metrics must be a list"),
        (lambda c: c.__setitem__("optimizer", {"learning_rate": 1}), "compile.optimizer must be"),
        (lambda c: c["optimizer"].__setitem__("name", "lion"), "compile settings: .*lion"),
        (lambda c: c["optimizer"].__setitem__("beta_1", -3), "compile settings: ValueError"),
        (lambda c: c["optimizer"].__setitem__("bogus", 1), "compile settings: TypeError"),
    ],
)
def test_bad_compile_settings_are_inconsistent(saved, change, match):
    _, path = saved
    with_meta(path, lambda meta: change(meta["compile"]))
    refused(path, match)


@pytest.mark.parametrize(
    "change",
    [
        lambda cfg: cfg["layers"][0]["config"].__setitem__("units", -1),
        lambda cfg: cfg["layers"][0].__setitem__("class", "Conv2D"),
        lambda cfg: cfg["layers"][0]["config"].__setitem__("units", 9),
        lambda cfg: cfg.__setitem__("layers", {}),
        lambda cfg: cfg.__setitem__("dtype", "int8"),
        lambda cfg: cfg.__setitem__("seed", -2),
        lambda cfg: cfg["layers"].pop(),
    ],
)
def test_an_architecture_that_does_not_match_its_arrays_is_inconsistent(saved, change):
    _, path = saved
    with_meta(path, lambda meta: change(meta["model"]))
    refused(path, "inconsistent netcore model")


def test_an_input_shape_that_disagrees_with_the_first_layer_is_inconsistent(saved):
    _, path = saved
    with_meta(path, lambda meta: meta.__setitem__("input_shape", [5]))
    refused(path, "inconsistent netcore model")


# ------------------------------------------------------------------ the zip container
def test_corrupt_deflate_data_is_refused(saved):
    _, path = saved
    write_members(path, members(path), compression=zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    start, end = data_span(bytes(raw), "weights/0.npy")
    raw[start:end] = bytes(b ^ 0x5A for b in raw[start:end])
    path.write_bytes(bytes(raw))
    refused(path, "truncated or corrupt")


def test_a_flipped_data_byte_fails_the_crc(saved):
    _, path = saved
    raw = bytearray(path.read_bytes())
    start, end = data_span(bytes(raw), "weights/2.npy")
    raw[end - 3] ^= 0x01
    path.write_bytes(bytes(raw))
    refused(path, "truncated or corrupt.*CRC")


def test_an_encrypted_member_is_refused(saved):
    _, path = saved
    path.write_bytes(set_field(path.read_bytes(), "weights/0.npy", "flags", 0x1))
    refused(path, "weights/0.npy is encrypted")


def test_an_unknown_compression_method_is_refused(saved):
    _, path = saved
    path.write_bytes(set_field(path.read_bytes(), "weights/0.npy", "method", 99))
    refused(path, "compression method 99")


def test_truncated_file_is_refused(saved):
    _, path = saved
    raw = path.read_bytes()
    for cut in (0, 10, len(raw) // 2, len(raw) - 1):
        path.write_bytes(raw[:cut])
        refused(path, "truncated or corrupt|not a netcore model file")


# ------------------------------------------------------------------ the path itself
def test_a_directory_is_reported_as_a_directory(tmp_path):
    with pytest.raises(nc.ModelFileError, match="is a directory"):
        nc.load_model(tmp_path, backend="cpu")


def test_a_missing_file_is_reported_as_missing(tmp_path):
    with pytest.raises(nc.ModelFileError, match="does not exist"):
        nc.load_model(tmp_path / "nope.netcore", backend="cpu")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome = []
    t = threading.Thread(target=lambda: outcome.append(_load_error(fifo)), daemon=True)
    t.start()
    t.join(10)
    assert outcome and "not a regular file" in outcome[0]


def _load_error(path):
    try:
        nc.load_model(path, backend="cpu")
    except nc.ModelFileError as exc:
        return str(exc)
    return "loaded"


def test_an_unknown_backend_is_a_backend_error_not_a_file_error(saved):
    _, path = saved
    with pytest.raises(
        ValueError, match=r"backend must be one of \['cpu', 'cuda', 'auto'\], received 'gpu'"
    ) as info:
        nc.load_model(path, backend="gpu")
    assert not isinstance(info.value, nc.ModelFileError)
