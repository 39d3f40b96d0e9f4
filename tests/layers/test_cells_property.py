"""Property tests: rnnkit SimpleRNN / LSTM / GRU (and Bidirectional) vs the NumPy reference.

Random shapes, flags, weights, masks (at least one True per row) and initial
states; the reference (tests/reference/numpy_ref.py) is validated against Keras itself
in tests/reference/test_numpy_ref.py.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit

import golden
import numpy_ref as R

ATOL = 1e-5
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
N_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


def random_weights(rng, kind, D, H, use_bias, reset_after=True, scale=0.5):
    g = GATES[kind] * H
    ws = [rng.uniform(-scale, scale, (D, g)), rng.uniform(-scale, scale, (H, g))]
    if use_bias:
        if kind == "GRU" and reset_after:
            ws.append(rng.uniform(-scale, scale, (2, g)))
        else:
            ws.append(rng.uniform(-scale, scale, (g,)))
    return [w.astype(np.float32) for w in ws]


def random_mask(rng, batch, T):
    m = rng.random((batch, T)) < 0.7
    for b in range(batch):
        if not m[b].any():
            m[b, rng.integers(T)] = True
    return m


@st.composite
def rnn_configs(draw, kinds=("SimpleRNN", "LSTM", "GRU")):
    kind = draw(st.sampled_from(kinds))
    return dict(
        kind=kind,
        units=draw(st.integers(1, 5)),
        D=draw(st.integers(1, 4)),
        T=draw(st.integers(1, 6)),
        batch=draw(st.integers(1, 4)),
        use_bias=draw(st.booleans()),
        go_backwards=draw(st.booleans()),
        return_sequences=draw(st.booleans()),
        return_state=draw(st.booleans()),
        reset_after=draw(st.booleans()) if kind == "GRU" else True,
        use_mask=draw(st.booleans()),
        use_initial_state=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def _layer_kwargs(c):
    kw = dict(units=c["units"], use_bias=c["use_bias"], go_backwards=c["go_backwards"],
              return_sequences=c["return_sequences"], return_state=c["return_state"])
    if c["kind"] == "GRU":
        kw["reset_after"] = c["reset_after"]
    return kw


def _check_rnn(c):
    rng = np.random.default_rng(c["seed"])
    kind, H, D, T, B = c["kind"], c["units"], c["D"], c["T"], c["batch"]
    weights = random_weights(rng, kind, D, H, c["use_bias"], c["reset_after"])
    x = rng.uniform(-1, 1, (B, T, D)).astype(np.float32)
    mask = random_mask(rng, B, T) if c["use_mask"] else None
    init = ([rng.uniform(-0.5, 0.5, (B, H)).astype(np.float32) for _ in range(N_STATES[kind])]
            if c["use_initial_state"] else None)

    kw = _layer_kwargs(c)
    layer = getattr(rnnkit.layers, kind)(**kw)
    layer.build((B, T, D))
    layer.set_weights(weights)
    assert [tuple(np.shape(w)) for w in layer.get_weights()] == [w.shape for w in weights]
    assert layer.count_params() == sum(w.size for w in weights)

    call_kwargs = {}
    if mask is not None:
        call_kwargs["mask"] = mask
    if init is not None:
        call_kwargs["initial_state"] = init
    out = layer(x, **call_kwargs)

    ref_kw = {k: v for k, v in kw.items() if k != "units"}
    expected = R.rnn_layer_forward(kind, H, weights, x, initial_state=init, mask=mask, **ref_kw)
    golden.assert_structure_close(out, expected, atol=ATOL, path=f"{kind}{kw}")


@SETTINGS
@given(rnn_configs(("SimpleRNN",)))
def test_simple_rnn_matches_reference(c):
    _check_rnn(c)


@SETTINGS
@given(rnn_configs(("LSTM",)))
def test_lstm_matches_reference(c):
    _check_rnn(c)


@SETTINGS
@given(rnn_configs(("GRU",)))
def test_gru_matches_reference(c):
    _check_rnn(c)


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rnn_configs(), st.sampled_from(["concat", "sum", "mul", "ave", None]))
def test_bidirectional_matches_reference(c, merge_mode):
    rng = np.random.default_rng(c["seed"])
    kind, H, D, T, B = c["kind"], c["units"], c["D"], c["T"], c["batch"]
    wf = random_weights(rng, kind, D, H, c["use_bias"], c["reset_after"])
    wb = random_weights(rng, kind, D, H, c["use_bias"], c["reset_after"])
    x = rng.uniform(-1, 1, (B, T, D)).astype(np.float32)
    mask = random_mask(rng, B, T) if c["use_mask"] else None

    kw = _layer_kwargs(c)
    kw["go_backwards"] = False
    layer = rnnkit.layers.Bidirectional(getattr(rnnkit.layers, kind)(**kw), merge_mode=merge_mode)
    layer.build((B, T, D))
    layer.set_weights(wf + wb)
    assert layer.count_params() == sum(w.size for w in wf + wb)
    out = layer(x, mask=mask) if mask is not None else layer(x)

    cell_kw = {"use_bias": c["use_bias"]}
    if kind == "GRU":
        cell_kw["reset_after"] = c["reset_after"]
    expected = R.bidirectional_forward(
        dict(kind=kind, units=H, weights=wf, **cell_kw),
        dict(kind=kind, units=H, weights=wb, go_backwards=True, **cell_kw),
        x, merge_mode=merge_mode, mask=mask,
        return_sequences=c["return_sequences"], return_state=c["return_state"])
    golden.assert_structure_close(out, expected, atol=ATOL, path=f"Bidirectional({kind}{kw})")


def test_reference_self_check():
    """The helpers used above are consistent (runs without rnnkit's layers)."""
    rng = np.random.default_rng(0)
    for kind in GATES:
        for ra in (True, False):
            ws = random_weights(rng, kind, 3, 2, True, ra)
            x = rng.uniform(-1, 1, (2, 4, 3))
            out = R.rnn_layer_forward(kind, 2, ws, x, reset_after=ra, return_state=True)
            assert len(out) == 1 + N_STATES[kind]
