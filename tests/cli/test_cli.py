"""The `rnnkit` command line: explain, train (text and CSV), resume, Ctrl-C, generate,
tour, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnkit
import rnnkit.explain
from rnnkit.cli import build_parser, main
from rnnkit.cli import plot as cli_plot
from rnnkit.layers import (GRU, LSTM, RNN, Bidirectional, Dense, Embedding, GRUCell, LSTMCell,
                           SimpleRNN, StackedRNNCells)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def tour_process():
    """`rnnkit tour` as a real command, started when this module's tests start so that it
    runs alongside them (it is compile-bound and single-threaded); checked at the end."""
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit.cli", "tour", "--plain"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


# ------------------------------------------------------------------------------------------
# explain
# ------------------------------------------------------------------------------------------
SPECS = [
    ("SimpleRNN(64, return_sequences=True)", lambda: SimpleRNN(64, return_sequences=True),
     "u*(d+u)+u"),
    ("LSTM(64, return_sequences=True)", lambda: LSTM(64, return_sequences=True),
     "4*u*(d+u)+4*u"),
    ("GRU(32)", lambda: GRU(32), "3*u*(d+u)+6*u"),
    ("GRU(8, reset_after=False, use_bias=False)",
     lambda: GRU(8, reset_after=False, use_bias=False), "3*u*(d+u)"),
    ("Bidirectional(GRU(32))", lambda: Bidirectional(GRU(32)), "2*(3*u*(d+u)+6*u)"),
    ("Bidirectional(LSTM(16, return_sequences=True), merge_mode='sum')",
     lambda: Bidirectional(LSTM(16, return_sequences=True), merge_mode="sum"),
     "2*(4*u*(d+u)+4*u)"),
    ("RNN([LSTMCell(8), GRUCell(4)], return_state=True)",
     lambda: RNN([LSTMCell(8), GRUCell(4)], return_state=True),
     "(4*u1*(d1+u1)+4*u1)+(3*u2*(d2+u2)+6*u2)"),
    ("StackedRNNCells([LSTMCell(8), GRUCell(4)])",
     lambda: StackedRNNCells([LSTMCell(8), GRUCell(4)]),
     "(4*u1*(d1+u1)+4*u1)+(3*u2*(d2+u2)+6*u2)"),
]


@pytest.mark.parametrize("spec,make,formula", SPECS, ids=[s[0].split("(")[0] + str(i)
                                                          for i, s in enumerate(SPECS)])
def test_explain_json_counts_match_built_layer(capsys, spec, make, formula):
    code, out, err = run_cli(capsys, "explain", spec, "--input", "1,3,5", "--json")
    assert code == 0, err
    data = json.loads(out)
    built = make()
    built.build((1, 3, 5))
    assert data["params"] == built.count_params()
    assert data["formula_value"] == data["params"]
    assert rnnkit.explain.eval_formula(data["formula"], data["variables"]) == data["params"]
    if formula is not None:
        assert data["formula"] == formula
    weights = [w for c in data.get("cells", []) for w in c["weights"]] + [
        w for s in data.get("sublayers", []) for c in s["cells"] for w in c["weights"]]
    assert sorted(tuple(w["shape"]) for w in weights) == sorted(
        tuple(v.shape) for v in built.weights)
    assert all(w["formula_value"] == w["params"] for w in weights)
    assert data["outputs"][0]["shape"][0] == 1


def test_explain_text_lstm(capsys):
    code, out, _ = run_cli(capsys, "explain", "LSTM(64, return_sequences=True)", "--input",
                           "1,3,5", "--plain")
    assert code == 0
    assert "gate order i, f, c, o" in out
    assert "c_t = f * c_(t-1) + i * g" in out
    assert "lstm" in out and "kernel" in out and "(5, 256)" in out and "(64, 256)" in out
    assert "parameters: 17,920 = 4*u*(d+u)+4*u = 4*64*(5+64)+4*64" in out
    assert "output: (1, 3, 64)" in out
    assert "h (1, 64), c (1, 64)" in out
    assert "return_sequences=True: the output holds every time step, (1, 3, 64)" in out


def test_explain_rich_default_and_gru_gate_order(capsys):
    code, out, _ = run_cli(capsys, "explain", "tf.keras.layers.GRU(32, return_state=True)",
                           "--input", "2,4,5")
    assert code == 0
    assert "gate order z, r, h" in out and "3,744" in out  # 3*32*(5+32)+6*32
    assert "return_state=True" in out and "[output, h]" in out  # not eaten as markup


def test_explain_python_api_on_layer_objects():
    exp = rnnkit.explain(LSTM(64, return_sequences=True), (2, 3, 5))
    data = exp.to_dict()
    assert data["params"] == 4 * 64 * (5 + 64) + 4 * 64
    assert any(a["name"] == "return_sequences" for a in data["arguments"])
    assert "gate order i, f, c, o" in str(exp)
    cell = rnnkit.explain(GRUCell(32), (2, 5)).to_dict()
    assert cell["params"] == 3 * 32 * (5 + 32) + 6 * 32
    assert cell["states"][0]["shape"] == [2, 32]
    spec = rnnkit.explain("SimpleRNN(units=64, kernel_regularizer=l2(0.01), "
                          "input_shape=(15, 128))").to_dict()
    assert spec["input_shape"] == [None, 15, 128] and spec["params"] == 64 * (128 + 64) + 64
    assert any("L2" in a["effect"] for a in spec["arguments"])


def test_explain_saved_model_file(tmp_path, capsys):
    rnnkit.set_random_seed(0)
    model = rnnkit.Sequential([rnnkit.Input(shape=(None,), dtype="int32"), Embedding(20, 4),
                               GRU(6, return_sequences=True), Dense(20)])
    path = tmp_path / "m.rnnkit"
    model.save(str(path))
    code, out, err = run_cli(capsys, "explain", str(path), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["kind"] == "model" and data["params"] == model.count_params()
    assert data["formula_value"] == data["params"]
    assert [layer["class_name"] for layer in data["layers"]] == ["Embedding", "GRU", "Dense"]
    code, out, _ = run_cli(capsys, "explain", str(path), "--plain")
    assert code == 0 and "gate order z, r, h" in out


@pytest.mark.parametrize("spec,needle", [
    ("LTSM(64)", "unknown layer 'LTSM' (did you mean LSTM?); valid names:"),
    ("__import__('os').system('echo pwned')", "only calls of layer names"),
    ("os.system('echo pwned')", "unknown prefix"),
    ("LSTM(64, activation=lambda x: x)", "unsupported syntax"),
    ("LSTM(units)", "unknown name 'units'"),
    ("LSTM(64", "cannot parse"),
    ("LSTM(-3)", "positive integer"),
    ("l2(0.01)", "is not a layer"),
    ("missing/model.rnnkit", "file not found"),
])
def test_explain_errors_are_one_line(capsys, spec, needle):
    code, _, err = run_cli(capsys, "explain", spec)
    assert_one_line_error(code, err, needle)


def test_explain_bad_input_shape(capsys):
    code, _, err = run_cli(capsys, "explain", "LSTM(4)", "--input", "1,x,5")
    assert_one_line_error(code, err, "bad --input")
    code, _, err = run_cli(capsys, "explain", "LSTM(4)", "--input", "5")
    assert_one_line_error(code, err, "rank 3")


def test_console_script_error_exit_code():
    """The installed entry point: one stderr line, exit code 2, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "rnnkit.cli", "explain", "Foo(3)"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unknown layer 'Foo'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_argparse_errors_exit_2(capsys):
    assert main(["train", "--epochs", "zero"]) == 2
    assert main(["generate"]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------------------------------
# train / resume / Ctrl-C / generate (text)
# ------------------------------------------------------------------------------------------
TINY = ["--max-chars", "20000", "--units", "32", "--embed", "16", "--seq-len", "32",
        "--batch-size", "64", "--sample-length", "20"]


def test_train_resume_generate_default_corpus(tmp_path, capsys):
    out_dir = tmp_path / "charlm"
    code, out, err = run_cli(capsys, "train", *TINY, "--epochs", "1", "--out", str(out_dir))
    assert code == 0, err
    assert "baseline: unigram entropy of the validation text" in out
    assert re.search(r"epoch 1/1: loss [\d.]+, val_loss [\d.]+ nats/char", out)
    assert "sample (temperature 0.8, prompt 'def ')" in out
    model_file, meta_file = out_dir / "model.rnnkit", out_dir / "meta.json"
    assert model_file.exists() and meta_file.exists()
    meta = json.loads(meta_file.read_text())
    assert meta["epochs_done"] == 1 and meta["kind"] == "charlm" and len(meta["vocab"]) > 50
    assert not list(out_dir.glob(".*tmp*"))  # atomic writes leave no temporaries
    if cli_plot.available():
        assert (out_dir / "loss.png").exists() and "plot: wrote" in out
    else:
        assert 'pip install "rnnkit[plot]"' in err
    # resume: continues at epoch 2 with the saved vocabulary and optimizer state
    code, out, err = run_cli(capsys, "train", "--resume", "--epochs", "2", "--out",
                             str(out_dir), "--sample-length", "0")
    assert code == 0, err
    assert "resuming" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    meta2 = json.loads(meta_file.read_text())
    assert meta2["epochs_done"] == 2 and len(meta2["history"]["val_loss"]) == 2
    assert meta2["vocab"] == meta["vocab"]
    # generate: the prompt, then exactly `length` characters; greedy is deterministic
    code, out1, err = run_cli(capsys, "generate", str(out_dir), "--prompt", "def ",
                              "--length", "40", "--greedy")
    assert code == 0, err
    code, out2, _ = run_cli(capsys, "generate", str(model_file), "--prompt", "def ",
                            "--length", "40", "--greedy")
    assert out1 == out2 and out1.startswith("def ") and len(out1) == len("def ") + 40 + 1
    code, out3, _ = run_cli(capsys, "generate", str(out_dir), "--length", "25",
                            "--temperature", "0.5", "--top-k", "5", "--seed", "1")
    assert code == 0 and out3.startswith("def ")
    # explain works on a run directory too
    code, out, _ = run_cli(capsys, "explain", str(out_dir), "--json")
    assert code == 0 and json.loads(out)["params"] > 0


def test_train_ctrl_c_saves_and_exits_130(tmp_path, capsys):
    text = tmp_path / "poem.txt"
    text.write_text("the quick brown fox jumps over the lazy dog.\n" * 400)
    out_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "--text", str(text), "--units", "16",
                             "--embed", "8", "--seq-len", "20", "--batch-size", "16",
                             "--epochs", "3", "--out", str(out_dir), "--no-plot",
                             "--interrupt-after-batches", "3")
    assert code == 130, err
    assert "Ctrl-C: stopping after this batch" in err
    assert "interrupted: saved the model after 3 of" in out and str(out_dir) in out
    assert "rnnkit train --resume --out" in out
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["interrupted"] is True and meta["epochs_done"] == 0
    assert (out_dir / "model.rnnkit").exists()
    assert not (out_dir / "loss.png").exists() and "rnnkit[plot]" not in err  # --no-plot
    code, out, _ = run_cli(capsys, "generate", str(out_dir), "--length", "10", "--seed", "0")
    assert code == 0 and len(out) == 1 + 10 + 1  # default prompt "\n" for user text


