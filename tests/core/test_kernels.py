"""The cell-kind registry (rnnkit.core.kernels): specs, lookup errors, a minimal kind, and
the planner reading specs instead of kind names."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit.core import cells, engines, kernels, policy
from rnnkit.core.kernels import CellKernel, dense_weight_shapes, get_kernel


def test_builtin_kinds_are_registered_with_tuple_states():
    assert {"simple_rnn", "lstm", "gru", "gru_v1"} <= set(kernels.KERNELS)
    assert get_kernel("lstm").states == ("h", "c") and get_kernel("lstm").n_states == 2
    for kind in ("simple_rnn", "gru", "gru_v1"):
        assert get_kernel(kind).states == ("h",)
    assert get_kernel(get_kernel("gru")) is get_kernel("gru")


@pytest.mark.parametrize("layer,kw,kind", [
    ("SimpleRNN", {}, "simple_rnn"), ("LSTM", {}, "lstm"), ("GRU", {}, "gru"),
    ("GRU", dict(reset_after=False), "gru_v1"), ("LSTM", dict(use_bias=False), "lstm"),
])
def test_weight_shapes_and_param_count_match_the_layer(layer, kw, kind):
    lay = getattr(L, layer)(7, **kw)
    lay.build((2, 3, 5))
    spec = get_kernel(kind)
    use_bias = kw.get("use_bias", True)
    shapes = {k: v for k, v in spec.weight_shapes(5, 7, use_bias).items() if v is not None}
    assert [tuple(w.shape) for w in lay.get_weights()] == list(shapes.values())
    assert spec.param_count(5, 7, use_bias) == lay.count_params()


def test_unknown_kind_names_the_registered_ones():
    with pytest.raises(ValueError, match=r"Unknown cell kind 'lstmm'.*gru, gru_v1, .*lstm"):
        get_kernel("lstmm")
    with pytest.raises(ValueError, match="already registered"):
        kernels.register(dataclasses.replace(get_kernel("lstm")))
    with pytest.raises(TypeError, match="expects a CellKernel"):
        kernels.register("lstm")


def test_a_kind_with_only_the_required_fields():
    spec = CellKernel(kind="test_tanh_rnn", gates=1, states=("h",),
                      step=cells.simple_rnn_step, equations=("h' = tanh(x·W + h·U + b)",),
                      weight_shapes=dense_weight_shapes(1))
    assert spec.engines() == () and spec.param_count(2, 3) == 3 * (2 + 3 + 1)
    assert engines.available_engines(spec) == ()
    p = policy.plan(spec, 4, 5, 2, 3, act_kinds=("tanh",), engines=())
    assert p.engine == "xla" and not p.concat  # concat off: the spec does not ask for it
    with pytest.raises(ValueError, match="has no 'xla' sequence kernels"):
        spec.sequence_kernels("xla")


def test_plan_reads_gates_and_concat_from_the_spec():
    # the wide-step unroll needs gates >= 3: a 1-gate kind at the same width stays at 1
    wide = dict(batch=64, timesteps=50, input_dim=8, units=256)
    assert policy.plan("gru", **wide).infer_unroll == policy.INFER_UNROLL_WIDE
    assert policy.plan("simple_rnn", **wide).infer_unroll == 1
    fake = dataclasses.replace(get_kernel("simple_rnn"), kind="fake_wide", gates=3)
    assert policy.plan(fake, **wide).infer_unroll == policy.INFER_UNROLL_WIDE
    assert policy.plan("lstm", 2, 5, 3, 4).concat and not policy.plan("gru", 2, 5, 3, 4).concat


def test_native_is_planned_only_when_available_and_supported():
    lstm = get_kernel("lstm")
    both = ("xla", "native")
    assert policy.plan(lstm, 8, 5, 3, 4, act_kinds=("tanh", "sigmoid"),
                       engines=both).engine == "native"
    narrow = dataclasses.replace(lstm, native_activations=("tanh",))
    assert policy.plan(narrow, 8, 5, 3, 4, act_kinds=("tanh", "sigmoid"),
                       engines=both).engine == "xla"


def test_fused_state_is_a_tuple_for_every_kind():
    from rnnkit.core import fused
    from rnnkit.core.kernels.common import Act

    rng = np.random.default_rng(0)
    for kind, params in [("simple_rnn", cells.SimpleRNNParams), ("lstm", cells.LSTMParams)]:
        spec = get_kernel(kind)
        shapes = spec.weight_shapes(3, 4, False)
        p = params(*(None if s is None else jnp.asarray(rng.normal(size=s), jnp.float32)
                     for s in shapes.values()))
        state0 = tuple(jnp.zeros((2, 4)) for _ in spec.states)
        cfg = fused.SeqConfig(kind, Act(jnp.tanh), Act(jnp.tanh), True, policy.Plan())
        last, ys, final = fused.fused_rnn(cfg, p, jnp.ones((2, 5, 3)), state0)
        assert isinstance(final, tuple) and len(final) == spec.n_states
        np.testing.assert_allclose(last, final[0])
        assert ys.shape == (2, 5, 4)
