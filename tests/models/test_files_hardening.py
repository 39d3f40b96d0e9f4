"""Damaged and hand-edited files give one clear error; interrupted saves leave no litter
behind after the next save (issue 12, defects 4, 9 and 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from rnnkit.utils import files

REPO = Path(__file__).resolve().parent.parent.parent


def _model():
    inp = rnnkit.Input(shape=(5, 3))
    return rnnkit.Model(inp, L.Dense(2)(L.GRU(4)(inp)))


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.rnnkit"
    _model().save(path)
    return path


# Defect 4: a file cut short after an inner entry is reported as truncated -----------------

@pytest.mark.parametrize("cut", [1, 22, 100, 300])
def test_file_cut_short_is_reported_as_truncated(saved, tmp_path, cut):
    data = saved.read_bytes()
    bad = tmp_path / "cut.rnnkit"
    bad.write_bytes(data[: len(data) - cut])
    for load in (rnnkit.load_model, _model().load_weights):
        with pytest.raises(ValueError) as err:
            load(bad)
        msg = str(err.value)
        assert "truncated or corrupted" in msg and str(bad) in msg, msg
        assert "load_weights" not in msg.split("Re-save")[0]


def test_weights_file_cut_short_is_reported_as_truncated(tmp_path):
    path = tmp_path / "w.weights"
    model = _model()
    model.save_weights(path)
    data = path.read_bytes()
    path.write_bytes(data[:-22])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        model.load_weights(path)


# Defect 9: crafted but well-formed configs give clear errors ---------------------------

def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            zout.writestr(name, data)


def _nested_class(name):
    def change(c):
        c["model"]["config"]["layers"][1]["class_name"] = name
    return change


@pytest.mark.parametrize("change, expected", [
    (lambda c: c.pop("model"), "no 'model' key"),
    (lambda c: c.update(model=5), "'model' must be"),
    (lambda c: c.update(model={"class_name": 5, "config": {}}), "'model' must be"),
    (lambda c: c.update(model={"class_name": "Sequential", "config": "x"}), "'model' must be"),
    (lambda c: c["model"].update(class_name="__class__"), "'__class__'"),
    (lambda c: c["model"].update(class_name="register"), "'register'"),
    (lambda c: c["model"].update(class_name="Dense"), "not a model"),
    (_nested_class("serialization"), "'serialization'"),
    (lambda c: c["model"]["config"]["layers"][1].update(config=7), "must be a dict"),
    (lambda c: c["model"]["config"]["layers"][1]["config"].pop("units"), "units"),
    (lambda c: c["model"]["config"].update(layers=[5]), "must be a dict"),
    (lambda c: c.update(compile={"optimizer": 3}), "'compile' must be"),
])
def test_crafted_config_gives_a_clear_error(saved, tmp_path, change, expected):
    bad = tmp_path / "crafted.rnnkit"
    _rewrite(saved, bad, change)
    with pytest.raises((ValueError, TypeError)) as err:
        rnnkit.load_model(bad)
    assert expected in str(err.value), str(err.value)


@pytest.mark.parametrize("edit", [
    lambda m: m.update(vocab=5),
    lambda m: m.update(vocab=["ab", 3]),
    lambda m: m.update(kind="poem"),
    lambda m: m.update(default_prompt=7),
    lambda m: m.pop("vocab"),
])
def test_generate_with_hand_edited_meta_is_one_clean_line(tmp_path, edit, capsys,
                                                         monkeypatch):
    from rnnkit.cli import main

    from rnnkit.io.run_dir import save_run

    inp = rnnkit.Input(shape=(None,), dtype="int32")
    model = rnnkit.Model(inp, L.Dense(3)(L.LSTM(4, return_sequences=True)(
        L.Embedding(3, 2)(inp))))
    run = tmp_path / "run"
    save_run(model, run, {"kind": "charlm", "vocab": ["a", "b", "c"]})
    meta = json.loads((run / "meta.json").read_text())
    edit(meta)
    (run / "meta.json").write_text(json.dumps(meta))
    monkeypatch.delenv("RNNKIT_DEBUG", raising=False)
    capsys.readouterr()
    code = main(["generate", str(run), "--length", "3"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "meta.json" in err


# Defect 10: stale temporaries cleaned on the next save, never a live one --------------------

def _tmp_files(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


def test_next_save_removes_leftovers_of_dead_writers_only(tmp_path):
    target = tmp_path / "m.rnnkit"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = [tmp_path / f".m.rnnkit.{dead_pid}.abc123.tmp",
             tmp_path / ".m.rnnkit.k2j3h4g5.tmp"]  # an older rnnkit's name (no pid)
    for p in stale:
        p.write_bytes(b"x" * 1000)
    other_target = tmp_path / f".other.rnnkit.{dead_pid}.abc123.tmp"
    other_target.write_bytes(b"y")
    # A live writer: a process that holds the lock of its temporary file.
    live = tmp_path / ".m.rnnkit.999999.live99.tmp"
    live.write_bytes(b"z")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys, time
            fd = os.open({str(live)!r}, os.O_RDWR)
            fcntl.flock(fd, fcntl.LOCK_EX)
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        # A live writer whose pid is in the name and alive (before it takes its lock).
        young = tmp_path / f".m.rnnkit.{holder.pid}.young1.tmp"
        young.write_bytes(b"w")
        _model().save(target)
        left = _tmp_files(tmp_path)
        assert left == sorted([other_target.name, live.name, young.name])
        rnnkit.load_model(target)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_killed_save_leaves_no_litter_after_the_next_save(tmp_path):
    target = tmp_path / "ckpt.rnnkit"
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        import rnnkit
        from rnnkit import layers as L
        from rnnkit.io import rnnkit_format

        def hook(name):
            print("WROTE", name, flush=True)
            time.sleep(120)

        rnnkit_format._entry_hook = hook
        inp = rnnkit.Input(shape=(5, 3))
        rnnkit.Model(inp, L.Dense(7)(L.GRU(16)(inp))).save(sys.argv[1])
    """))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, str(script), str(target)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().startswith("WROTE"), proc.stderr.read()
            # The live writer's file is kept; the dead one's (first round) was removed by
            # the second writer's save of the same target.
            assert len(_tmp_files(tmp_path)) == 1
            _model().save(tmp_path / "unrelated.rnnkit")
            proc.kill()
            proc.wait(timeout=30)
        finally:
            proc.kill()
            proc.stdout.close()
            proc.stderr.close()
    assert len(_tmp_files(tmp_path)) == 1
    _model().save(target)
    assert _tmp_files(tmp_path) == []
    rnnkit.load_model(target)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_permission_error_names_the_target(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as err:
            _model().save(locked / "m.rnnkit")
        assert str(locked / "m.rnnkit") in str(err.value) and ".tmp" not in str(err.value)
    finally:
        locked.chmod(0o700)


def test_permission_error_names_the_target_simulated(tmp_path, monkeypatch):
    import tempfile

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".m.rnnkit.1.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError) as err:
        files.atomic_write(tmp_path / "m.rnnkit", lambda f: f.write(b"x"))
    msg = str(err.value)
    assert str(tmp_path / "m.rnnkit") in msg and ".tmp" not in msg


def test_atomic_write_is_public_and_used_by_the_cli(tmp_path):
    files.atomic_write_text(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text() == "{}"
    files.atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    # the run directories `rnnkit train` writes go through the public writer
    src = (REPO / "rnnkit" / "io" / "run_dir.py").read_text()
    assert "atomic_write_text" in src and "_atomic_write" not in src