# ------------------------------------------------------------------------------------------
# train (CSV forecaster)
# ------------------------------------------------------------------------------------------
@pytest.fixture()
def series_csv(tmp_path):
    t = np.arange(160)
    values = np.sin(t / 6.0) * 10 + 20 + np.random.default_rng(0).normal(0, 0.3, t.size)
    path = tmp_path / "series.csv"
    rows = ["day,value,label"] + [f"{i},{v:.4f},x{i}" for i, v in zip(t, values)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_train_csv_forecaster(tmp_path, capsys, series_csv):
    out_dir = tmp_path / "fc"
    code, out, err = run_cli(capsys, "train", "--csv", str(series_csv), "--column", "value",
                             "--window", "12", "--epochs", "3", "--units", "8",
                             "--out", str(out_dir))
    assert code == 0, err
    assert "persistence" in out and re.search(r"epoch 3/3: loss [\d.]+, val_loss", out)
    assert "validation RMSE" in out
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["kind"] == "forecast" and len(meta["series"]["last_window"]) == 12
    if cli_plot.available():
        assert (out_dir / "loss.png").exists()
    code, out, err = run_cli(capsys, "generate", str(out_dir), "--length", "3")
    assert code == 0, err
    assert re.search(r"t\+3: -?[\d.]+", out)


@pytest.mark.parametrize("args,needle", [
    (["--text", "no/such/file.txt"], "file not found: no/such/file.txt"),
    (["--csv", "no/such.csv", "--column", "value"], "file not found"),
    (["--csv", "{csv}", "--column", "label"], "is not numeric: row 2 has 'x0'"),
    (["--csv", "{csv}", "--column", "price"], "column 'price' not found"),
    (["--csv", "{csv}", "--column", "value", "--window", "500"],
     "--window 500 is not shorter than the series (160 values)"),
    (["--csv", "{csv}", "--column", "value", "--window", "155"], "need at least 10"),
    (["--csv", "{csv}"], "--csv needs --column"),
    (["--column", "value"], "--column only applies with --csv"),
    (["--resume", "--out", "{tmp}/nothing"], "nothing to resume"),
    (["--max-chars", "5000", "--out", "{csv}"], "cannot create the run directory"),
    (["--csv", "{csv}", "--column", "value", "--val-fraction", "0.95"], "--val-fraction"),
])
def test_train_bad_input_one_line_exit_2(capsys, tmp_path, series_csv, args, needle):
    args = [a.format(csv=series_csv, tmp=tmp_path) for a in args]
    code, _, err = run_cli(capsys, "train", "--out", str(tmp_path / "o"), *args)
    assert_one_line_error(code, err, needle)


def test_generate_bad_checkpoint(capsys, tmp_path):
    code, _, err = run_cli(capsys, "generate", str(tmp_path / "none"))
    assert_one_line_error(code, err, "checkpoint not found")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "generate", str(tmp_path / "empty"))
    assert_one_line_error(code, err, "not an `rnnkit train` run directory")


