"""rnnkit layers against the Keras 3.15.1 golden data (kind == "layer").

For every case: build the layer from its spec, ``build(build_input_shape)``,
``set_weights(weights_*)``, check weight shapes / ``count_params`` exactly,
then replay the recorded calls in order and compare the returned structure
(exact nesting) and values (atol 1e-5).
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit  # noqa: F401  (fail loudly, never skip, if the package is broken)

import golden

LAYER_CASES = golden.list_cases(kinds="layer")
ATOL = 1e-5


def _build_layer(cfg, arrays):
    layer = golden.build_object(cfg["spec"])
    layer.build(tuple(cfg["build_input_shape"]))
    layer.set_weights(golden.case_weights(cfg, arrays))
    return layer


def _call_kwargs(call, arrays):
    kwargs = {}
    if call["initial_state"] is not None:
        kwargs["initial_state"] = golden.resolve_structure(call["initial_state"], arrays)
    if call["mask"] is not None:
        kwargs["mask"] = arrays[call["mask"]]
    if call["training"] is not None:
        kwargs["training"] = call["training"]
    return kwargs


@pytest.mark.parametrize("name", LAYER_CASES)
def test_layer_weights_and_params(name):
    cfg, a = golden.load_case(name)
    layer = _build_layer(cfg, a)
    got = layer.get_weights()
    assert isinstance(got, list), f"get_weights() returned {type(got).__name__}, not list"
    assert [list(np.shape(w)) for w in got] == cfg["weight_shapes"]
    for i, (w, e) in enumerate(zip(got, golden.case_weights(cfg, a))):
        np.testing.assert_array_equal(np.asarray(w), e, err_msg=f"weights[{i}] after set_weights")
    assert layer.count_params() == cfg["count_params"]


@pytest.mark.parametrize("name", LAYER_CASES)
def test_layer_outputs(name):
    cfg, a = golden.load_case(name)
    layer = _build_layer(cfg, a)
    for i, call in enumerate(cfg["calls"]):
        if call["reset_states_before"]:
            layer.reset_states()
        out = layer(a[call["inputs"]], **_call_kwargs(call, a))
        expected = golden.resolve_structure(call["outputs"], a)
        golden.assert_structure_close(out, expected, atol=ATOL, path=f"calls[{i}].outputs")


@pytest.mark.parametrize("name", LAYER_CASES)
def test_layer_outputs_on_the_xla_engine(name):
    """The same cases with the native CPU loops off: rnnkit's fused XLA kernels (the engine
    on GPU, on CPUs without AVX-512 and for other activations) must match Keras too."""
    from rnnkit import config

    config.set_native_kernels(False)
    try:
        test_layer_outputs(name)
    finally:
        config.set_native_kernels(True)


@pytest.mark.parametrize("name", golden.list_cases(kinds="layer", categories="regularizers"))
def test_layer_regularization_losses(name):
    cfg, a = golden.load_case(name)
    assert cfg["regularization_losses"]
    layer = _build_layer(cfg, a)
    losses = [float(v) for v in layer.losses]
    np.testing.assert_allclose(losses, a["reg_losses"].astype(np.float64), atol=1e-5, rtol=1e-5,
                               err_msg="layer.losses (order: kernel, recurrent, bias; cell by cell)")
    np.testing.assert_allclose(float(sum(layer.losses)), float(a["reg_loss_sum"]),
                               atol=1e-5, rtol=1e-5)
    # losses do not change by running the layer
    (call,) = cfg["calls"]
    layer(a[call["inputs"]], **_call_kwargs(call, a))
    np.testing.assert_allclose([float(v) for v in layer.losses], losses, rtol=1e-6, atol=0)


def test_regularization_cases_are_listed():
    regs = [n for n in LAYER_CASES if golden.load_case(n)[0].get("regularization_losses")]
    assert regs == golden.list_cases(kinds="layer", categories="regularizers")


@pytest.mark.parametrize("name", golden.list_cases(kinds="layer", categories="stateful"))
def test_stateful_reset_reproduces_first_call(name):
    """After reset_states() the third call equals the first one (Keras: exactly)."""
    cfg, a = golden.load_case(name)
    layer = _build_layer(cfg, a)
    outs = []
    for call in cfg["calls"]:
        if call["reset_states_before"]:
            layer.reset_states()
        outs.append(layer(a[call["inputs"]], **_call_kwargs(call, a)))
    first = golden.resolve_structure(cfg["calls"][0]["outputs"], a)
    golden.assert_structure_close(outs[2], first, atol=ATOL, path="calls[2] vs calls[0]")
    # and the second call really continued from the first one's state
    assert cfg["calls"][1]["inputs"] == "x_1"
