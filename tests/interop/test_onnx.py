"""ONNX export: recurrent layers become ONNX's LSTM/GRU/RNN operators (no Loop/Scan),
dynamic batch and time, masks as sequence_lens; onnxruntime equals predict to 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from interop_cases import CASES, FIXTURES, OUT_ATOL, cases, io_arrays

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(0)


def _run(model, path, xs):
    model.export(path, format="onnx", verbose=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})


def _check(model, tmp_path, *xs):
    got = _run(model, tmp_path / "m.onnx", list(xs))
    ref = model.predict(list(xs) if len(xs) > 1 else xs[0], verbose=0)
    ref = ref if isinstance(ref, (list, tuple)) else [ref]
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=0, atol=OUT_ATOL)
        assert np.ptp(r) > 1e-3  # a real comparison, not of constants
    return onnx.load(str(tmp_path / "m.onnx"))


def _ops(proto):
    return [n.op_type for n in proto.graph.node]


def _x(b, t, d):
    return RNG.normal(size=(b, t, d)).astype(np.float32)


def _seq(*layers, shape=(None, 3), dtype="float32"):
    inp = rnnkit.Input(shape=shape, dtype=dtype)
    x = inp
    for layer in layers:
        x = layer(x)
    return rnnkit.Model(inp, x)


@pytest.mark.parametrize("build, op", [
    (lambda: [L.LSTM(5), L.Dense(2)], "LSTM"),
    (lambda: [L.GRU(5, return_sequences=True), L.TimeDistributed(L.Dense(2))], "GRU"),
    (lambda: [L.GRU(4, reset_after=False)], "GRU"),
    (lambda: [L.SimpleRNN(4, activation="relu", return_sequences=True),
              L.LayerNormalization(), L.Dense(3, activation="softmax")], "RNN"),
    (lambda: [L.LSTM(4, recurrent_activation="hard_sigmoid", return_sequences=True),
              L.Dropout(0.3), L.LSTM(3, go_backwards=True)], "LSTM"),
    (lambda: [L.Bidirectional(L.LSTM(4, return_sequences=True)),
              L.Bidirectional(L.GRU(3), merge_mode="sum"), L.Activation("tanh")], "LSTM"),
    (lambda: [L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="ave"),
              L.Flatten()], "RNN"),
])
def test_export_matches_predict(build, op, tmp_path, engine):
    layers = build()
    flat = any(isinstance(layer, L.Flatten) for layer in layers)
    model = _seq(*layers, shape=(6 if flat else None, 3))
    proto = _check(model, tmp_path, _x(4, 6, 3))
    ops = _ops(proto)
    assert op in ops and "Loop" not in ops and "Scan" not in ops
    n_rnn = sum(o in ("LSTM", "GRU", "RNN") for o in ops)
    assert n_rnn == sum(isinstance(layer, (L.RNN, L.Bidirectional)) for layer in layers)
    for node in proto.graph.node:
        if node.op_type in ("LSTM", "GRU", "RNN"):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if attrs["direction"] == b"bidirectional":
                assert any(isinstance(layer, L.Bidirectional) for layer in layers)
            if node.op_type == "GRU":
                grus = [getattr(layer, "forward_layer", layer) for layer in layers]
                modes = {int(g.cell.reset_after) for g in grus if isinstance(g, L.GRU)}
                assert attrs["linear_before_reset"] in modes


def test_dynamic_batch_and_time(tmp_path):
    model = _seq(L.Bidirectional(L.LSTM(4)), L.Dense(2))
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    dims = sess.get_inputs()[0].shape
    assert isinstance(dims[0], str) and isinstance(dims[1], str) and dims[2] == 3
    for b, t in ((1, 2), (7, 11), (3, 40)):
        x = _x(b, t, 3)
        (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=OUT_ATOL)


def test_masks_become_sequence_lens(tmp_path, engine):
    inp = rnnkit.Input(shape=(None,), dtype="int32")
    x = L.Embedding(12, 4, mask_zero=True)(inp)
    x = L.Bidirectional(L.GRU(5, return_sequences=True, zero_output_for_mask=True))(x)
    x = L.LSTM(3)(x)
    model = rnnkit.Model(inp, L.Dense(2)(x))
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9], [9, 0, 0, 0, 0, 0],
                    [0, 0, 0, 5, 6, 7], [3, 0, 4, 0, 0, 8]], np.int32)  # post, pre, gaps
    proto = _check(model, tmp_path, ids)
    rnn_nodes = [n for n in proto.graph.node if n.op_type in ("GRU", "LSTM")]
    assert all(len(n.input) >= 5 and n.input[4] for n in rnn_nodes)  # sequence_lens set

    a = rnnkit.Input(shape=(None, 3))
    b = rnnkit.Input(shape=(4,))
    h = L.SimpleRNN(4)(L.Masking()(a))
    model = rnnkit.Model([a, b], [L.Add()([h, L.Dense(4)(b)]), L.Concatenate()([h, b]),
                                  L.Multiply()([h, L.Dense(4)(b)]),
                                  L.Subtract()([h, L.Dense(4)(b)]),
                                  L.Average()([h, L.Dense(4)(b)])])
    xa = _x(3, 5, 3)
    xa[0, 3:] = 0.0
    xa[2, 1:] = 0.0
    _check(model, tmp_path, xa, RNG.normal(size=(3, 4)).astype(np.float32))


def test_masks_onnx_cannot_express_are_errors(tmp_path):
    model = _seq(L.Embedding(9, 3, mask_zero=True), L.LSTM(3, return_sequences=True),
                 shape=(None,), dtype="int32")
    with pytest.raises(ValueError, match="padded steps"):
        model.export(tmp_path / "m.onnx", format="onnx")


def test_unsupported_layers_and_formats_are_clear_errors(tmp_path):
    model = _seq(L.LSTM(3, return_sequences=True), L.Reshape((-1,)))
    model.export(tmp_path / "ok.onnx", format="onnx", verbose=False)
    with pytest.raises(ValueError, match="format='onnx'"):
        model.export(tmp_path / "m", format="tf_saved_model")

    @rnnkit.layers.register
    class Twice(L.Layer):
        def call(self, x):
            return x * 2

    model = _seq(L.LSTM(3), Twice())
    with pytest.raises(ValueError, match="Twice"):
        model.export(tmp_path / "m.onnx", format="onnx")


@pytest.mark.parametrize("name", [n for n in cases("keras_file") if n.startswith("k3_")])
def test_keras_files_export_to_onnx(name, tmp_path):
    """Keras 3 file -> rnnkit -> ONNX -> onnxruntime equals what Keras computed."""
    case = CASES[name]
    arrays = io_arrays(name)
    model = rnnkit.models.load_model(FIXTURES / case["files"]["model"], compile=False)
    xs = [arrays[i["key"]] for i in case["inputs"]]
    got = _run(model, tmp_path / "m.onnx", xs)
    for g, spec in zip(got, case["outputs"]):
        np.testing.assert_allclose(g, arrays[spec["key"]], rtol=0, atol=OUT_ATOL)


@pytest.mark.parametrize("rnn", [
    lambda: L.LSTM(4, go_backwards=True, return_sequences=True),
    lambda: L.GRU(4, go_backwards=True, return_sequences=True, zero_output_for_mask=True),
    lambda: L.SimpleRNN(4, go_backwards=True, return_sequences=True, return_state=True),
])
def test_go_backwards_sequences_keep_keras_order(rnn, tmp_path):
    """Keras returns a go_backwards sequence in processing order (last step first)."""
    model = _seq(rnn())
    _check(model, tmp_path, _x(3, 7, 3))


def test_go_backwards_sequences_with_a_mask(tmp_path):
    inp = rnnkit.Input(shape=(None,), dtype="int32")
    x = L.Embedding(12, 4, mask_zero=True)(inp)
    x = L.GRU(5, go_backwards=True, return_sequences=True, zero_output_for_mask=True)(x)
    model = rnnkit.Model(inp, L.TimeDistributed(L.Dense(2))(x))
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9], [0, 0, 0, 5, 6, 7],
                    [3, 0, 4, 0, 0, 8]], np.int32)
    _check(model, tmp_path, ids)


def test_initial_state_from_model_tensors(tmp_path):
    a = rnnkit.Input(shape=(None, 3))
    s = rnnkit.Input(shape=(5,))
    h0, c0 = L.Dense(4, activation="tanh")(s), L.Dense(4)(s)
    y = L.LSTM(4, return_sequences=True)(a, initial_state=[h0, c0])
    g = L.GRU(4)(a, initial_state=L.Dense(4)(s))
    b = L.Bidirectional(L.SimpleRNN(4, return_state=True))(
        a, initial_state=[L.Dense(4)(s), L.Dense(4)(s)])
    model = rnnkit.Model([a, s], [y, g] + list(b))
    proto = _check(model, tmp_path, _x(3, 6, 3), RNG.normal(size=(3, 5)).astype(np.float32))
    lstm = [n for n in proto.graph.node if n.op_type == "LSTM"][0]
    assert len(lstm.input) >= 7 and lstm.input[5] and lstm.input[6]  # initial_h, initial_c
