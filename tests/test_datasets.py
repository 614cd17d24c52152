"""Tests for netcore.datasets: IDX reading, file search, verified download, Sign-MNIST CSV."""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from netcore.datasets import (
    DataFileError,
    DatasetNotFoundError,
    _locate,
    fashion_mnist,
    mnist,
    read_idx,
    sign_mnist,
)
from netcore.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC
from netcore.errors import NetcoreError

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

TEST_STEMS = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


# -- helpers -------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Serialise a uint8 array as IDX (magic 0x0000080<ndim>)."""
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    return (
        struct.pack(">I", magic)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    )


def make_split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n, dtype=np.uint8),
    )


def write_split(
    folder: Path, stems: tuple[str, str], x: np.ndarray, y: np.ndarray, gz: bool = True
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for stem, arr in zip(stems, (x, y)):
        data = idx_bytes(arr)
        path = folder / (stem + ".gz" if gz else stem)
        path.write_bytes(gzip.compress(data) if gz else data)
        out.append(path)
    return out[0], out[1]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No NETCORE_DATA, a fresh HOME (so a fresh cache), no system folders, and a fetch that
    fails like an offline machine unless a test installs another."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("NETCORE_DATA", raising=False)
    monkeypatch.setattr(_locate, "SYSTEM_DIRS", (tmp_path / "system",))

    def offline(url, out, *, desc):
        raise OSError(f"offline test: no network for {url}")

    monkeypatch.setattr(_locate, "fetch", offline)
    return tmp_path


# -- IDX reading -----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_load_synthetic_split(isolated, gz):
    x, y = make_split(7)
    write_split(isolated / "d", TEST_STEMS, x, y, gz=gz)
    x2, y2 = mnist.load_test(path=isolated / "d")
    assert x2.dtype == np.uint8 and y2.dtype == np.uint8
    assert x2.shape == (7, 28, 28) and y2.shape == (7,)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert x2.flags.writeable  # like Keras, callers may normalise in place


def test_load_data_returns_keras_tuples(isolated):
    xtr, ytr = make_split(5, seed=1)
    xte, yte = make_split(3, seed=2)
    write_split(isolated / "d", TRAIN_STEMS, xtr, ytr)
    write_split(isolated / "d", TEST_STEMS, xte, yte, gz=False)  # mixed storage is fine
    (a, b), (c, d) = mnist.load_data(path=isolated / "d")
    np.testing.assert_array_equal(a, xtr)
    np.testing.assert_array_equal(b, ytr)
    np.testing.assert_array_equal(c, xte)
    np.testing.assert_array_equal(d, yte)
    np.testing.assert_array_equal(mnist.load_train(path=isolated / "d")[0], xtr)


def test_read_idx_other_dtypes(tmp_path):
    arr = np.arange(-6, 6, dtype=">i2").reshape(3, 4)
    path = tmp_path / "a.idx"
    path.write_bytes(bytes([0, 0, 0x0B, 2]) + struct.pack(">2I", 3, 4) + arr.tobytes())
    out = read_idx(path)
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("cut", [3, 10, 100, 1])
def test_truncated_file_names_the_file(tmp_path, gz, cut):
    x, _ = make_split(4)
    data = idx_bytes(x)
    data = data[:cut] if cut < 16 else data[:-cut]
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_idx(path, IMAGES_MAGIC)


def test_truncated_gzip_stream(tmp_path):
    x, _ = make_split(20)
    blob = gzip.compress(idx_bytes(x))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataFileError, match="corrupt or truncated gzip"):
        read_idx(path, IMAGES_MAGIC)


def test_corrupt_gzip_crc(tmp_path):
    x, _ = make_split(3)
    blob = bytearray(gzip.compress(idx_bytes(x)))
    blob[-6] ^= 0xFF  # flip a CRC byte
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_idx(path, IMAGES_MAGIC)


def test_trailing_bytes_rejected(tmp_path):
    x, _ = make_split(2)
    path = tmp_path / "imgs"
    path.write_bytes(idx_bytes(x) + b"\0")
    with pytest.raises(DataFileError, match="trailing bytes"):
        read_idx(path, IMAGES_MAGIC)


def test_huge_header_refused_before_allocating(tmp_path):
    path = tmp_path / "imgs"
    path.write_bytes(struct.pack(">4I", IMAGES_MAGIC, 2**31, 28, 28) + b"\0" * 100)
    with pytest.raises(DataFileError, match="truncated or corrupt"):
        read_idx(path, IMAGES_MAGIC)


