"""rnnkit models against the Keras 3.15.1 golden data (kinds "model" and "train").

* ``model`` (categories ``model`` and ``masking_model``): ``predict`` (atol
  1e-5), ``count_params``, per-layer class names and parameter counts, weight
  shapes, ``summary()``.
* ``train``: set the initial weights, ``compile`` with the recorded optimizer
  spec and loss string, ``fit(x, target, **fit)``, then compare
  ``history["loss"]`` (rtol 1e-4, atol 1e-6) and ``get_weights()`` (rtol 1e-4,
  atol 1e-5).

All 14 train cases were recorded with ``shuffle=False`` (batch sizes 8, 2 and
6 with 8, 5 and 6 samples), so they are deterministic. A future case with
``shuffle=True`` and more than one batch per epoch could only match if
rnnkit's shuffle equals TensorFlow's; such cases are marked xfail below.
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit  # noqa: F401  (fail loudly, never skip, if the package is broken)

import golden

MODEL_CASES = golden.list_cases(kinds="model")
MASKING_MODEL_CASES = golden.list_cases(kinds="model", categories="masking_model")
TRAIN_CASES = golden.list_cases(kinds="train")


def _train_params():
    params = []
    for name in TRAIN_CASES:
        cfg, _ = golden.load_case(name)
        fit = cfg["fit"]
        marks = []
        if fit.get("shuffle") and fit["batch_size"] < cfg["n_samples"]:
            marks.append(pytest.mark.xfail(
                reason="recorded with shuffle=True over several batches: matches only if "
                       "rnnkit shuffles exactly like TensorFlow", strict=False))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def _model(cfg, arrays):
    model = golden.build_model(cfg["model"])
    model.set_weights(golden.case_weights(cfg, arrays))
    return model


def _check_layer_table(model, cfg):
    expected = cfg["layer_param_counts"]
    layers = list(model.layers)
    got = [(type(l).__name__, int(l.count_params())) for l in layers]
    want = [(e["class"], e["params"]) for e in expected]
    assert got == want, f"model.layers (class, params): {got} != Keras {want}"
    has_input = any(type(l).__name__ == "InputLayer" for l in layers)
    if cfg["model"]["model_type"] == "sequential":
        assert not has_input, "Sequential.layers must not list the InputLayer"
    else:
        assert type(layers[0]).__name__ == "InputLayer", \
            "functional Model.layers must start with its InputLayer"


@pytest.mark.parametrize("name", MODEL_CASES)
def test_model_structure(name):
    cfg, a = golden.load_case(name)
    model = _model(cfg, a)
    assert model.count_params() == cfg["count_params"]
    ws = model.get_weights()
    assert [list(np.shape(w)) for w in ws] == cfg["weight_shapes"]
    for i, (w, e) in enumerate(zip(ws, golden.case_weights(cfg, a))):
        np.testing.assert_array_equal(np.asarray(w), e, err_msg=f"model weights[{i}]")
    _check_layer_table(model, cfg)


@pytest.mark.parametrize("name", MODEL_CASES)
def test_model_predict(name):
    cfg, a = golden.load_case(name)
    model = _model(cfg, a)
    call = cfg["call"]
    assert call["method"] == "predict"
    y = model.predict(a[call["inputs"]])
    golden.assert_structure_close(y, a[call["outputs"]], atol=1e-5, path="predict")


def test_masking_model_cases_present():
    assert len(MASKING_MODEL_CASES) == 11
    for name in MASKING_MODEL_CASES:
        cfg, _ = golden.load_case(name)
        assert cfg["model"]["layers"][0]["__class__"] == "Masking"
        assert name in MODEL_CASES


@pytest.mark.parametrize("name", MODEL_CASES)
def test_model_summary_runs(name, capsys):
    cfg, a = golden.load_case(name)
    model = _model(cfg, a)
    model.summary()
    text = capsys.readouterr().out
    assert "Total params" in text and str(cfg["count_params"]) in text


@pytest.mark.parametrize("name", _train_params())
def test_train(name):
    cfg, a = golden.load_case(name)
    model = _model(cfg, a)
    optimizer = golden.build_object(cfg["compile"]["optimizer"])
    model.compile(optimizer=optimizer, loss=cfg["compile"]["loss"])
    history = model.fit(a["x"], a["target"], **cfg["fit"])
    loss = np.asarray(history.history["loss"], dtype=np.float64)
    assert loss.shape == a["loss_history"].shape, f"history['loss'] has {loss.shape[0]} epochs"
    np.testing.assert_allclose(loss, a["loss_history"].astype(np.float64),
                               rtol=1e-4, atol=1e-6, err_msg="loss_history")
    golden.assert_structure_close(model.get_weights(), golden.final_weights(cfg, a),
                                  atol=1e-5, rtol=1e-4, path="final_weights")


def test_train_cases_recorded_without_shuffle():
    """Documented finding: every train case uses shuffle=False, epochs=5, verbose=0."""
    for name in TRAIN_CASES:
        cfg, _ = golden.load_case(name)
        assert cfg["fit"]["shuffle"] is False
        assert cfg["fit"]["epochs"] == 5