# ------------------------------------------------------------------------------------------
# tour and docs
# ------------------------------------------------------------------------------------------
def test_tour_runs_every_section(capsys, tour_process):
    from rnnkit.cli.tour import SECTIONS

    out, err = tour_process.communicate(timeout=600)
    assert tour_process.returncode == 0, err
    assert f"{len(SECTIONS)}/{len(SECTIONS)} sections ran" in out
    assert "Shape of rnn_layer: (1, 3, 64)" in out
    assert "Shape of bidirectional_rnn: (1, 3, 128)" in out
    # the broken snippets show rnnkit's errors, then the corrected code runs
    assert "rnnkit says: ValueError: StackedRNNCells expects RNN cells" in out
    assert "Use LSTMCell(64) instead" in out
    assert "return_state=True" in out and "layer.step()" in out
    assert "project the input to `units` first" in out
    assert "equals the full call: True" in out
    assert "last output == final state: True" in out
    assert "FAILED" not in out
    code, out, _ = run_cli(capsys, "tour", "--list")
    assert code == 0 and "custom_cell" in out
    code, _, err = run_cli(capsys, "tour", "--only", "nope")
    assert_one_line_error(code, err, "unknown tour section")


def _doc():
    return (REPO / "README.md").read_text()


def test_documented_commands_parse_and_explain_ones_run(capsys, tmp_path, monkeypatch):
    """Every `rnnkit ...` command in README.md parses; the explain/tour ones also run
    (train/generate ones are exercised with tiny sizes by the tests above; a foreign model
    file named in an explain command is a Keras 3 .h5 fixture copied under that name)."""
    import shlex
    import shutil

    monkeypatch.chdir(tmp_path)
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "interop" / \
        "k3h5_lstm_lstm_dense.h5"

    commands = re.findall(r"^(rnnkit [^\n#]*?)\s*(?:#.*)?$", _doc(), re.M)
    assert len(commands) >= 15
    parser = build_parser()
    for cmd in commands:
        argv = shlex.split(cmd)[1:]
        args = parser.parse_args(argv)
        assert args.command in ("explain", "train", "generate", "tour"), cmd
        if args.command == "explain" and not args.spec.startswith("runs/"):
            if args.spec.endswith((".h5", ".keras")):
                shutil.copy(fixture, tmp_path / args.spec)
            code, out, err = run_cli(capsys, *argv)
            assert code == 0 and "parameters" in out or '"params"' in out, (cmd, err)
        if args.command == "tour" and (args.list or args.only):
            code, out, err = run_cli(capsys, *argv)
            assert code == 0, (cmd, err)


def test_documented_python_quick_start_runs(capsys):
    block = re.search(r"## Library quick start\n\n```python\n(.*?)```", _doc(), re.S).group(1)
    ns = {}
    exec(compile(block, "README.md", "exec"), ns)  # noqa: S102 - our own documentation
    assert ns["e"].to_dict()["params"] == 17920
    assert ns["ids"].shape == (100,) and ns["y"].shape == (1, ns["V"])