def test_header_with_a_zero_and_huge_dimensions_is_a_clear_error(tmp_path):
    path = tmp_path / "imgs"
    path.write_bytes(struct.pack(">4I", IMAGES_MAGIC, 0, 2**32 - 1, 2**32 - 1))
    with pytest.raises(
        DataFileError,
        match=re.escape(str(path)) + r": corrupt header: "
        r"dimensions \(0, 4294967295, 4294967295\)",
    ):
        read_idx(path, IMAGES_MAGIC)


def test_empty_array_with_a_large_dimension_still_reads(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(struct.pack(">3I", 0x0802, 0, 2**32 - 1))
    assert read_idx(path).shape == (0, 2**32 - 1)


@pytest.mark.parametrize("dtype, magic", [(np.uint8, 0x0803), (np.dtype(">f8"), 0x0E03)])
def test_gzip_read_goes_straight_into_the_final_array(tmp_path, dtype, magic):
    import tracemalloc

    shape = (4000, 28, 28) if dtype == np.uint8 else (500, 28, 28)  # 3.1 MB each
    data = np.arange(np.prod(shape)).astype(dtype).reshape(shape)
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(struct.pack(">4I", magic, *shape) + data.tobytes(), 1))
    tracemalloc.start()
    try:
        out = read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, data)
    assert out.dtype.isnative
    assert peak < 1.5 * data.nbytes, f"peak {peak} bytes for {data.nbytes} bytes of data"


def test_wrong_magic(isolated):
    x, y = make_split(3)
    folder = isolated / "d"
    write_split(folder, TEST_STEMS, x, y)
    # labels written where images belong: the magic number gives it away
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y)))
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte\.gz.*0x00000801.*0x00000803"):
        mnist.load_test(path=folder)
    (folder / "junk").write_bytes(b"PK\3\4 not idx at all")
    with pytest.raises(DataFileError, match="not an IDX file"):
        read_idx(folder / "junk", LABELS_MAGIC)


def test_wrong_image_size(isolated):
    folder = isolated / "d"
    write_split(folder, TEST_STEMS, *make_split(2))
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros((2, 32, 32), np.uint8)))
    )
    with pytest.raises(DataFileError, match="32x32, expected 28x28"):
        mnist.load_test(path=folder)


def test_count_mismatch(isolated):
    x, _ = make_split(5)
    _, y = make_split(4)
    write_split(isolated / "d", TEST_STEMS, x, y)
    with pytest.raises(DataFileError, match="5 images but .* 4 labels"):
        mnist.load_test(path=isolated / "d")


def test_label_out_of_range(isolated):
    x, y = make_split(3)
    y[1] = 10
    write_split(isolated / "d", TEST_STEMS, x, y)
    with pytest.raises(DataFileError, match="label 10"):
        mnist.load_test(path=isolated / "d")


def test_errors_are_netcore_and_builtin_errors():
    assert issubclass(DataFileError, ValueError) and issubclass(DataFileError, NetcoreError)
    assert issubclass(DatasetNotFoundError, FileNotFoundError)


# -- search order -----------------------------------------------------------------------------


def test_netcore_data_subfolder_and_flat(isolated, monkeypatch):
    root = isolated / "data"
    x, y = make_split(3, seed=5)
    write_split(root / "mnist", TEST_STEMS, x, y)
    monkeypatch.setenv("NETCORE_DATA", str(root))
    np.testing.assert_array_equal(mnist.load_test()[0], x)

    flat = isolated / "flat"
    x2, y2 = make_split(2, seed=6)
    write_split(flat, TEST_STEMS, x2, y2, gz=False)
    monkeypatch.setenv("NETCORE_DATA", str(flat))
    np.testing.assert_array_equal(mnist.load_test()[0], x2)


def test_search_order_env_then_cache_then_system(isolated, monkeypatch):
    env_root = isolated / "env"
    cache = isolated / "home" / ".cache" / "netcore" / "fashion-mnist"
    system = isolated / "system" / "fashion-mnist"
    for seed, folder in enumerate((system, cache, env_root / "fashion-mnist")):
        write_split(folder, TEST_STEMS, *make_split(seed + 1, seed=seed))

    monkeypatch.setenv("NETCORE_DATA", str(env_root))
    assert len(fashion_mnist.load_test()[0]) == 3  # NETCORE_DATA wins
    monkeypatch.delenv("NETCORE_DATA")
    assert len(fashion_mnist.load_test()[0]) == 2  # then the cache
    assert fashion_mnist.find_files("test")[0].parent == cache
    for f in cache.iterdir():
        f.unlink()
    assert len(fashion_mnist.load_test()[0]) == 1  # then the system folder
    assert fashion_mnist.search_dirs() == [cache, system]


