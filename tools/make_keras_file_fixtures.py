"""Saves small Keras 3 models with ConvLSTM layers into tests/fixtures/interop/.

    KERAS_BACKEND=jax python3 tools/make_keras_file_fixtures.py

Each model is saved twice by real Keras (`model.save("<case>.keras")` and the legacy
`model.save("<case>.h5")`), with `<case>.npz` holding its predict inputs `x_0`, Keras's
`model.predict` output `y_0` and `model.get_weights()` as `weights_0..`, in the format of
the shared interop files (tests/fixtures/interop/README.md). The cases are listed in
`index_generated.json` next to them; tests/interop/interop_cases.py reads both indexes, so
tests/interop/test_keras_files.py loads these files like the shared ones. Names start with
`k3j_` (.keras) and `k3jh5_` (.h5): Keras 3 on the JAX backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "interop"
L = keras.layers


def convlstm2d_bidir_dense():
    """Functional: ConvLSTM2D('same', return_sequences) -> Bidirectional(ConvLSTM2D, strides
    2) -> Flatten -> Dense(2); compiled with Adam(0.01) and trained one step."""
    inp = L.Input((4, 6, 5, 2))
    y = L.ConvLSTM2D(3, (3, 2), padding="same", return_sequences=True)(inp)
    y = L.Bidirectional(L.ConvLSTM2D(2, 3, strides=2))(y)
    y = L.Dense(2)(L.Flatten()(y))
    return keras.Model(inp, y), (3, 4, 6, 5, 2), True


def convlstm1d_stack_dense():
    """Sequential: ConvLSTM1D(dilation 2, go_backwards, return_sequences, hard_sigmoid) ->
    ConvLSTM1D('same', no bias) -> Flatten -> Dense(3)."""
    model = keras.Sequential([
        L.Input((5, 9, 3)),
        L.ConvLSTM1D(4, 3, dilation_rate=2, go_backwards=True, return_sequences=True,
                     recurrent_activation="hard_sigmoid"),
        L.ConvLSTM1D(2, 2, padding="same", use_bias=False),
        L.Flatten(), L.Dense(3)])
    return model, (2, 5, 9, 3), False


def convlstm3d_channels_first_dense():
    """Sequential: ConvLSTM3D(channels_first, 'same', return_sequences) -> Flatten ->
    Dense(1)."""
    model = keras.Sequential([
        L.Input((3, 2, 3, 4, 4)),
        L.ConvLSTM3D(2, (1, 2, 3), padding="same", data_format="channels_first",
                     return_sequences=True),
        L.Flatten(), L.Dense(1)])
    return model, (2, 3, 2, 3, 4, 4), False


MODELS = (convlstm2d_bidir_dense, convlstm1d_stack_dense, convlstm3d_channels_first_dense)


def _perturb_weights(model, rng):
    """Non-trivial biases and weights of a moderate size (not just initializer output)."""
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])


def _entry(name, build, fmt, model, x, y, trained):
    weights = model.get_weights()
    return {
        "name": name, "kind": "keras_file", "format": fmt,
        "model": build.__name__, "description": " ".join(build.__doc__.split()),
        "files": {"model": f"{name}{'.keras' if fmt == 'keras_v3_zip' else '.h5'}",
                  "io": f"{name}.npz"},
        "inputs": [{"key": "x_0", "name": model.inputs[0].name, "dtype": "float32",
                    "shape": list(x.shape)}],
        "outputs": [{"key": "y_0", "shape": list(y.shape)}],
        "n_weights": len(weights), "weight_shapes": [list(w.shape) for w in weights],
        "count_params": int(model.count_params()),
        "compiled_and_trained_one_step": trained,
        "saved_by": f"keras {keras.__version__}",
        "versions": {"keras": keras.__version__, "keras_backend": keras.backend.backend(),
                     "jax": jax.__version__, "numpy": np.__version__,
                     "h5py": h5py.__version__},
    }


def main():
    rng = np.random.default_rng(20260401)
    keras.utils.set_random_seed(5)
    cases = []
    for build in MODELS:
        model, shape, trained = build()
        _perturb_weights(model, rng)
        x = rng.standard_normal(shape).astype("float32")
        if trained:
            model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
            model.train_on_batch(x, np.zeros((shape[0], 2), "float32"))
        y = model.predict(x, verbose=0)
        for prefix, fmt, ext in (("k3j_", "keras_v3_zip", ".keras"),
                                 ("k3jh5_", "legacy_h5", ".h5")):
            name = prefix + build.__name__
            model.save(OUT / f"{name}{ext}")
            np.savez(OUT / f"{name}.npz", x_0=x, y_0=y,
                     **{f"weights_{i}": w for i, w in enumerate(model.get_weights())})
            cases.append(_entry(name, build, fmt, model, x, y, trained))
    index = {"generator": "tools/make_keras_file_fixtures.py", "cases": cases}
    (OUT / "index_generated.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
