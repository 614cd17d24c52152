"""One loader signature for every data set, and the one fallback policy (``datasets.load``)."""

from __future__ import annotations

import gzip
import hashlib
import inspect
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from netcore import datasets
from netcore.datasets import DatasetNotFoundError, _locate, fashion_mnist, mnist, sign_mnist
from netcore.utils import to_categorical

MODULES = [mnist, fashion_mnist, sign_mnist]
STEMS = {
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
}
SIGN_HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))


def idx_gz(array: np.ndarray) -> bytes:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_idx_split(
    folder: Path, split: str, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in zip(STEMS[split], (x, y)):
        (folder / f"{stem}.gz").write_bytes(idx_gz(arr))
    return x, y


def write_sign_csv(path: Path, labels: list[int]) -> None:
    rows = [f"{k}," + ",".join(["7"] * 784) for k in labels]
    path.write_text("\n".join([SIGN_HEADER, *rows]) + "\n")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No default folders with data and no network."""
    monkeypatch.delenv("NETCORE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_locate, "SYSTEM_DIRS", (tmp_path / "system",))

    def offline(url, out, *, desc):
        raise OSError("offline test")

    monkeypatch.setattr(_locate, "fetch", offline)
    return tmp_path


# -- one signature ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "func", ["load_data", "load_train", "load_test", "find_files", "search_dirs"]
)
def test_every_loader_module_has_the_same_signature(func):
    # A data set's own options (Sign-MNIST's label_format) are keyword-only, outside the
    # shared signature.
    sigs = {mod.__name__: inspect.signature(getattr(mod, func)) for mod in MODULES}
    params = {
        name: [
            (p.name, p.default)
            for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.KEYWORD_ONLY)
        ]
        for name, sig in sigs.items()
    }
    assert len({tuple(v) for v in params.values()}) == 1, params


def test_sign_mnist_find_files_takes_a_split_like_the_idx_loaders(tmp_path):
    write_sign_csv(tmp_path / "sign_mnist_test.csv", [1])
    assert sign_mnist.find_files("test", tmp_path) == (tmp_path / "sign_mnist_test.csv",)
    with pytest.raises(DatasetNotFoundError, match="sign_mnist_train.csv"):
        sign_mnist.find_files("train", tmp_path)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', received 3"):
        sign_mnist.find_files(3)  # type: ignore[arg-type]


def test_get_maps_names_to_loader_modules():
    assert datasets.get("mnist") is mnist
    assert datasets.get("fashion_mnist") is datasets.get("Fashion-MNIST") is fashion_mnist
    assert datasets.get("sign-mnist") is sign_mnist
    assert datasets.NAMES == ("mnist", "fashion-mnist", "sign-mnist")
    with pytest.raises(
        ValueError, match="name must be one of mnist, fashion-mnist, sign-mnist, received 'cifar10'"
    ):
        datasets.get("cifar10")


# -- the fallback policy ----------------------------------------------------------------------


def test_load_uses_train_and_test_files_when_both_are_there(tmp_path):
    x, y = write_idx_split(tmp_path / "d", "train", 12, seed=1)
    xt, yt = write_idx_split(tmp_path / "d", "test", 5, seed=2)
    data = datasets.load("fashion-mnist", tmp_path / "d")
    np.testing.assert_array_equal(data.x_train, x)
    np.testing.assert_array_equal(data.y_test, yt)
    assert data.notes == [] and not data.from_test_set and data.source == "files"
    assert (data.num_classes, data.title) == (10, "Fashion-MNIST")


def test_load_without_test_files_says_there_is_no_test_accuracy(tmp_path):
    write_idx_split(tmp_path / "d", "train", 6)
    data = datasets.load("mnist", tmp_path / "d")
    assert data.x_test is None
    assert data.notes == ["no MNIST test files found: no test accuracy will be reported"]


def test_load_test_files_alone_trains_on_the_test_set(tmp_path):
    x, _ = write_idx_split(tmp_path / "d", "test", 9)
    data = datasets.load("mnist", tmp_path / "d")
    np.testing.assert_array_equal(data.x_train, x)
    assert data.from_test_set and data.x_test is None
    assert data.notes == [
        f"only the MNIST TEST set (9 images) was found in {tmp_path / 'd'}: "
        "training and validating on a split of it"
    ]


def test_load_downloads_before_falling_back(tmp_path, monkeypatch):
    served = {}
    arrays = {}
    for split, n in (("train", 7), ("test", 3)):
        x, y = write_idx_split(tmp_path / "src", split, n)
        arrays[split] = x
        for stem in STEMS[split]:
            served[f"{stem}.gz"] = (tmp_path / "src" / f"{stem}.gz").read_bytes()
    for name, blob in served.items():
        monkeypatch.setitem(
            fashion_mnist._DATASET.archive_sha256, name, hashlib.sha256(blob).hexdigest()
        )

    def fetch(url, out, *, desc):
        out.write(served[url.rsplit("/", 1)[-1]])

    monkeypatch.setattr(_locate, "fetch", fetch)
    data = datasets.load("fashion-mnist")
    assert data.source == "download" and data.notes == []
    np.testing.assert_array_equal(data.x_train, arrays["train"])
    assert data.x_test is not None and len(data.x_test) == 3


def test_load_mnist_with_nothing_anywhere_uses_the_shipped_test_set_and_says_so():
    data = datasets.load("mnist")
    assert data.source == "bundled" and data.from_test_set
    np.testing.assert_array_equal(data.x_train, mnist.load_bundled_test()[0])
    (note,) = data.notes
    assert note.startswith("no MNIST files found (download failed: ")
    assert "offline test" in note and "shipped with netcore (10,000 images" in note
    assert "\n" not in note


def test_load_with_download_off_still_finds_the_shipped_mnist():
    assert datasets.load("mnist", download=False).notes == [
        "no MNIST files found: using the MNIST test set shipped with netcore (10,000 images, "
        "no download)"
    ]


def test_load_never_uses_the_shipped_set_for_an_explicit_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DatasetNotFoundError,
        match=r"MNIST not found in .*empty: need "
        r"train-images-idx3-ubyte\.gz",
    ):
        datasets.load("mnist", tmp_path / "empty")


def test_load_fashion_mnist_with_nothing_anywhere_says_what_to_pass():
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.load("fashion-mnist")
    lines = str(info.value).splitlines()
    assert lines[0].startswith(
        "Fashion-MNIST not found in $NETCORE_DATA, ~/.cache/netcore or "
        "/usr/share/datasets; download failed: "
    )
    assert "--data FOLDER" in lines[1] and "path=FOLDER" in lines[1]


def test_load_checks_the_folder_first(tmp_path):
    with pytest.raises(
        DatasetNotFoundError, match=f"data folder {tmp_path / 'nope'} does not exist"
    ):
        datasets.load("mnist", tmp_path / "nope")
    (tmp_path / "f").write_text("")
    with pytest.raises(DatasetNotFoundError, match="is a file, not a folder"):
        datasets.load("mnist", tmp_path / "f")


def test_load_sign_mnist_test_only_and_missing(tmp_path):
    write_sign_csv(tmp_path / "sign_mnist_test.csv", [0, 24, 3])
    data = datasets.load("sign-mnist", tmp_path)
    assert data.num_classes == 25 and data.from_test_set
    assert data.y_train.tolist() == [0, 24, 3]
    assert data.notes[0].startswith("Kaggle's label format: 25 output units for the letters A-Y")
    assert "only the Sign Language MNIST TEST set (3 images)" in data.notes[1]
    (tmp_path / "none").mkdir()
    with pytest.raises(DatasetNotFoundError, match="(?s)sign_mnist_train.csv.*Kaggle"):
        datasets.load("sign-mnist", tmp_path / "none")


# -- Sign-Language-MNIST labels meet to_categorical --------------------------------------------


def test_to_categorical_with_24_classes_on_sign_language_labels_points_to_num_classes():
    y = np.array([0, 8, 10, 24])  # J (9) never occurs
    with pytest.raises(ValueError) as info:
        to_categorical(y, 24)
    msg = str(info.value)
    assert msg.startswith("labels must be in [0, 24), received 24")
    assert "sign_mnist.num_classes (25)" in msg
    assert to_categorical(y, sign_mnist.num_classes).shape == (4, 25)


def test_to_categorical_too_few_classes_says_how_many_are_needed():
    with pytest.raises(ValueError) as info:
        to_categorical([0, 9, 3], 9)
    assert str(info.value) == (
        "labels must be in [0, 9), received 9; num_classes must be at least max(y) + 1 = 10"
    )


def test_loaders_are_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mnist.load_bundled()
