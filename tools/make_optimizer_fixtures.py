"""Records Keras 3 training continued from a saved `.keras` file into
tests/fixtures/keras_optimizer/ (needs Keras 3, e.g. the `bench` extra).

    KERAS_BACKEND=jax python3 -m tools.make_optimizer_fixtures

For each optimizer: a small LSTM -> Dense model is trained two epochs, saved as
`<name>.keras` (weights, compile config and the optimizer's variables), then trained one
more epoch. `<name>.npz` holds the data (`x`, `y`) and the weights after that epoch
(`after_0..`). `tests/interop/test_keras_optimizer_state.py` loads the file in rnnkit,
trains the same epoch and compares: only a restored optimizer state (moments, step count,
learning rate) gives Keras's weights.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keras_optimizer"

OPTIMIZERS = {
    "adam_amsgrad": lambda: keras.optimizers.Adam(0.02, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(0.02, weight_decay=0.01),
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop_centered": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: keras.optimizers.Adagrad(0.1),
    "adam_schedule": lambda: keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5, 3)).astype(np.float32)
    y = rng.normal(size=(6, 2)).astype(np.float32)
    for name, make in OPTIMIZERS.items():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4),
                                  keras.layers.Dense(2)])
        model.compile(make(), "mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        model.save(OUT / f"{name}.keras")
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        after = {f"after_{i}": w for i, w in enumerate(model.get_weights())}
        np.savez(OUT / f"{name}.npz", x=x, y=y, keras_version=keras.__version__, **after)
        print("wrote", name)


if __name__ == "__main__":
    main()
