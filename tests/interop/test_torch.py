"""PyTorch nn.LSTM / nn.GRU / nn.RNN weights (saved by real torch 2.13) run in rnnkit with
torch's layouts and numbers; rnnkit layers go back to torch state dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from rnnkit.interop import from_torch, to_torch_state_dict
from interop_cases import CASES, FIXTURES, OUT_ATOL, cases

TORCH_CASES = cases("torch_state_dict")


def _load(name):
    files = CASES[name]["files"]
    state_dict = dict(np.load(FIXTURES / files["state_dict"], allow_pickle=False))
    ctor = json.loads((FIXTURES / files["ctor"]).read_text())
    with np.load(FIXTURES / files["io"], allow_pickle=False) as npz:
        io = {k: npz[k] for k in npz.files}
    return state_dict, ctor, io


@pytest.mark.parametrize("name", TORCH_CASES)
def test_torch_case(name, engine):
    state_dict, ctor, io = _load(name)
    m = from_torch(state_dict, **ctor)
    if "h0" in io:
        res = m(io["x"], (io["h0"], io["c0"]) if "c0" in io else io["h0"])
    else:
        res = m(io["x"])
    keys = ["output", "h_n"] + (["c_n"] if "c_n" in io else [])
    assert len(res) == len(keys)
    for got, key in zip(res, keys):
        np.testing.assert_allclose(np.asarray(got), io[key], rtol=0, atol=OUT_ATOL)
    # ... and back: the same keys and arrays (LSTM/RNN biases come back summed in bias_ih)
    back = to_torch_state_dict(m)
    assert list(back) == list(state_dict)
    for k, v in state_dict.items():
        if k.startswith("bias") and ctor["mode"] != "GRU":
            continue
        np.testing.assert_allclose(back[k], v, rtol=0, atol=1e-6)
    assert all(isinstance(layer, L.Layer) for layer in m.layers)


def test_keras_layers_are_reachable_and_reusable():
    state_dict, ctor, io = _load("pt_lstm_bf1_l1_uni")
    m = from_torch(state_dict, **ctor)
    (lstm,) = m.layers
    inp = rnnkit.Input(shape=(None, ctor["input_size"]))
    seq, h, c = lstm(inp)
    model = rnnkit.Model(inp, seq)
    np.testing.assert_allclose(model.predict(io["x"], verbose=0), io["output"],
                               atol=OUT_ATOL)


def test_round_trip_from_rnnkit_model(engine):
    inp = rnnkit.Input(shape=(7, 3))
    x = L.Bidirectional(L.GRU(4, return_sequences=True))(inp)
    x = L.Bidirectional(L.GRU(4, return_sequences=True))(x)
    model = rnnkit.Model(inp, x)
    sd = to_torch_state_dict(model)
    m = from_torch(sd, mode="GRU", input_size=3, hidden_size=4, num_layers=2,
                   batch_first=True, bidirectional=True)
    xs = np.random.default_rng(0).normal(size=(2, 7, 3)).astype(np.float32)
    out, h_n = m(xs)
    np.testing.assert_allclose(np.asarray(out), model.predict(xs, verbose=0), atol=1e-5)
    assert h_n.shape == (4, 2, 4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="LSTMX"), "not a torch recurrent layer"),
    (dict(mode="LSTM", proj_size=2), "proj_size"),
    (dict(mode="LSTM", num_layers=2), "missing keys"),
    (dict(mode="GRU"), "shape"),
    (dict(mode="RNN", nonlinearity="sigmoid"), "nonlinearity"),
])
def test_bad_torch_arguments(kwargs, match):
    state_dict, ctor, _ = _load("pt_lstm_bf1_l1_uni")
    args = dict(ctor, **kwargs)
    if kwargs.get("mode") == "RNN":
        state_dict, ctor, _ = _load("pt_rnn_bf1_l1_uni")
        args = dict(ctor, **kwargs)
    with pytest.raises(ValueError, match=match):
        from_torch(state_dict, **args)


def test_bad_state_dicts():
    state_dict, ctor, _ = _load("pt_lstm_bf1_l1_uni")
    extra = dict(state_dict, weight_ih_l1=state_dict["weight_ih_l0"])
    with pytest.raises(ValueError, match="unexpected keys \\['weight_ih_l1'\\]"):
        from_torch(extra, **ctor)
    bad = dict(state_dict, weight_hh_l0=state_dict["weight_hh_l0"][:, :2])
    with pytest.raises(ValueError, match="weight_hh_l0"):
        from_torch(bad, **ctor)
    with pytest.raises(TypeError):
        from_torch([1, 2], **ctor)


@pytest.mark.parametrize("layer, match", [
    (L.GRU(3, reset_after=False), "reset_after=False"),
    (L.LSTM(3, recurrent_activation="hard_sigmoid"), "hard_sigmoid"),
    (L.SimpleRNN(3, activation="sigmoid"), "nonlinearity"),
])
def test_impossible_conversions_say_why(layer, match):
    layer.build((None, 5, 2))
    with pytest.raises(ValueError, match=match):
        to_torch_state_dict(layer)


def test_masks_cannot_go_to_torch():
    inp = rnnkit.Input(shape=(5,), dtype="int32")
    model = rnnkit.Model(inp, L.LSTM(3)(L.Embedding(9, 2, mask_zero=True)(inp)))
    with pytest.raises(ValueError, match="pack_padded_sequence"):
        to_torch_state_dict(model)


def test_with_real_torch_modules():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for module in (torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
                   torch.nn.GRU(3, 4, bias=False), torch.nn.RNN(3, 4, nonlinearity="relu")):
        x = torch.randn(2, 5, 3)
        with torch.no_grad():
            expected = module(x)
        m = from_torch(module)  # the module itself
        res = m(x.numpy())
        np.testing.assert_allclose(np.asarray(res[0]), expected[0].numpy(), atol=1e-5)
        # rnnkit -> torch: the state dict loads into a fresh module, same outputs
        fresh = type(module)(3, 4, num_layers=module.num_layers, bias=module.bias,
                             batch_first=module.batch_first,
                             bidirectional=module.bidirectional,
                             **({"nonlinearity": module.nonlinearity}
                                if isinstance(module, torch.nn.RNN) else {}))
        fresh.load_state_dict({k: torch.from_numpy(v)
                               for k, v in to_torch_state_dict(m).items()})
        with torch.no_grad():
            again = fresh(x)
        np.testing.assert_allclose(again[0].numpy(), expected[0].numpy(), atol=1e-5)
