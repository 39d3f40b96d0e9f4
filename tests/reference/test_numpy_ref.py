"""Validate the NumPy reference (tests/reference/numpy_ref.py) against the Keras golden data.

Needs only NumPy: no rnnkit, no Keras. Besides checking the reference, the
``test_keras_semantics_*`` tests pin down Keras behaviours the golden data
proves, and check that the obvious alternative readings are *rejected* by the
data (so the statements are evidence, not assumptions).
"""

from __future__ import annotations

import numpy as np
import pytest

import golden
import numpy_ref as R
import numpy_ref_conv as RC

ATOL = 1e-5
RNN_CLASSES = ("SimpleRNN", "LSTM", "GRU")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def assert_structure_close(actual, expected, path="out", atol=ATOL):
    golden.assert_structure_close(actual, expected, atol=atol, path=path)


def run_ref_case(name, **ref_kwargs):
    """Run a golden ``layer`` case through the reference; return list of (out, expected)."""
    cfg, a = golden.load_case(name)
    layer = RC.ref_layer_from_spec(cfg["spec"], **ref_kwargs)
    layer.set_weights(golden.case_weights(cfg, a))
    results = []
    for call in cfg["calls"]:
        if call["reset_states_before"]:
            layer.reset_states()
        init = golden.resolve_structure(call["initial_state"], a)
        mask = a[call["mask"]] if call["mask"] is not None else None
        out = layer(a[call["inputs"]], initial_state=init, mask=mask)
        results.append((out, golden.resolve_structure(call["outputs"], a)))
    return results


def max_err(results):
    errs = []

    def walk(o, e):
        if isinstance(e, list):
            if not isinstance(o, list) or len(o) != len(e):
                errs.append(np.inf)
                return
            for oo, ee in zip(o, e):
                walk(oo, ee)
        else:
            o = np.asarray(o)
            errs.append(np.inf if o.shape != e.shape else float(np.max(np.abs(o - e))))

    for o, e in results:
        walk(o, e)
    return max(errs)


def _simple_cases():
    out = []
    for name in golden.list_cases(kinds="layer", categories=("basic", "mask", "initial_state")):
        cfg, _ = golden.load_case(name)
        if cfg["spec"]["__class__"] in RNN_CLASSES:
            out.append(name)
    return out


SIMPLE_CASES = _simple_cases()
LAYER_CASES = golden.list_cases(kinds="layer")
MODEL_CASES = golden.list_cases(kinds="model")


# --------------------------------------------------------------------------
# fixtures are complete
# --------------------------------------------------------------------------

def test_fixture_index_complete():
    idx = golden.index()
    assert idx["keras_version"] == "3.15.1"
    assert idx["n_cases"] == len(idx["cases"]) == 231
    counts = {}
    for c in idx["cases"]:
        assert (golden.GOLDEN_DIR / c["file"]).is_file(), c["file"]
        counts[c["category"]] = counts.get(c["category"], 0) + 1
    assert counts == idx["counts"]
    assert (golden.GOLDEN_DIR / "README.md").is_file()


@pytest.mark.parametrize("name", [c["name"] for c in golden.index()["cases"]])
def test_fixture_case_consistent(name):
    cfg, a = golden.load_case(name)
    assert cfg["name"] == name
    assert str(a["keras_version"]) == "3.15.1"
    ws = golden.case_weights(cfg, a)
    assert [list(w.shape) for w in ws] == cfg["weight_shapes"]
    assert sum(int(w.size) for w in ws) == cfg["count_params"]
    if cfg["kind"] == "train":
        fws = golden.final_weights(cfg, a)
        assert [list(w.shape) for w in fws] == cfg["weight_shapes"]
        assert a["loss_history"].shape == (cfg["fit"]["epochs"],)
    if cfg["kind"] == "layer":
        # outputs are numbered y_0.. depth-first across calls
        keys = [k for call in cfg["calls"] for k in golden.flatten_keys(call["outputs"])]
        assert keys == [f"y_{i}" for i in range(len(keys))]


