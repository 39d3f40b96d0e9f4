"""Models saved by real Keras 3.15.1 and tf_keras 2.21 (.keras and .h5) load with
`rnnkit.models.load_model`, predict what Keras predicted and hold Keras's weights."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile

import numpy as np
import pytest

import rnnkit
from interop_cases import CASES, FIXTURES, OUT_ATOL, WEIGHT_ATOL, cases, io_arrays

pytest.importorskip("h5py")

KERAS_CASES = cases("keras_file")


def _inputs(name, arrays):
    xs = [arrays[i["key"]] for i in CASES[name]["inputs"]]
    return xs[0] if len(xs) == 1 else xs


@pytest.mark.parametrize("name", KERAS_CASES)
def test_keras_file_predicts_like_keras(name, engine):
    case = CASES[name]
    arrays = io_arrays(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a supported file loads without warnings
        model = rnnkit.models.load_model(FIXTURES / case["files"]["model"])
    out = model.predict(_inputs(name, arrays), verbose=0)
    outs = out if isinstance(out, (list, tuple)) else [out]
    assert len(outs) == len(case["outputs"])
    for got, spec in zip(outs, case["outputs"]):
        np.testing.assert_allclose(got, arrays[spec["key"]], rtol=0, atol=OUT_ATOL)
    weights = model.get_weights()
    assert [list(w.shape) for w in weights] == case["weight_shapes"]
    for i, w in enumerate(weights):
        np.testing.assert_allclose(w, arrays[f"weights_{i}"], rtol=0, atol=WEIGHT_ATOL)
    assert model.count_params() == case["count_params"]


@pytest.mark.parametrize("name", [n for n in KERAS_CASES
                                  if CASES[n]["compiled_and_trained_one_step"]])
def test_compiled_keras_file_restores_compile_config(name):
    model = rnnkit.models.load_model(FIXTURES / CASES[name]["files"]["model"])
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert abs(float(model.optimizer.learning_rate) - 0.01) < 1e-6
    arrays = io_arrays(name)
    x = _inputs(name, arrays)
    y = model.predict(x, verbose=0)
    model.fit(x, y, epochs=1, verbose=0)  # trains with the file's loss and optimizer
    model = rnnkit.models.load_model(FIXTURES / CASES[name]["files"]["model"], compile=False)
    assert not model.compiled


def test_keras2_hard_sigmoid_uses_the_keras2_formula():
    from rnnkit.io import keras_config

    spec = {"class_name": "LSTM", "config": {"units": 2, "recurrent_activation":
                                             "hard_sigmoid", "time_major": False,
                                             "implementation": 1}}
    k2 = keras_config.translate(spec, "keras2", "'f.h5'")
    k3 = keras_config.translate(spec, "keras3", "'f.keras'")
    assert k2["config"]["recurrent_activation"] == "keras2_hard_sigmoid"
    assert k3["config"]["recurrent_activation"] == "hard_sigmoid"
    assert "time_major" not in k2["config"] and "implementation" not in k2["config"]
    x = np.linspace(-4, 4, 9, dtype=np.float32)
    got = np.asarray(rnnkit.activations.get("keras2_hard_sigmoid")(x))
    np.testing.assert_allclose(got, np.clip(0.2 * x + 0.5, 0, 1), atol=1e-7)
    with pytest.raises(ValueError, match="time_major=True"):
        keras_config.translate({"class_name": "GRU", "config": {"units": 2,
                                                                "time_major": True}},
                               "keras2", "'f.h5'")


def _rewrite_keras_zip(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json":
                cfg = json.loads(data)
                change(cfg)
                data = json.dumps(cfg).encode()
            zout.writestr(item, data)


def test_unknown_keras_layer_names_it_and_the_file(tmp_path):
    src = FIXTURES / "k3_simplernn_dense.keras"
    dst = tmp_path / "custom.keras"

    def change(cfg):
        cfg["config"]["layers"][1]["class_name"] = "MyAttention"
        cfg["config"]["layers"][1]["module"] = "os"

    _rewrite_keras_zip(src, dst, change)
    with pytest.raises(ValueError) as err:
        rnnkit.models.load_model(dst)
    msg = str(err.value)
    assert "MyAttention" in msg and str(dst) in msg


def test_truncated_and_corrupted_keras_files(tmp_path):
    for name in ("k3_lstm_lstm_dense.keras", "k2h5_simplernn_dense.h5"):
        data = (FIXTURES / name).read_bytes()
        for cut in (22, 100, len(data) // 2):
            bad = tmp_path / f"cut{cut}_{name}"
            bad.write_bytes(data[: len(data) - cut])
            with pytest.raises(ValueError, match="truncated or corrupted"):
                rnnkit.models.load_model(bad)


def test_hdf5_that_is_not_a_keras_model(tmp_path):
    import h5py

    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a Keras model file"):
        rnnkit.models.load_model(path)
    weights_only = tmp_path / "w.h5"
    shutil.copy(FIXTURES / "k2h5_simplernn_dense.h5", weights_only)
    with h5py.File(weights_only, "a") as f:
        layer_names = f["model_weights"].attrs["layer_names"]
        del f.attrs["model_config"]
        f.attrs["layer_names"] = layer_names
    with pytest.raises(ValueError, match="weights-only"):
        rnnkit.models.load_model(weights_only)


def test_loaded_keras_model_saves_as_rnnkit_and_reloads(tmp_path):
    model = rnnkit.models.load_model(FIXTURES / "k2h5_embed_mask_gru_softmax.h5")
    model.save(tmp_path / "m.rnnkit")
    again = rnnkit.models.load_model(tmp_path / "m.rnnkit")
    arrays = io_arrays("k2h5_embed_mask_gru_softmax")
    x = _inputs("k2h5_embed_mask_gru_softmax", arrays)
    np.testing.assert_allclose(again.predict(x, verbose=0), arrays["y_0"], atol=OUT_ATOL)
