"""Saving a model: what the target may be, the modes and names it ends with, atomicity under
kill -9, clean-up of killed saves' temporaries, and refusal of non-finite weights."""

import errno
import fcntl
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import netcore as nc
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.saving import writer as saving


def trained(seed=0, optimizer="adam", width=8):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    m = Sequential(
        [Dense(width, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")],
        backend="cpu",
        seed=seed,
    )
    m.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return m


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


# ------------------------------------------------------------------ what the target may be
def test_save_refuses_a_character_device_and_leaves_it_alone(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null twin
    with pytest.raises(OSError, match="character device") as info:
        trained().save(node)
    assert info.value.filename == str(node)
    assert stat.S_ISCHR(os.stat(node).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["null"]


def test_save_refuses_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        trained().save(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_save_through_a_symlink_to_a_fifo_refuses_and_keeps_both(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "m.netcore"
    link.symlink_to(fifo)
    with pytest.raises(OSError, match="FIFO") as info:
        trained().save(link)
    assert info.value.filename == str(link)
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_save_refuses_a_directory_naming_it(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="directory") as info:
        trained().save(folder)
    assert info.value.filename == str(folder)
    assert folder.is_dir() and not os.listdir(folder)


def test_save_through_a_symlink_writes_the_linked_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "store" / "model.netcore"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "latest.netcore"
    link.symlink_to(real)
    m = trained()
    m.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert same_weights(nc.load_model(real, backend="cpu"), m)


def test_save_through_a_dangling_symlink_creates_the_linked_file(tmp_path):
    link = tmp_path / "latest.netcore"
    link.symlink_to(tmp_path / "new.netcore")
    trained().save(link)
    assert link.is_symlink() and (tmp_path / "new.netcore").is_file()


def test_new_file_gets_the_mode_the_umask_gives(tmp_path, umask_027):
    path = tmp_path / "m.netcore"
    trained().save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664])
def test_overwritten_file_keeps_its_mode(tmp_path, umask_027, mode):
    path = tmp_path / "m.netcore"
    trained().save(path)
    os.chmod(path, mode)
    trained(seed=1).save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode


def test_save_into_a_missing_folder_names_the_target(tmp_path):
    target = tmp_path / "no" / "such" / "m.netcore"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        trained().save(target)
    assert info.value.filename == str(target)
    assert ".tmp" not in str(info.value)


def test_save_into_an_unwritable_folder_names_the_target(tmp_path, monkeypatch):
    # Root ignores folder permissions, so the refusal is staged where the temporary is created.
    def refuse(prefix, suffix, dir):
        raise PermissionError(
            errno.EACCES, "Permission denied", os.path.join(dir, prefix + "x1y2z3w4" + suffix)
        )

    monkeypatch.setattr(saving.tempfile, "mkstemp", refuse)
    target = tmp_path / "m.netcore"
    with pytest.raises(PermissionError, match="Permission denied") as info:
        trained().save(target)
    assert info.value.filename == str(target)
    with pytest.raises(PermissionError) as info:
        saving.check_save_target(target)
    assert info.value.filename == str(target)


def test_check_save_target_accepts_a_new_name_and_leaves_nothing_behind(tmp_path):
    assert saving.check_save_target(tmp_path / "m.netcore") == tmp_path / "m.netcore"
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        saving.check_save_target(tmp_path / "missing" / "m.netcore")


def test_no_temporary_is_left_after_a_save(tmp_path):
    trained().save(tmp_path / "m.netcore")
    assert os.listdir(tmp_path) == ["m.netcore"]


# ------------------------------------------------------------------ temporaries of killed saves
def test_next_save_removes_temporaries_of_killed_saves_of_the_same_target(tmp_path):
    stale = [tmp_path / ".m.netcore.ab_cd123.tmp", tmp_path / ".m.netcore.zz99zz99.tmp"]
    for p in stale:
        p.write_bytes(b"x" * 1000)
    other = tmp_path / ".other.netcore.ab_cd123.tmp"  # another target's: not ours to remove
    other.write_bytes(b"x")
    trained().save(tmp_path / "m.netcore")
    assert sorted(os.listdir(tmp_path)) == [other.name, "m.netcore"]


def test_a_save_in_progress_keeps_its_temporary(tmp_path):
    live = tmp_path / ".m.netcore.live0001.tmp"
    live.write_bytes(b"x")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a save holds while it writes
    try:
        trained().save(tmp_path / "m.netcore")
        assert live.exists()
    finally:
        os.close(fd)
    trained().save(tmp_path / "m.netcore")
    assert not live.exists()


def test_concurrent_saves_of_one_target_leave_one_whole_file_and_no_temporaries(tmp_path):
    path = tmp_path / "m.netcore"
    models = [trained(seed=s) for s in range(4)]
    errors: list[BaseException] = []

    def save_repeatedly(m):
        try:
            for _ in range(8):
                m.save(path)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save_repeatedly, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    loaded = nc.load_model(path, backend="cpu")
    assert any(same_weights(loaded, m) for m in models)
    assert os.listdir(tmp_path) == ["m.netcore"]


CHILD = textwrap.dedent("""
    import sys, numpy as np
    from netcore.layers import Dense
    from netcore.models import Sequential
    path = sys.argv[1]
    m = Sequential([Dense(512, input_shape=(512,)), Dense(512)], backend="cpu", seed=0)
    m.compile(optimizer="adam", loss="mse")
    k = 0
    while True:
        k += 1
        m.set_weights([np.full_like(w, k) for w in m.get_weights()])
        m.save(path)
        print(k, flush=True)
""")


@pytest.mark.slow
def test_kill_9_during_saves_keeps_a_whole_file_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "m.netcore"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = np.random.default_rng()
    trials, mid_save = 6, 0
    for trial in range(trials):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline()  # one whole save done
        time.sleep(float(rng.uniform(0.0, 0.05)))
        child.send_signal(signal.SIGKILL)
        child.wait()
        mid_save += any(n.endswith(".tmp") for n in os.listdir(tmp_path))
        loaded = nc.load_model(path, backend="cpu")  # whole, never half-written
        first = loaded.get_weights()[0].flat[0]
        assert all(np.all(w == first) for w in loaded.get_weights()), trial
    print(f"\nkill -9: {trials} kills, {mid_save} during a write (a temporary left), all whole")
    trained().save(path)
    assert sorted(os.listdir(tmp_path)) == ["child.py", "m.netcore"]


# ------------------------------------------------------------------ non-finite weights
def test_nonfinite_weights_are_refused_naming_the_tensor(tmp_path):
    m = trained()
    m.layers[1].params["kernel"][0, 0] = np.nan
    path = tmp_path / "m.netcore"
    with pytest.raises(ValueError, match=r"dense_1\.kernel.*NaN or inf.*allow_nonfinite"):
        m.save(path)
    assert not path.exists()


def test_nonfinite_optimizer_state_is_refused(tmp_path):
    m = trained()
    m.optimizer.state[0]["m"][3] = np.inf
    with pytest.raises(ValueError, match="optimizer slot 'm'"):
        m.save(tmp_path / "m.netcore")


def test_nonfinite_weights_save_and_load_only_when_allowed(tmp_path):
    m = trained()
    m.layers[0].params["bias"][2] = np.inf
    path = tmp_path / "m.netcore"
    m.save(path, allow_nonfinite=True)
    with pytest.raises(nc.ModelFileError, match="NaN or inf in weights/1.npy"):
        nc.load_model(path, backend="cpu")
    loaded = nc.load_model(path, backend="cpu", allow_nonfinite=True)
    assert loaded.get_weights()[1][2] == np.inf


def test_allow_nonfinite_must_be_a_bool(tmp_path):
    with pytest.raises(ValueError, match="allow_nonfinite must be True or False"):
        saving.save_model(trained(), tmp_path / "m.netcore", allow_nonfinite="yes")  # type: ignore[arg-type]
