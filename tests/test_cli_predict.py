"""`netcore predict IMAGE... --model FILE`, `netcore export`, and netcore.preprocessing.image:
image files of any size and colour become the model's input; the printed class and probability
are those of a model whose answer is known in closed form."""

from __future__ import annotations

import json

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from netcore import Sequential, cli  # noqa: E402
from netcore.layers import Dense, Flatten  # noqa: E402
from netcore.preprocessing import image  # noqa: E402

SCALE = 0.01  # logit per bright pixel: a half-white image gives logit 392 * 0.01


def halves_model() -> Sequential:
    """Class 0 ("top") sums the top half's pixels, class 1 ("bottom") the bottom half's,
    class 2 ("none") is always 0: ``softmax(SCALE * [sum top, sum bottom, 0])``."""
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(3, activation="softmax")], seed=0)
    kernel = np.zeros((28, 28, 3), dtype=np.float32)
    kernel[:14, :, 0] = SCALE
    kernel[14:, :, 1] = SCALE
    model.set_weights([kernel.reshape(784, 3), np.zeros(3, dtype=np.float32)])
    return model


def closed_form(top: float, bottom: float) -> np.ndarray:
    z = np.array([SCALE * top, SCALE * bottom, 0.0])
    return np.exp(z) / np.exp(z).sum()


@pytest.fixture
def files(tmp_path):
    model_file = tmp_path / "halves.netcore"
    halves_model().save(model_file)
    grey = np.zeros((28, 28), dtype=np.uint8)
    grey[:14] = 255  # top half white: 392 pixels of 1.0
    Image.fromarray(grey).save(tmp_path / "top.png")
    colour = np.zeros((100, 60, 3), dtype=np.uint8)
    colour[50:] = (255, 255, 255)  # bottom half white, 100x60, RGB
    Image.fromarray(colour).save(tmp_path / "bottom.jpg", quality=95)
    rgba = np.zeros((56, 56, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:28, :, :3] = 255
    Image.fromarray(rgba).save(tmp_path / "top_rgba.png")
    (tmp_path / "notes.txt").write_text("not an image\n")
    return tmp_path, model_file


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_prints_the_class_and_probability_of_each_image(files, capsys):
    folder, model_file = files
    images = [str(folder / n) for n in ("top.png", "bottom.jpg", "top_rgba.png")]
    code, out, err = run(
        capsys, "predict", *images, "--model", str(model_file), "--classes", "top,bottom,none"
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == f"{images[0]}: top (probability {closed_form(392, 0)[0]:.4f})"
    assert lines[1].startswith(f"{images[1]}: bottom (probability ")
    assert float(lines[1].split()[-1].rstrip(")")) > 0.9  # JPEG: near, not exactly, white
    assert lines[2] == f"{images[2]}: top (probability {closed_form(392, 0)[0]:.4f})"


def test_class_names_come_from_the_training_record_beside_the_model(tmp_path, capsys):
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(10, activation="softmax")], seed=0)
    kernel = np.zeros((784, 10), dtype=np.float32)
    kernel[:, 9] = SCALE  # class 9 ("Ankle boot") for any bright image
    model.set_weights([kernel, np.zeros(10, dtype=np.float32)])
    model.save(tmp_path / "model.netcore")
    (tmp_path / "history.json").write_text(json.dumps({"data": {"dataset": "fashion-mnist"}}))
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(tmp_path / "white.png")
    code, out, err = run(
        capsys, "predict", str(tmp_path / "white.png"), "--model", str(tmp_path / "model.netcore")
    )
    assert code == 0, err
    assert ": Ankle boot (probability " in out
    (tmp_path / "history.json").unlink()  # without the record: the class number
    code, out, _ = run(
        capsys, "predict", str(tmp_path / "white.png"), "--model", str(tmp_path / "model.netcore")
    )
    assert ": 9 (probability " in out


def test_sign_language_letters_follow_the_models_numbering():
    from netcore.cli.predict import dataset_class_names

    kaggle, course = dataset_class_names("sign-mnist", 25), dataset_class_names("sign-mnist", 24)
    assert (kaggle[9], kaggle[24], len(kaggle)) == ("J", "Y", 25)  # J keeps its unused slot
    assert (course[8], course[9], course[23], len(course)) == ("I", "K", "Y", 24)
    assert dataset_class_names("mnist", 10) == [str(d) for d in range(10)]


def test_a_file_that_is_not_an_image_is_a_clear_error(files, capsys):
    folder, model_file = files
    code, out, err = run(
        capsys,
        "predict",
        str(folder / "top.png"),
        str(folder / "notes.txt"),
        "--model",
        str(model_file),
    )
    assert code == 1 and out == ""
    assert "notes.txt' is not an image file" in err and "unexpected" not in err


