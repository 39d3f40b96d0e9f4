"""`rnnkit.explain` on spec strings and file paths: the file-or-spec decision never raises
(issue 12, defect 1: specs over 255 characters failed with ENAMETOOLONG)."""

import json

import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.explain import SpecError

LONG_SPEC = ("LSTM(64, return_sequences=True, kernel_regularizer=l2(0.01), "
             "recurrent_regularizer=l1_l2(l1=0.001, l2=0.002), bias_regularizer=l2(0.003), "
             "activity_regularizer=l1(0.0001), kernel_initializer='glorot_uniform', "
             "recurrent_initializer='orthogonal', bias_initializer='zeros', "
             "unit_forget_bias=True, dropout=0.1, recurrent_dropout=0.1, name='long_spec_lstm')")


def test_long_spec_is_parsed_not_taken_for_a_file_name():
    assert len(LONG_SPEC) > 255
    info = rnnkit.explain(LONG_SPEC, (1, 3, 5)).to_dict()
    assert info["class_name"] == "LSTM" and info["name"] == "long_spec_lstm"
    assert info["params"] == 4 * 64 * (5 + 64) + 4 * 64 == info["formula_value"]
    assert {a["name"] for a in info["arguments"]} >= {"recurrent_regularizer", "dropout"}


def test_long_spec_on_the_command_line(capsys):
    code = main(["explain", LONG_SPEC, "--input", "1,3,5", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["params"] == 17920


@pytest.mark.parametrize("text", [
    "x" * 300,                       # one path component over NAME_MAX
    "runs/" + "y" * 300 + ".rnnkit",  # a long file name inside a directory
    "/".join(["d" * 200] * 30),       # over PATH_MAX
    "model\0.rnnkit",                 # a NUL byte: os.stat raises ValueError
    "LSTM(4" + ", dropout=0.0" * 400 + ")",  # about 5,000 characters
], ids=["long-name", "long-file-name", "over-path-max", "nul-byte", "5000-chars"])
def test_file_or_spec_decision_never_raises_os_errors(text):
    with pytest.raises(SpecError) as info:
        rnnkit.explain(text)
    message = str(info.value)
    assert "\n" not in message
    if len(text) > 255:
        assert text not in message, "a long spec or path is shortened, not echoed back whole"


def test_long_bad_spec_error_is_one_short_line(capsys):
    code = main(["explain", LONG_SPEC[:-1]])  # the closing parenthesis is missing
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and "cannot parse" in err and len(err) < 400
