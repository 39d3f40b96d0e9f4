"""A Keras 3 `.keras` file's optimizer state (moments, step count, learning rate) is
restored, so training continues exactly where Keras stopped. Fixtures:
`tools/make_optimizer_fixtures.py` (Keras trained 2 epochs, saved, then 1 more epoch)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rnnkit

pytest.importorskip("h5py")
HERE = Path(__file__).resolve().parents[1] / "fixtures" / "keras_optimizer"
NAMES = sorted(p.stem for p in HERE.glob("*.keras"))


def _continue(model, z):
    model.fit(z["x"], z["y"], batch_size=4, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("name", NAMES)
def test_training_continues_where_keras_stopped(name):
    z = np.load(HERE / f"{name}.npz")
    model = rnnkit.models.load_model(HERE / f"{name}.keras")
    start = [w.copy() for w in model.get_weights()]
    got = _continue(model, z)
    for i, w in enumerate(got):
        np.testing.assert_allclose(w, z[f"after_{i}"], atol=2e-5, rtol=1e-5,
                                   err_msg=f"{name}: weight {i} after one more epoch")
    assert max(np.abs(a - b).max() for a, b in zip(got, start)) > 1e-3  # it really trained


def test_a_fresh_optimizer_would_not_match():
    """The check above can fail: without the restored state the next epoch differs."""
    z = np.load(HERE / "adam_amsgrad.npz")
    model = rnnkit.models.load_model(HERE / "adam_amsgrad.keras")
    model.compile(rnnkit.optimizers.Adam(0.02, amsgrad=True), "mse")
    got = _continue(model, z)
    assert max(np.abs(g - z[f"after_{i}"]).max() for i, g in enumerate(got)) > 1e-3


def test_a_state_that_does_not_fit_warns_and_starts_fresh(tmp_path):
    """An optimizer-variable list of the wrong length (here: a file whose Adam lost its
    velocity_hat block by editing the config to amsgrad=False) is not half-applied."""
    src = HERE / "adam_amsgrad.keras"
    dst = tmp_path / "edited.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                data = data.replace(b'"amsgrad": true', b'"amsgrad": false')
            zout.writestr(item, data)
    with pytest.warns(UserWarning, match="optimizer state was not restored"):
        model = rnnkit.models.load_model(dst)
    assert model._opt_state is None or int(model._opt_state.iterations) == 0