def test_xdg_cache_home_respected(isolated, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "xdg"))
    write_split(isolated / "xdg" / "netcore" / "mnist", TEST_STEMS, *make_split(2))
    assert mnist.load_test()[0].shape == (2, 28, 28)


def test_half_a_pair_is_not_enough(isolated, monkeypatch):
    # a folder with images but no labels is skipped, and the message says what it lacks
    folder = isolated / "data" / "mnist"
    write_split(folder, TEST_STEMS, *make_split(2))
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("NETCORE_DATA", str(isolated / "data"))
    with pytest.raises(DatasetNotFoundError, match=r"lacks t10k-labels-idx1-ubyte\[\.gz\]"):
        mnist.load_test(download=False)


def test_offline_nothing_found_lists_every_option(isolated, monkeypatch):
    monkeypatch.setenv("NETCORE_DATA", str(isolated / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_test()
    msg = str(info.value)
    cache = isolated / "home" / ".cache" / "netcore" / "mnist"
    for needle in (
        "t10k-images-idx3-ubyte.gz",
        "$NETCORE_DATA/mnist",
        str(isolated / "nowhere"),
        str(cache),
        str(isolated / "system" / "mnist"),
        "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "offline test: no network",
        "path=",
    ):
        assert needle in msg, needle
    # a failed download leaves no empty cache folder behind
    assert not (isolated / "home" / ".cache").exists()


def test_unset_netcore_data_is_mentioned(isolated):
    with pytest.raises(DatasetNotFoundError, match=r"\$NETCORE_DATA is not set"):
        mnist.load_test(download=False)
    with pytest.raises(DatasetNotFoundError, match=r"not attempted \(download=False\)"):
        mnist.load_test(download=False)


def test_bad_split_name():
    with pytest.raises(ValueError, match="split"):
        mnist.find_files("validation")


# -- downloading (no network: the fetch function is replaced) -------------------------------


def fake_fetch(served: dict[str, bytes], calls: list[str]):
    def fetch(url, out, *, desc):
        calls.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in served:
            raise OSError(f"404 for {url}")
        out.write(served[name])

    return fetch


def test_download_checksum_mismatch_leaves_nothing(isolated, monkeypatch):
    calls: list[str] = []
    x, y = make_split(3)
    served = {f"{s}.gz": gzip.compress(idx_bytes(a)) for s, a in zip(TEST_STEMS, (x, y))}
    monkeypatch.setattr(_locate, "fetch", fake_fetch(served, calls))
    with pytest.raises(DatasetNotFoundError, match="SHA-256 mismatch") as info:
        mnist.load_test()
    assert len(calls) == 2  # both mirrors tried
    assert "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6" in str(info.value)
    cache = isolated / "home" / ".cache" / "netcore" / "mnist"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_download_success_is_atomic_and_cached(isolated, monkeypatch):
    x, y = make_split(4, seed=9)
    served = {f"{s}.gz": gzip.compress(idx_bytes(a)) for s, a in zip(TEST_STEMS, (x, y))}
    # Pretend these archives are canonical; the first mirror is down.
    sums = {k: hashlib.sha256(v).hexdigest() for k, v in served.items()}
    monkeypatch.setitem(
        mnist._DATASET.archive_sha256,
        "t10k-images-idx3-ubyte.gz",
        sums["t10k-images-idx3-ubyte.gz"],
    )
    monkeypatch.setitem(
        mnist._DATASET.archive_sha256,
        "t10k-labels-idx1-ubyte.gz",
        sums["t10k-labels-idx1-ubyte.gz"],
    )
    calls: list[str] = []
    inner = fake_fetch(served, calls)
    seen_dirs: list[list[str]] = []
    cache = isolated / "home" / ".cache" / "netcore" / "mnist"

    def flaky(url, out, *, desc):
        # while writing, the final name must not exist yet: only a temp file
        seen_dirs.append(sorted(p.name for p in cache.iterdir()))
        if "googleapis" in url:
            raise OSError("mirror down")
        inner(url, out, desc=desc)

    monkeypatch.setattr(_locate, "fetch", flaky)
    x2, y2 = mnist.load_test()
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert sorted(p.name for p in cache.iterdir()) == sorted(served)  # no temp files left
    for name, blob in served.items():
        assert (cache / name).read_bytes() == blob
    assert all(not any(n in served for n in listing) for listing in seen_dirs[:2])
    assert all(n.endswith(".part") for n in seen_dirs[0])

    # second call: served from the cache, no network
    monkeypatch.setattr(_locate, "fetch", fake_fetch({}, calls := []))
    np.testing.assert_array_equal(mnist.load_test()[1], y)
    assert calls == []


def test_download_interrupted_leaves_nothing(isolated, monkeypatch):
    def interrupted(url, out, *, desc):
        out.write(b"\x1f\x8b partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(_locate, "fetch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mnist.load_test()
    assert not (isolated / "home" / ".cache").exists()


def test_download_into_explicit_path(isolated, monkeypatch):
    x, y = make_split(2)
    served = {f"{s}.gz": gzip.compress(idx_bytes(a)) for s, a in zip(TEST_STEMS, (x, y))}
    for k, v in served.items():
        monkeypatch.setitem(fashion_mnist._DATASET.archive_sha256, k, hashlib.sha256(v).hexdigest())
    monkeypatch.setattr(_locate, "fetch", fake_fetch(served, []))
    target = isolated / "mine"
    fashion_mnist.load_test(path=target)
    assert sorted(p.name for p in target.iterdir()) == sorted(served)


def test_canonical_checksums_are_well_formed():
    for ds in (mnist._DATASET, fashion_mnist._DATASET):
        assert set(ds.archive_sha256) == {f"{s}.gz" for s in TRAIN_STEMS + TEST_STEMS}
        assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in ds.archive_sha256.values())


# -- real data: the MNIST test set shipped inside the package --------------------------------

BUNDLED = mnist.bundled_dir()


def _readme_digests(readme: Path) -> dict[str, str]:
    text = readme.read_text() if readme.is_file() else ""
    return dict(re.findall(r"\|\s*(\S+?)\.gz\s*\|.*\|\s*([0-9a-f]{64})\s*\|", text))


def test_bundled_readme_states_the_licence_and_the_checked_digests():
    readme = BUNDLED / "README.md"
    text = readme.read_text()
    assert "CC BY-SA 3.0" in text and "LeCun" in text and "Cortes" in text and "Burges" in text
    assert _readme_digests(readme) == mnist.BUNDLED_SHA256


def test_bundled_test_set_is_the_real_mnist_test_set():
    x, y = mnist.load_bundled_test()
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.uint8
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # The digests of the decompressed files, computed here independently of the loader.
    for stem, array in zip(TEST_STEMS, (x, y)):
        assert hashlib.sha256(idx_bytes(array)).hexdigest() == mnist.BUNDLED_SHA256[stem]
        raw = gzip.decompress((BUNDLED / f"{stem}.gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == mnist.BUNDLED_SHA256[stem]


@pytest.mark.skipif(
    not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"no shared copy at {SHARED_MNIST} to compare with",
)
def test_bundled_files_are_binary_identical_to_the_shared_copy():
    for stem in TEST_STEMS:
        assert (BUNDLED / f"{stem}.gz").read_bytes() == (SHARED_MNIST / f"{stem}.gz").read_bytes()
    assert _readme_digests(SHARED_MNIST.parent / "README.md") == mnist.BUNDLED_SHA256


def test_load_bundled_holds_out_every_fifth_image():
    (x_tr, y_tr), (x_val, y_val) = mnist.load_bundled()
    x, y = mnist.load_bundled_test()
    assert x_tr.shape == (8000, 28, 28) and x_val.shape == (2000, 28, 28)
    np.testing.assert_array_equal(x_val, x[4::5])
    np.testing.assert_array_equal(y_val, y[4::5])
    np.testing.assert_array_equal(x_tr, np.delete(x, np.s_[4::5], axis=0))
    np.testing.assert_array_equal(y_tr, np.delete(y, np.s_[4::5]))
    assert set(np.unique(y_val)) == set(range(10))
    (x_tr2, _), _ = mnist.load_bundled()
    np.testing.assert_array_equal(x_tr2, x_tr)  # the same split every call


def test_damaged_bundled_file_is_refused(tmp_path, monkeypatch):
    for stem in TEST_STEMS:
        (tmp_path / f"{stem}.gz").write_bytes((BUNDLED / f"{stem}.gz").read_bytes())
    y = mnist.load_bundled_test()[1].copy()
    y[0] = (y[0] + 1) % 10  # a valid file, wrong content
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y)))
    monkeypatch.setattr(mnist, "bundled_dir", lambda: tmp_path)
    with pytest.raises(DataFileError, match="does not match its SHA-256.*reinstall"):
        mnist.load_bundled()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataFileError, match="shipped with netcore is missing"):
        mnist.load_bundled()


