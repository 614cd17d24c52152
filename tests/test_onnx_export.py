"""model.export(path, format="onnx"): onnxruntime computes what predict computes, the graph
passes onnx.checker, the batch axis is dynamic, and what cannot be exported is refused by name."""

import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from netcore import Sequential  # noqa: E402
from netcore.course import build_mlp  # noqa: E402
from netcore.export import OPSET  # noqa: E402
from netcore.layers import (  # noqa: E402
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Layer,
    MaxPooling2D,
    Reshape,
)

RNG = np.random.default_rng(11)
IMAGES = RNG.random((9, 28, 28), dtype=np.float32)


def run_onnx(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def assert_runtime_matches_predict(model, x, path, atol=1e-5):
    model.export(path, format="onnx")
    expected = model.predict(x)
    for rows in (1, len(x)):  # the batch axis is dynamic: one sample and a whole batch
        got = run_onnx(path, x[:rows])
        assert got.dtype == expected.dtype and got.shape == expected[:rows].shape
        np.testing.assert_allclose(got, expected[:rows], rtol=0, atol=atol)
    return float(np.abs(run_onnx(path, x) - expected).max())


def test_the_course_mlp_after_training_runs_in_onnxruntime_as_predict(tmp_path):
    model = build_mlp(10, hidden=(64, 32), dropout=0.2, seed=2)
    model.compile("adam", "categorical_crossentropy", ["accuracy"])
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, len(IMAGES))]
    model.fit(IMAGES, y, epochs=2, batch_size=4, verbose=0)  # weights away from their init
    assert_runtime_matches_predict(model, IMAGES, tmp_path / "mlp.onnx")
    ops = [n.op_type for n in onnx.load(tmp_path / "mlp.onnx").graph.node]
    assert "Dropout" not in ops and ops.count("Gemm") == 3  # dropout left out at inference


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "softmax"])
def test_each_activation_runs_in_onnxruntime_as_predict(tmp_path, activation):
    x = RNG.normal(0, 3, (6, 5)).astype(np.float32)  # both signs, some saturation
    model = Sequential(
        [
            Dense(7, activation=activation, input_shape=(5,)),
            Dense(4),
            Activation(activation),
        ],
        seed=4,
    )
    assert_runtime_matches_predict(model, x, tmp_path / f"{activation}.onnx")


def test_the_image_layers_run_in_onnxruntime_as_predict_after_training(tmp_path):
    # odd sizes, both paddings, strides, a non-square kernel, batch norm on the last axis and
    # on the height axis, its moving statistics moved away from (0, 1) by training
    model = Sequential(
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
            Dropout(0.3),
            Dense(3, activation="softmax"),
        ],
        seed=5,
    )
    model.compile("adam", "categorical_crossentropy")
    x = RNG.normal(1.0, 2.0, (12, 99)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[RNG.integers(0, 3, 12)]
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    moving = model.layers[2].state["moving_mean"]
    assert np.abs(np.asarray(moving)).max() > 0.01  # the export must use these, not zeros
    assert_runtime_matches_predict(model, x, tmp_path / "cnn.onnx")


def test_the_course_cnn_runs_in_onnxruntime_as_predict(tmp_path):
    course_cnn = pytest.importorskip("netcore.course.cnn", reason="the course CNN has not landed")
    model = course_cnn.build_cnn(24, seed=0)
    model.compile("rmsprop", "categorical_crossentropy")
    x = RNG.random((8, 28, 28, 1), dtype=np.float32)
    model.fit(x, np.eye(24, dtype=np.float32)[:8], epochs=1, batch_size=8, verbose=0)
    diff = assert_runtime_matches_predict(model, x, tmp_path / "course_cnn.onnx")
    print(f"course CNN: max |onnxruntime - predict| = {diff:.2e}")


def test_a_float64_model_exports_a_double_graph(tmp_path):
    model = Sequential([Dense(3, activation="tanh", input_shape=(4,))], seed=0, dtype="float64")
    x = RNG.random((3, 4))
    assert_runtime_matches_predict(model, x, tmp_path / "f64.onnx", atol=1e-12)


def test_the_file_passes_the_checker_with_the_documented_opset_names_and_batch_axis(tmp_path):
    model = build_mlp(3, hidden=(8,), seed=0)
    model.export(tmp_path / "m.onnx")  # "onnx" is the default format
    proto = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    (inp,), (out,) = proto.graph.input, proto.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert (inp.name, out.name, dims) == ("input", "output", ["batch", 28, 28])


def test_the_augmentation_layers_are_left_out_of_the_inference_graph(tmp_path):
    from netcore.layers import RandomFlip, RandomRotation, RandomTranslation, RandomZoom

    model = Sequential(
        [
            RandomFlip(input_shape=(8, 8, 1)),
            RandomRotation(0.1),
            RandomZoom(0.1),
            RandomTranslation(0.1, 0.1),
            Conv2D(3, 3, activation="relu"),
            Flatten(),
            Dense(2, activation="softmax"),
        ],
        seed=2,
    )
    model.compile("adam", "categorical_crossentropy")
    x = RNG.random((6, 8, 8, 1)).astype(np.float32)
    model.fit(x, np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 0, 1]], epochs=1, verbose=0)
    assert_runtime_matches_predict(model, x, tmp_path / "aug.onnx")


def test_a_layer_without_an_onnx_form_is_refused_by_name_and_nothing_is_written(tmp_path):
    class Square(Layer):
        def forward(self, x, training=False):
            return x * x

    model = Sequential([Flatten(input_shape=(2, 2)), Square(name="square"), Dense(2)], seed=0)
    with pytest.raises(ValueError, match=r"layer 'square' \(Square\) cannot be exported"):
        model.export(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_an_unknown_format_is_refused_by_name(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    with pytest.raises(ValueError, match=r"format must be one of \['onnx'\].*'tflite'"):
        model.export(tmp_path / "m.tflite", format="tflite")


def test_an_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="export\\(\\) needs a built model"):
        Sequential([Dense(2)]).export(tmp_path / "m.onnx")


def test_a_missing_folder_is_an_error_naming_the_path(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,)), Dropout(0.5)], seed=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.export(tmp_path / "nowhere" / "m.onnx")


def test_without_the_onnx_package_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    with pytest.raises(ImportError, match=r"netcore\[onnx\]"):
        model.export(tmp_path / "m.onnx")


def test_the_parity_script_reports_every_network_within_the_tolerance(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import onnx_parity

    record = onnx_parity.main(["--smoke", "--out", str(tmp_path / "parity.json")])
    names = set(record["networks"])
    assert {"course_mlp", "image_layers", "dense_relu", "dense_softmax"} <= names
    assert all(row["max_abs"] <= 1e-5 for row in record["networks"].values())
    assert record["provenance"]["commit"] and record["provenance"]["onnxruntime"]