def test_case_filters():
    assert len(SIMPLE_CASES) == 82  # 46 basic + 13 initial_state + 23 mask
    assert len(golden.list_cases(kinds="train")) == 14
    assert len(golden.list_cases(categories="masking_model")) == 11
    assert set(golden.list_cases(kinds="model")) >= set(golden.list_cases(categories="masking_model"))


# --------------------------------------------------------------------------
# the reference reproduces Keras
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", SIMPLE_CASES)
def test_simple_layer_case(name):
    """Plain SimpleRNN / LSTM / GRU cases through the functional API of numpy_ref."""
    cfg, a = golden.load_case(name)
    (call,) = cfg["calls"]
    kw = dict(cfg["spec"]["kwargs"])
    cls = cfg["spec"]["__class__"]
    units = kw.pop("units")
    init = golden.resolve_structure(call["initial_state"], a)
    mask = a[call["mask"]] if call["mask"] is not None else None
    out = R.rnn_layer_forward(cls, units, golden.case_weights(cfg, a), a[call["inputs"]],
                              initial_state=init, mask=mask, **kw)
    assert_structure_close(out, golden.resolve_structure(call["outputs"], a))


@pytest.mark.parametrize("name", LAYER_CASES)
def test_layer_case(name):
    """Every layer case (cells, stacked, stateful, Bidirectional, dropout, regularizers)."""
    cfg, a = golden.load_case(name)
    for i, (out, exp) in enumerate(run_ref_case(name)):
        assert_structure_close(out, exp, path=f"call{i}")
    if cfg.get("regularization_losses"):
        losses = R.regularization_losses(cfg["spec"], golden.case_weights(cfg, a))
        np.testing.assert_allclose(losses, a["reg_losses"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(sum(losses), a["reg_loss_sum"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODEL_CASES)
def test_model_case(name):
    cfg, a = golden.load_case(name)
    y = R.model_forward(cfg["model"], golden.case_weights(cfg, a), a["x"])
    assert_structure_close(y, a[cfg["call"]["outputs"]])


def _direction_cfg(spec, weights, go_backwards):
    kw = dict(spec["kwargs"])
    if spec["__class__"] == "RNN":
        cell = kw.pop("cell")
        kind = cell["__class__"]
        kw.update(cell["kwargs"])
    else:
        kind = spec["__class__"]
    if go_backwards is not None:
        kw["go_backwards"] = go_backwards
    for k in ("return_sequences", "return_state"):
        kw.pop(k, None)
    units = kw.pop("units")
    return dict(kind=kind, units=units, weights=weights, **kw)


@pytest.mark.parametrize("name", golden.list_cases(kinds="layer", layers="Bidirectional"))
def test_bidirectional_forward_function(name):
    """The functional ``bidirectional_forward`` (used by property tests) on golden cases."""
    cfg, a = golden.load_case(name)
    (call,) = cfg["calls"]
    kw = cfg["spec"]["kwargs"]
    layer = kw["layer"]
    ws = golden.case_weights(cfg, a)
    nf = 3 if layer["kwargs"].get("use_bias", True) else 2
    fwd = _direction_cfg(layer, ws[:nf], None)
    if kw.get("backward_layer"):
        bwd = _direction_cfg(kw["backward_layer"], ws[nf:], None)
    else:
        bwd = _direction_cfg(layer, ws[nf:], True)
    out = R.bidirectional_forward(
        fwd, bwd, a[call["inputs"]], merge_mode=kw.get("merge_mode", "concat"),
        mask=a[call["mask"]] if call["mask"] else None,
        initial_state=golden.resolve_structure(call["initial_state"], a),
        return_sequences=layer["kwargs"].get("return_sequences", False),
        return_state=layer["kwargs"].get("return_state", False))
    assert_structure_close(out, golden.resolve_structure(call["outputs"], a))


# --------------------------------------------------------------------------
# Keras semantics proven by the data
# --------------------------------------------------------------------------

def test_keras_semantics_go_backwards_sequence_not_flipped():
    """go_backwards + return_sequences: sequence is in processing order."""
    cfg, a = golden.load_case("simplernn_go_backwards_seq")
    W, U, b = golden.case_weights(cfg, a)
    x = a["x"].astype(np.float64)
    h_first = np.tanh(x[:, -1] @ W + b)  # first processed step sees x[:, T-1]
    np.testing.assert_allclose(a["y_0"][:, 0], h_first, atol=ATOL)
    np.testing.assert_allclose(a["y_0"][:, -1], a["y_1"], atol=ATOL)  # last = final state


def test_keras_semantics_masked_output_before_first_valid_step_is_zero():
    """A masked step repeats the previous *output*, which starts at zeros
    (not at the initial state) -- even when initial_state is given."""
    cfg, a = golden.load_case("lstm_mask_initial_state")
    m = a["mask"]
    assert not m[2, 0] and not m[2, 1]
    np.testing.assert_array_equal(a["y_0"][2, :2], 0.0)
    assert np.abs(a["initial_state_0"][2]).max() > 0.01
    # repeating the previous output on gaps
    row = 3
    for t in range(1, m.shape[1]):
        if not m[row, t] and m[row, :t].any():
            np.testing.assert_array_equal(a["y_0"][row, t], a["y_0"][row, t - 1])


def test_keras_semantics_fully_masked_row():
    """All-False mask row: outputs are zeros, returned states == initial states."""
    cfg, a = golden.load_case("lstm_mask_all_false_row")
    assert not a["mask"][3].any()
    np.testing.assert_array_equal(a["y_0"][3], 0.0)
    np.testing.assert_array_equal(a["y_1"][3], a["initial_state_0"][3])
    np.testing.assert_array_equal(a["y_2"][3], a["initial_state_1"][3])


def test_keras_semantics_zero_output_for_mask_default_false():
    """RNN/LSTM/GRU default zero_output_for_mask=False: gaps repeat the previous output."""
    cfg, a = golden.load_case("simplernn_mask_seq")
    assert "zero_output_for_mask" not in cfg["spec"]["kwargs"]
    m, y = a["mask"], a["y_0"]
    assert not m[1, 3]
    np.testing.assert_array_equal(y[1, 3], y[1, 2])
    assert np.abs(y[1, 3]).max() > 0.01
    # and with zero_output_for_mask=True the last output of a row whose last step
    # is masked is zero while the returned state is carried
    cfg, a = golden.load_case("rnn_lstmcell_zero_output_for_mask_last")
    assert not a["mask"][1, -1]
    np.testing.assert_array_equal(a["y_0"][1], 0.0)
    assert np.abs(a["y_1"][1]).max() > 0.01


def test_keras_semantics_hard_sigmoid_is_keras3():
    """hard_sigmoid = clip(x/6 + 0.5, 0, 1) (Keras 3), not 0.2x+0.5 (Keras 2)."""
    assert max_err(run_ref_case("lstm_hard_sigmoid")) < ATOL
    saved = R.ACTIVATIONS["hard_sigmoid"]
    try:
        R.ACTIVATIONS["hard_sigmoid"] = lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0)
        for name in ("lstm_hard_sigmoid", "gru_hard_sigmoid", "gru_reset_before_hard_sigmoid"):
            assert max_err(run_ref_case(name)) > 1e-2, name
    finally:
        R.ACTIVATIONS["hard_sigmoid"] = saved


@pytest.mark.parametrize("name", ["bidir_simplernn_mask_seq", "bidir_lstm_mask_seq", "bidir_gru_mask_seq"])
def test_keras_semantics_bidirectional_forces_zero_output_for_mask(name):
    """Bidirectional sets zero_output_for_mask = return_sequences on both sub-layers."""
    assert max_err(run_ref_case(name)) < ATOL
    assert max_err(run_ref_case(name, force_zero_output_for_mask=False)) > 1e-2


@pytest.mark.parametrize("name", ["bidir_simplernn_mask_last", "bidir_lstm_mask_last", "bidir_gru_mask_last"])
def test_keras_semantics_bidirectional_last_without_zero_output(name):
    """With return_sequences=False the flag is False: the backward last output
    (processed step t=0, masked in some rows) repeats the previous output."""
    assert max_err(run_ref_case(name)) < ATOL

    class ZeroOut(R.RefBidirectional):
        def __call__(self, x, initial_state=None, mask=None):
            yf, *sf = self.forward(x, mask=mask, zero_output_for_mask=True)
            yb, *sb = self.backward(x, mask=mask, zero_output_for_mask=True)
            return [R._MERGES[self.merge_mode](yf, yb), *sf, *sb]

    cfg, a = golden.load_case(name)
    lay = ZeroOut(cfg["spec"])
    lay.set_weights(golden.case_weights(cfg, a))
    out = lay(a["x"], mask=a["mask"])
    assert np.abs(out[0] - a["y_0"]).max() > 1e-2


def test_keras_semantics_bidirectional_layout():
    """Output order [merged, *fwd_states, *bwd_states]; backward sequence flipped back;
    initial_state split in halves (forward first)."""
    cfg, a = golden.load_case("bidir_lstm_none_state_seq")
    assert cfg["calls"][0]["outputs"] == ["y_0", "y_1", "y_2", "y_3", "y_4", "y_5"]
    # y_1 is the backward sequence in *input* order: its t=0 element is the
    # backward layer's final output == its final h state (y_4)
    np.testing.assert_allclose(a["y_1"][:, 0], a["y_4"], atol=ATOL)
    np.testing.assert_allclose(a["y_0"][:, -1], a["y_2"], atol=ATOL)
    cfg, a = golden.load_case("bidir_lstm_initial_state")
    assert cfg["calls"][0]["initial_state"] == [f"initial_state_{i}" for i in range(4)]
    assert max_err(run_ref_case("bidir_lstm_initial_state")) < ATOL


def test_keras_semantics_weights_exclude_states_and_seeds():
    """Stateful states and dropout SeedGenerator states are not in get_weights()
    nor in count_params()."""
    for name in golden.list_cases(categories=("stateful", "dropout_inference")):
        cfg, _ = golden.load_case(name)
        n_cells = 2 if cfg["spec"]["__class__"] == "Bidirectional" else 1
        assert cfg["n_weights"] == 3 * n_cells, name
    cfg, _ = golden.load_case("model_lstm_dropout_dense")
    assert cfg["n_weights"] == 5 and cfg["count_params"] == 254


def test_train_cases_fit_settings():
    """All train cases use shuffle=False, 5 epochs, verbose=0."""
    seen = set()
    for name in golden.list_cases(kinds="train"):
        cfg, a = golden.load_case(name)
        fit = cfg["fit"]
        assert fit["shuffle"] is False, name
        assert fit["epochs"] == 5 and fit["verbose"] == 0, name
        assert a["x"].shape[0] == a["target"].shape[0] == cfg["n_samples"]
        seen.add((fit["batch_size"], cfg["n_samples"]))
    assert seen == {(8, 8), (2, 5), (6, 6)}


def test_structure_helper_rejects_mismatch():
    e = [np.zeros((2, 3)), [np.zeros((2, 3)), np.zeros((2, 3))]]
    assert_structure_close([np.zeros((2, 3)), [np.zeros((2, 3)), np.zeros((2, 3))]], e)
    with pytest.raises(AssertionError, match=r"out\[1\]"):
        assert_structure_close([np.zeros((2, 3)), np.zeros((2, 3))], e)
    with pytest.raises(AssertionError, match="expected a single array"):
        assert_structure_close([np.zeros(1)], np.zeros(1))
