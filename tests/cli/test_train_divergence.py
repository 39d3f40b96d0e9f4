"""Hardening (issue 12, defect 2): `rnnkit train` stops at the first non-finite loss with a
one-line message and a non-zero exit, and never overwrites a good checkpoint with a broken
one; non-finite learning rates are bad input; `generate` refuses NaN weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.cli import main

SMALL = ["--units", "16", "--embed", "8", "--seq-len", "20", "--batch-size", "16",
         "--no-plot", "--sample-length", "0"]


@pytest.fixture()
def text_file(tmp_path):
    path = tmp_path / "fox.txt"
    path.write_text("the quick brown fox jumps over the lazy dog.\n" * 200)
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err):
    lines = [line for line in err.strip().splitlines() if line.strip()
             and not line.startswith("rnnkit: note:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-0.1", "1e400"])
def test_non_finite_or_non_positive_lr_is_bad_input(capsys, tmp_path, value):
    code, _, err = _run(capsys, "train", f"--lr={value}", "--out", tmp_path / "o")
    assert code == 2
    assert "--lr" in err and "finite number > 0" in err
    assert not (tmp_path / "o").exists()


def test_generate_temperature_must_be_finite(capsys, tmp_path):
    code, _, err = _run(capsys, "generate", tmp_path, "--temperature", "inf")
    assert code == 2 and "--temperature" in err and "finite" in err


def test_diverging_run_stops_and_keeps_the_previous_checkpoint(capsys, tmp_path, text_file):
    out_dir = tmp_path / "run"
    code, _, err = _run(capsys, "train", "--text", text_file, *SMALL, "--epochs", "1",
                        "--out", out_dir)
    assert code == 0, err
    model_bytes = (out_dir / "model.rnnkit").read_bytes()
    meta_bytes = (out_dir / "meta.json").read_bytes()
    # a new run over it diverges in its first epoch: nothing of it is saved
    code, out, err = _run(capsys, "train", "--text", text_file, *SMALL, "--epochs", "3",
                          "--lr", "1e38", "--out", out_dir)
    assert code == 1, (out, err)
    line = _error_line(err)
    assert "diverged" in line and "epoch 1" in line and "--lr" in line
    assert "kept" in line and "not from this run" in line
    assert "saved" not in out
    assert (out_dir / "model.rnnkit").read_bytes() == model_bytes
    assert (out_dir / "meta.json").read_bytes() == meta_bytes
    assert not list(out_dir.glob(".*tmp*"))


def test_divergence_after_a_good_epoch_keeps_that_epoch(capsys, tmp_path, text_file,
                                                       monkeypatch):
    import rnnkit.cli.train as train_mod

    out_dir = tmp_path / "run"
    code, _, err = _run(capsys, "train", "--text", text_file, *SMALL, "--epochs", "1",
                        "--out", out_dir)
    assert code == 0, err
    model_bytes = (out_dir / "model.rnnkit").read_bytes()
    real_load = train_mod.load_run

    def load_with_huge_lr(run_dir, **kwargs):  # the resumed epoch 2 diverges
        model, meta = real_load(run_dir, **kwargs)
        model.optimizer.learning_rate = 1e38
        model._steps = {}
        model._opt_state = None
        return model, meta

    monkeypatch.setattr(train_mod, "load_run", load_with_huge_lr)
    code, out, err = _run(capsys, "train", "--resume", "--epochs", "3", "--out", out_dir,
                          "--sample-length", "0", "--no-plot")
    assert code == 1, (out, err)
    line = _error_line(err)
    assert "diverged" in line and "epoch 2" in line
    assert "kept" in line and "epoch 1" in line
    assert (out_dir / "model.rnnkit").read_bytes() == model_bytes
    assert json.loads((out_dir / "meta.json").read_text())["epochs_done"] == 1
    # generate still works from the kept checkpoint
    code, out, err = _run(capsys, "generate", out_dir, "--length", "5", "--seed", "0")
    assert code == 0, err


def test_generate_on_nan_weights_is_a_one_line_error(capsys, tmp_path, text_file):
    from rnnkit.io.run_dir import load_run, save_run

    out_dir = tmp_path / "run"
    code, _, err = _run(capsys, "train", "--text", text_file, *SMALL, "--epochs", "1",
                        "--out", out_dir)
    assert code == 0, err
    model, meta = load_run(out_dir)
    weights = model.get_weights()
    weights[0][:] = np.nan
    model.set_weights(weights)
    with pytest.raises(ValueError, match="NaN or inf"):  # the CLI never writes these
        save_run(model, out_dir, meta)
    model.save(str(out_dir / "model.rnnkit"))  # as if written by another tool
    code, out, err = _run(capsys, "generate", out_dir, "--length", "5")
    assert code == 2
    line = _error_line(err)
    assert "NaN or inf" in line and "diverged" in line
