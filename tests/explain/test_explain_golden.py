"""`rnnkit.explain` gives Keras's parameter count for every golden layer case, and its
formula agrees with it."""

import pytest

import golden
import rnnkit

CASES = golden.list_cases(kinds="layer")


@pytest.mark.parametrize("name", CASES)
def test_explain_params_match_keras_count_params(name):
    cfg, _ = golden.load_case(name)
    layer = golden.build_object(cfg["spec"])
    info = rnnkit.explain(layer, tuple(cfg["build_input_shape"])).to_dict()
    assert info["params"] == cfg["count_params"]
    assert info["formula_value"] == cfg["count_params"], info["formula"]