def test_load_data_never_returns_the_bundled_set(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    assert "mnist.load_bundled()" in str(info.value)  # pointed to, not used


def test_load_data_on_a_test_only_folder_points_to_load_test_and_load_bundled(isolated):
    folder = isolated / "only-test"
    write_split(folder, TEST_STEMS, *make_split(3))
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data(folder, download=False)
    msg = str(info.value)
    assert f"Only the test set (t10k files) is in {folder}" in msg
    assert f"mnist.load_test('{folder}')" in msg and "mnist.load_bundled()" in msg
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data(folder, download=False)
    assert "fashion_mnist.load_test(" in str(info.value)
    assert "load_bundled" not in str(info.value)  # only MNIST ships its test set


@pytest.mark.slow
def test_real_mnist_test_set_read_from_a_folder(tmp_path):
    for stem in TEST_STEMS:
        (tmp_path / f"{stem}.gz").write_bytes((BUNDLED / f"{stem}.gz").read_bytes())
    x, y = mnist.load_test(path=tmp_path, download=False)
    assert x.shape == (10000, 28, 28) and set(np.unique(y)) == set(range(10))
    np.testing.assert_array_equal(x, mnist.load_bundled_test()[0])
    # the training files are not there, and asking for them says so without a download
    with pytest.raises(DatasetNotFoundError, match="train"):
        mnist.load_data(path=tmp_path, download=False)


@pytest.mark.slow
@pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION})",
)
def test_debian_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.delenv("NETCORE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # empty cache: the system folder must be used
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(download=False)
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_mnist_files_found_where_fashion_expected(tmp_path, monkeypatch):
    # Both datasets use the same file names; a flat $NETCORE_DATA holding MNIST must not be
    # returned as Fashion-MNIST.
    for stem in TEST_STEMS:
        (tmp_path / f"{stem}.gz").write_bytes((BUNDLED / f"{stem}.gz").read_bytes())
    monkeypatch.setenv("NETCORE_DATA", str(tmp_path))
    with pytest.raises(DataFileError, match="holds MNIST test images, not Fashion-MNIST"):
        fashion_mnist.load_test(download=False)


# -- Sign Language MNIST --------------------------------------------------------------------

HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))


