"""Hardening (issue 12, defect 3): `explain` of a stateful layer without a batch size says
that it needs a fixed batch size and how to give one; with one it explains the layer."""

import pytest

import rnnkit
from rnnkit.cli import main


def test_cli_explain_stateful_without_batch_size_is_one_clear_line(capsys):
    code = main(["explain", "LSTM(4, stateful=True)", "--input", "3,5"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert "stateful" in lines[0] and "fixed batch size" in lines[0]
    assert "--input BATCH,3,5" in lines[0] or "batch_shape" in lines[0]
    assert "NoneType" not in lines[0]


def test_cli_explain_stateful_with_batch_size_works(capsys):
    assert main(["explain", "LSTM(4, stateful=True)", "--input", "2,3,5", "--plain"]) == 0
    assert "LSTM" in capsys.readouterr().out


def test_python_explain_stateful_without_batch_size_raises_clearly():
    with pytest.raises((ValueError, TypeError), match=r"fixed batch size"):
        rnnkit.explain("LSTM(4, stateful=True)", input_shape=(None, 3, 5))