def test_a_missing_image_and_a_wrong_number_of_class_names_are_errors(files, capsys):
    folder, model_file = files
    code, _, err = run(capsys, "predict", str(folder / "gone.png"), "--model", str(model_file))
    assert code == 1 and "no image file at" in err and "gone.png" in err
    code, _, err = run(
        capsys, "predict", str(folder / "top.png"), "--model", str(model_file), "--classes", "a,b"
    )
    assert code == 1 and "--classes gives 2 names but the model has 3 classes" in err


def test_export_writes_an_onnx_file_that_computes_predict(files, capsys):
    ort = pytest.importorskip("onnxruntime")
    folder, model_file = files
    out_file = folder / "halves.onnx"
    code, out, err = run(capsys, "export", "--model", str(model_file), "--out", str(out_file))
    assert code == 0, err
    assert f"Wrote {out_file}: ONNX opset 17" in out
    x = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    session = ort.InferenceSession(str(out_file), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    top, bottom = x[:, :14].sum(axis=(1, 2)), x[:, 14:].sum(axis=(1, 2))
    expected = np.stack([closed_form(t, b) for t, b in zip(top, bottom)])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_export_of_a_missing_model_file_is_an_error(tmp_path, capsys):
    code, _, err = run(capsys, "export", "--model", str(tmp_path / "no.netcore"), "--out", "x")
    assert code == 1 and "does not exist" in err


# --------------------------------------------------------------------------- image module
def test_load_img_converts_colour_to_luma_and_resizes_to_height_width(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (10, 20, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    grey = image.img_to_array(image.load_img(tmp_path / "c.png", color_mode="grayscale"))
    luma = rgb @ np.array([0.299, 0.587, 0.114])  # ITU-R 601-2
    assert grey.shape == (10, 20, 1) and grey.dtype == np.float32
    assert np.abs(grey[..., 0] - luma).max() <= 1.0  # Pillow rounds in integers
    small = image.img_to_array(image.load_img(tmp_path / "c.png", target_size=(5, 8)))
    assert small.shape == (5, 8, 3)  # (height, width), as Keras


def test_nearest_resize_of_a_doubled_image_gives_the_original(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (6, 4, 3), dtype=np.uint8)
    Image.fromarray(rgb.repeat(2, axis=0).repeat(2, axis=1)).save(tmp_path / "big.png")
    back = image.img_to_array(image.load_img(tmp_path / "big.png", target_size=(6, 4)))
    np.testing.assert_array_equal(back, rgb)


def test_array_to_img_round_trips_and_scales_to_0_255(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, (5, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(image.img_to_array(image.array_to_img(rgb, scale=False)), rgb)
    grey = np.linspace(-1.0, 1.0, 12).reshape(3, 4, 1)
    scaled = image.img_to_array(image.array_to_img(grey))
    assert scaled.shape == (3, 4, 1) and scaled.min() == 0 and scaled.max() == 255


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: image.load_img(p, color_mode="gray"), "color_mode must be one of"),
        (lambda p: image.load_img(p, target_size=(28,)), "target_size must be"),
        (lambda p: image.load_img(p, target_size=(0, 28)), "target_size must be"),
        (lambda p: image.load_img(p, interpolation="cubic"), "interpolation must be"),
        (lambda p: image.array_to_img(np.zeros((4, 4))), "shape \\(height, width, channels\\)"),
        (lambda p: image.array_to_img(np.zeros((4, 4, 2))), "1, 3 or 4 channels"),
        (lambda p: image.array_to_img(np.full((2, 2, 1), 300.0), scale=False), "\\[0, 255\\]"),
    ],
)
def test_bad_arguments_are_refused_by_name(tmp_path, call, message):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "i.png")
    with pytest.raises(ValueError, match=message):
        call(tmp_path / "i.png")


@pytest.mark.parametrize(
    "shape, mode",
    [((28, 28), "L"), ((28, 28, 1), "L"), ((784,), "L"), ((12, 10, 3), "RGB")],
)
def test_each_image_input_shape_gets_the_file_converted_and_resized(tmp_path, shape, mode):
    from netcore.cli.predict import image_input

    rgb = np.random.default_rng(4).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    h, w = (28, 28) if len(shape) < 3 else shape[:2]
    resized = Image.fromarray(rgb).convert(mode).resize((w, h), Image.Resampling.NEAREST)
    expected = np.asarray(resized, dtype=np.float32).reshape(shape) / 255
    np.testing.assert_array_equal(image_input(str(tmp_path / "c.png"), shape), expected)


def test_a_model_whose_input_is_not_an_image_is_refused(tmp_path):
    from netcore.cli import CLIError
    from netcore.cli.predict import image_input

    with pytest.raises(CLIError, match=r"input shape \(10,\) is not an image"):
        image_input(str(tmp_path / "any.png"), (10,))