def sign_csv(path: Path, labels, seed: int = 0, rows: list[str] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(len(labels), 784))
    lines = [HEADER] + [f"{lab}," + ",".join(map(str, px)) for lab, px in zip(labels, pixels)]
    lines += rows or []
    path.write_text("\n".join(lines) + "\n")
    return pixels


def test_sign_mnist_loads(tmp_path):
    px_tr = sign_csv(tmp_path / "sign_mnist_train.csv", [0, 24, 10, 3])
    px_te = sign_csv(tmp_path / "sign_mnist_test.csv", [8, 1], seed=1)
    (x_tr, y_tr), (x_te, y_te) = sign_mnist.load_data(tmp_path)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.uint8
    assert x_tr.shape == (4, 28, 28) and x_te.shape == (2, 28, 28)
    np.testing.assert_array_equal(x_tr.reshape(4, -1), px_tr)
    np.testing.assert_array_equal(x_te.reshape(2, -1), px_te)
    assert y_tr.tolist() == [0, 24, 10, 3] and y_te.tolist() == [8, 1]
    assert [sign_mnist.label_to_letter(k) for k in y_tr] == ["A", "Y", "K", "D"]


def test_sign_mnist_label_space():
    assert sign_mnist.num_classes == 25 and len(sign_mnist.LETTERS) == 25
    assert sign_mnist.LETTERS[9] == "J" and 9 not in sign_mnist.PRESENT_LABELS
    assert len(sign_mnist.PRESENT_LABELS) == 24
    with pytest.raises(ValueError):
        sign_mnist.label_to_letter(25)


