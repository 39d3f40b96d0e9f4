"""`rnnkit explain` describes ConvLSTM layers: convolution equations and the parameter
formula 4F·(k·C + k·F + 1), checked against the built layer's count."""

import rnnkit


def test_explain_conv_lstm2d_formula_shapes_and_equations():
    info = rnnkit.explain("ConvLSTM2D(32, (3,3))", input_shape=(8, 10, 32, 32, 8)).to_dict()
    assert info["params"] == info["formula_value"] == 4 * 32 * (9 * 8 + 9 * 32 + 1) == 46208
    assert info["variables"] == {"k": 9, "C": 8, "F": 32}
    assert info["outputs"][0]["shape"] == [8, 30, 30, 32]
    assert info["states"][1] == {"name": "c", "shape": [8, 30, 30, 32]}
    assert any("* = convolution" in line for line in info["equations"])


def test_explain_conv_lstm1d_without_bias_and_default_input():
    info = rnnkit.explain("ConvLSTM1D(4, 3, use_bias=False, return_state=True)").to_dict()
    assert info["formula"] == "4*F*(k*C+k*F)"
    assert info["params"] == info["formula_value"] == 4 * 4 * (3 * 3 + 3 * 4)
    assert [o["name"] for o in info["outputs"]] == ["output", "h", "c"]
