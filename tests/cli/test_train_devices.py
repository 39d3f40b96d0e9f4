"""`rnnkit train --devices N`: data-parallel training over N (CPU host) devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv, cwd):
    # JAX_PLATFORMS: the CPU devices, also on a machine with a GPU
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    env.pop("RNNKIT_CPU_DEVICES", None)
    return subprocess.run([sys.executable, "-m", "rnnkit.cli", *argv], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)


def _series(tmp_path):
    t = np.arange(203)
    values = np.sin(t / 7.0) + 0.1 * np.cos(t / 3.0)
    path = tmp_path / "series.csv"
    path.write_text("value\n" + "\n".join(f"{v:.5f}" for v in values) + "\n")
    return path


def test_train_on_two_cpu_devices(tmp_path):
    out = tmp_path / "run"
    proc = _cli("train", "--csv", str(_series(tmp_path)), "--column", "value", "--window",
                "8", "--epochs", "2", "--units", "8", "--batch-size", "16", "--devices", "2",
                "--no-plot", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "devices: data-parallel over cpu:0, cpu:1" in proc.stdout
    # 195 windows: 156 train / 39 validation -> the odd validation window is dropped
    assert "using 156 of 156 training and 38 of 39 validation samples" in proc.stdout
    meta = json.loads((out / "meta.json").read_text())
    assert meta["epochs_done"] == 2 and meta["config"]["devices"] == 2
    assert all(np.isfinite(meta["history"]["loss"]))


def test_batch_size_not_a_multiple_of_devices(tmp_path):
    proc = _cli("train", "--csv", str(_series(tmp_path)), "--column", "value", "--devices",
                "2", "--batch-size", "5", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "--batch-size 5 is not a multiple of --devices 2" in proc.stderr
    assert "--batch-size 6" in proc.stderr