def test_sign_mnist_kaggle_layout_and_env(tmp_path, monkeypatch):
    for name in ("sign_mnist_train", "sign_mnist_test"):
        (tmp_path / "sign-mnist" / name).mkdir(parents=True)
        sign_csv(tmp_path / "sign-mnist" / name / f"{name}.csv", [1, 2])
    monkeypatch.setenv("NETCORE_DATA", str(tmp_path))
    (x, y), _ = sign_mnist.load_data()
    assert x.shape == (2, 28, 28)
    assert sign_mnist.load_test(tmp_path)[1].tolist() == [1, 2]


def test_sign_mnist_missing_mentions_kaggle(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        sign_mnist.load_data(tmp_path)
    msg = str(info.value)
    assert "Kaggle account" in msg and "sign_mnist_train.csv" in msg and str(tmp_path) in msg


@pytest.mark.parametrize(
    "bad_row, line_msg",
    [
        ("3," + ",".join(["0"] * 783), r"line 4: 784 columns, expected 785"),
        (
            "3," + ",".join(["0"] * 782) + ",x,0",
            r"line 4, column 784 \(pixel783\): 'x' is not an integer",
        ),
        ("3," + ",".join(["0"] * 783) + ",1.5", r"line 4, column 785 \(pixel784\): '1.5' is not"),
        ("3," + ",".join(["0"] * 783) + ",", r"line 4, column 785 .*'' is not an integer"),
        (
            "3,256," + ",".join(["0"] * 783),
            r"line 4, column 2 \(pixel1\): pixel 256 outside 0..255",
        ),
        ("3,-1," + ",".join(["0"] * 783), r"line 4, column 2 \(pixel1\): pixel -1 outside"),
        ("25," + ",".join(["0"] * 784), r"line 4: label 25"),
        ("99999999999999999999999," + ",".join(["0"] * 784), r"line 4: label 9999"),
    ],
)
def test_sign_mnist_malformed(tmp_path, bad_row, line_msg):
    path = tmp_path / "sign_mnist_test.csv"
    sign_csv(path, [0, 1], rows=[bad_row, "2," + ",".join(["0"] * 784)])
    with pytest.raises(DataFileError, match=re.escape(str(path)) + ", " + line_msg):
        sign_mnist.read_csv(path)


def test_sign_mnist_bad_header_and_empty(tmp_path):
    path = tmp_path / "sign_mnist_test.csv"
    path.write_text("label,a,b\n1,2,3\n")
    with pytest.raises(DataFileError, match="line 1: expected the header"):
        sign_mnist.read_csv(path)
    path.write_text(HEADER + "\n")
    with pytest.raises(DataFileError, match="no data rows"):
        sign_mnist.read_csv(path)


def test_sign_mnist_crlf_and_consistently_short_rows(tmp_path):
    path = tmp_path / "sign_mnist_test.csv"
    px = sign_csv(path, [4, 5])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # saved on Windows
    x, y = sign_mnist.read_csv(path)
    np.testing.assert_array_equal(x.reshape(2, -1), px)
    assert y.tolist() == [4, 5]
    # every data row one pixel short: numpy parses it fine, the width check must not
    path.write_text(HEADER + "\n" + "1," + ",".join(["0"] * 783) + "\n")
    with pytest.raises(DataFileError, match="line 2: 784 columns, expected 785"):
        sign_mnist.read_csv(path)


def test_sign_mnist_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "sign_mnist_test.csv"
    sign_csv(path, [0], rows=["", "30," + ",".join(["0"] * 784)])
    with pytest.raises(DataFileError, match=r", line 4: label 30"):
        sign_mnist.read_csv(path)


@pytest.mark.slow
def test_sign_mnist_full_size_is_fast(tmp_path):
    n = 27455
    rng = np.random.default_rng(0)
    labels = rng.choice(sign_mnist.PRESENT_LABELS, size=n)
    pixels = rng.integers(0, 256, size=(n, 784))
    table = np.column_stack([labels, pixels])
    path = tmp_path / "sign_mnist_train.csv"
    np.savetxt(path, table, fmt="%d", delimiter=",", header=HEADER, comments="")
    start = time.perf_counter()
    x, y = sign_mnist.read_csv(path)
    elapsed = time.perf_counter() - start
    assert x.shape == (n, 28, 28)
    np.testing.assert_array_equal(y, labels)
    assert elapsed < 10, f"27k rows took {elapsed:.1f}s"
