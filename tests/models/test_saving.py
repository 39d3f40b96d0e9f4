"""Saving and loading: architecture configs, weights, optimizer state, atomic writes and
clear errors for files that cannot be loaded."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from rnnkit.layers import serialization
from rnnkit.layers.stacked import AbstractRNNCell
from rnnkit.io import rnnkit_format as saving

RNG = np.random.default_rng(0)
X = RNG.random((6, 5, 3), dtype=np.float32)
TOKENS = np.array([[3, 5, 1, 0, 0], [2, 2, 7, 9, 0], [1, 0, 0, 0, 0],
                   [4, 4, 4, 4, 4], [6, 1, 2, 0, 0], [8, 3, 0, 0, 0]], dtype=np.int32)
X2 = RNG.random((6, 4), dtype=np.float32)


# --------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------


def simple_rnn_dense():
    inp = rnnkit.Input(shape=(5, 3))
    return rnnkit.Model(inp, L.Dense(2)(L.SimpleRNN(4)(inp))), X


def sequential_embedding_lstms():
    model = rnnkit.Sequential([
        rnnkit.Input(shape=(5,), dtype="int32"),
        L.Embedding(10, 4, mask_zero=True),
        L.LSTM(6, return_sequences=True),
        L.LSTM(3),
        L.Dense(2),
    ])
    return model, TOKENS


def bidirectional_lstm():
    inp = rnnkit.Input(shape=(5, 3))
    return rnnkit.Model(inp, L.Bidirectional(L.LSTM(4), merge_mode="concat")(inp)), X


def stacked_cells():
    inp = rnnkit.Input(shape=(5, 3))
    return rnnkit.Model(inp, L.RNN([L.LSTMCell(4), L.GRUCell(3)],
                                   return_sequences=True)(inp)), X


def two_inputs_concatenate():
    seq = rnnkit.Input(shape=(5, 3), name="seq")
    side = rnnkit.Input(shape=(4,), name="side")
    h = L.Concatenate()([L.GRU(5)(seq), side])
    return rnnkit.Model([seq, side], L.Dense(2)(h)), [X, X2]


def initial_state_from_return_state():
    inp = rnnkit.Input(shape=(5, 3))
    enc_out, h, c = L.LSTM(4, return_state=True)(inp)
    dec = L.LSTM(4, return_sequences=True)(inp, initial_state=[h, c])
    return rnnkit.Model(inp, [dec, enc_out]), X


def assorted_layers():
    """Masking, TimeDistributed, LayerNormalization, Dropout, a shared layer, Add,
    go_backwards, and a nested model used as a layer."""
    inner_in = rnnkit.Input(shape=(5, 4))
    inner = rnnkit.Model(inner_in, L.SimpleRNN(3, return_sequences=True)(inner_in),
                         name="inner")
    inp = rnnkit.Input(shape=(5, 3))
    h = L.TimeDistributed(L.Dense(4))(L.Masking()(inp))
    h = L.LayerNormalization()(h)
    shared = L.Dense(4, name="shared")
    h = L.Add()([shared(h), shared(L.Dropout(0.5)(h))])
    h = L.GRU(4, return_sequences=True, go_backwards=True)(h)
    return rnnkit.Model(inp, inner(h)), np.where(np.arange(5)[None, :, None] < 3, X, 0.0)


ARCHITECTURES = [simple_rnn_dense, sequential_embedding_lstms, bidirectional_lstm,
                 stacked_cells, two_inputs_concatenate, initial_state_from_return_state,
                 assorted_layers]


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _assert_same_predictions(a, b, x):
    for p, q in zip(_as_list(a.predict(x, verbose=0)), _as_list(b.predict(x, verbose=0))):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-6)


@pytest.mark.parametrize("build", ARCHITECTURES, ids=lambda f: f.__name__)
def test_save_load_round_trip(build, tmp_path):
    model, x = build()
    path = tmp_path / "model.rnnkit"
    model.save(path)
    loaded = rnnkit.load_model(path)
    assert type(loaded) is type(model)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    for w1, w2 in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    _assert_same_predictions(model, loaded, x)
    # The rebuilt model describes itself exactly as the original does.
    assert loaded.get_config() == model.get_config()


def test_bidirectional_config_is_stable():
    layer = L.Bidirectional(L.LSTM(4))
    clone = L.Bidirectional.from_config(json.loads(json.dumps(layer.get_config())))
    assert clone.forward_layer.name == layer.forward_layer.name


@pytest.mark.parametrize("build", [initial_state_from_return_state, two_inputs_concatenate],
                         ids=lambda f: f.__name__)
def test_config_json_round_trip(build):
    model, x = build()
    config = json.loads(json.dumps(model.get_config()))
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    _assert_same_predictions(model, clone, x)


def test_functional_config_records_tensor_kwargs():
    model, _ = initial_state_from_return_state()
    config = model.get_config()
    decoder = config["layers"][-1]
    (node,) = decoder["inbound_nodes"]
    refs = [s["__tensor__"] for s in node["kwargs"]["initial_state"]]
    encoder = config["layers"][1]["name"]
    assert refs == [[encoder, 0, 1], [encoder, 0, 2]]
    assert config["output_layers"] == [[decoder["name"], 0, 0], [encoder, 0, 0]]


def test_sequential_config_has_input_and_layers():
    model, _ = sequential_embedding_lstms()
    config = model.get_config()
    assert [s["class_name"] for s in config["layers"]] == [
        "InputLayer", "Embedding", "LSTM", "LSTM", "Dense"]
    assert config["layers"][0]["config"]["batch_shape"] == [None, 5]
    assert config["layers"][0]["config"]["dtype"] == "int32"


def test_sequential_without_input_is_saved_once_built(tmp_path):
    model = rnnkit.Sequential([L.LSTM(3), L.Dense(1)])
    model.predict(X, verbose=0)  # builds it for (None, 5, 3)
    model.save(tmp_path / "m.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "m.rnnkit")
    _assert_same_predictions(model, loaded, X)


def test_subclassed_model_cannot_be_saved_but_its_weights_can(tmp_path):
    class Sub(rnnkit.Model):
        def __init__(self):
            super().__init__()
            self.rnn = L.LSTM(3)
            # Built here: Model.build traces call() under jax.eval_shape, and weights
            # created inside that trace leak tracers (bug reported in model.py).
            self.rnn.build((None, 5, 3))

        def call(self, inputs):
            return self.rnn(inputs)

    model = Sub()
    model.predict(X, verbose=0)
    with pytest.raises(ValueError, match="subclassed model.*save_weights"):
        model.save(tmp_path / "m.rnnkit")
    assert not os.listdir(tmp_path)
    model.save_weights(tmp_path / "w.weights")
    other = Sub()
    other.predict(X, verbose=0)
    other.load_weights(tmp_path / "w.weights")
    _assert_same_predictions(model, other, X)


# --------------------------------------------------------------------------------------
# Compile state and optimizer resume
# --------------------------------------------------------------------------------------


def _trainable_model():
    rnnkit.set_random_seed(7)
    inp = rnnkit.Input(shape=(5, 3))
    h = L.GRU(6, return_sequences=True)(inp)
    out = L.Dense(2)(L.LSTM(4)(h))
    model = rnnkit.Model(inp, out)
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=0.01), loss="mse",
                  metrics=["mae"])
    return model


Y = RNG.random((6, 2), dtype=np.float32)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A model trained for 2 epochs, saved; with its history."""
    model = _trainable_model()
    history = model.fit(X, Y, epochs=2, batch_size=2, shuffle=False, verbose=0).history
    path = tmp_path_factory.mktemp("ckpt") / "ckpt.rnnkit"
    model.save(path)
    return model, history, path


def test_resume_training_is_exact(checkpoint):
    _, h1, path = checkpoint
    resumed = rnnkit.load_model(path)
    assert resumed.compiled and type(resumed.optimizer) is rnnkit.optimizers.Adam
    assert resumed.optimizer.learning_rate == pytest.approx(0.01)
    assert resumed.loss == "mse" and resumed._metric_ids == ["mae"]
    h2 = resumed.fit(X, Y, epochs=1, batch_size=2, shuffle=False, verbose=0).history

    straight = _trainable_model()
    h3 = straight.fit(X, Y, epochs=3, batch_size=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"] + h2["loss"], h3["loss"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(h1["mae"] + h2["mae"], h3["mae"], rtol=0, atol=1e-6)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert int(resumed._opt_state.iterations) == int(straight._opt_state.iterations) == 9


def test_resume_with_dropout_restores_seed_state(tmp_path):
    rnnkit.set_random_seed(3)
    inp = rnnkit.Input(shape=(5, 3))
    h = L.LSTM(4, dropout=0.3, recurrent_dropout=0.3)(L.Dropout(0.4)(inp))
    model = rnnkit.Model(inp, L.Dense(2)(h))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, epochs=1, batch_size=3, shuffle=False, verbose=0)
    model.save(tmp_path / "m.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "m.rnnkit")
    a = model.fit(X, Y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    b = loaded.fit(X, Y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_load_without_compile(checkpoint):
    model, _, path = checkpoint
    loaded = rnnkit.load_model(path, compile=False)
    assert not loaded.compiled and loaded._opt_state is None
    _assert_same_predictions(model, loaded, X)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "optimizer.npz", "weights.npz"]
        config = json.loads(zf.read("config.json"))
    assert config["format"] == "rnnkit.model" and config["format_version"] == 1
    assert config["rnnkit_version"] == rnnkit.__version__
    assert config["compile"]["optimizer"]["class_name"] == "Adam"
    assert config["compile"]["loss"] == "mse" and config["compile"]["metrics"] == ["mae"]
    assert [w["path"] for w in config["weights"]] == [w.path for w in model.weights]
    assert config["optimizer_state"]["num_leaves"] == 2 + 2 * len(model.trainable_weights)


def test_compiled_but_untrained_and_uncompiled_models(tmp_path):
    model = _trainable_model()  # compiled, no optimizer state yet
    model.save(tmp_path / "a.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "a.rnnkit")
    assert loaded.compiled and loaded._opt_state is None
    with zipfile.ZipFile(tmp_path / "a.rnnkit") as zf:
        assert "optimizer.npz" not in zf.namelist()
    plain, _ = simple_rnn_dense()
    plain.save(tmp_path / "b.rnnkit")
    assert not rnnkit.load_model(tmp_path / "b.rnnkit").compiled


def my_loss(y_true, y_pred):
    return (y_true - y_pred) ** 2


def test_custom_loss_needs_custom_objects(tmp_path):
    model, _ = simple_rnn_dense()
    model.compile(optimizer="sgd", loss=my_loss)
    model.fit(X, np.ones((6, 2), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.rnnkit")
    with pytest.raises(ValueError) as err:
        rnnkit.load_model(tmp_path / "m.rnnkit")
    msg = str(err.value)
    assert "my_loss" in msg and "custom_objects" in msg and "compile=False" in msg
    loaded = rnnkit.load_model(tmp_path / "m.rnnkit", custom_objects={"my_loss": my_loss})
    assert loaded.loss is my_loss and loaded._opt_state is not None
    assert not rnnkit.load_model(tmp_path / "m.rnnkit", compile=False).compiled


# --------------------------------------------------------------------------------------
# Custom cells
# --------------------------------------------------------------------------------------


class MyCell(AbstractRNNCell):
    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        h = rnnkit.ops.tanh(rnnkit.ops.matmul(inputs, self.kernel)
                            + rnnkit.ops.matmul(states[0], self.recurrent_kernel))
        return h * self.scale, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


class MyRegisteredCell(MyCell):
    pass


def _custom_cell_model(cell_cls):
    inp = rnnkit.Input(shape=(5, 3))
    return rnnkit.Model(inp, L.Dense(2)(L.RNN(cell_cls(4, scale=0.5))(inp)))


def test_custom_cell_with_custom_objects(tmp_path):
    model = _custom_cell_model(MyCell)
    model.save(tmp_path / "m.rnnkit")
    with pytest.raises(ValueError) as err:
        rnnkit.load_model(tmp_path / "m.rnnkit")
    msg = str(err.value)
    assert "'MyCell'" in msg and "custom_objects={'MyCell': MyCell}" in msg
    assert "@rnnkit.layers.register" in msg
    loaded = rnnkit.load_model(tmp_path / "m.rnnkit", custom_objects={"MyCell": MyCell})
    assert loaded.layers[1].cell.scale == 0.5
    _assert_same_predictions(model, loaded, X)
    assert "MyCell" not in serialization._CUSTOM  # the scope does not leak


def test_custom_cell_with_register(tmp_path):
    model = _custom_cell_model(MyRegisteredCell)
    model.save(tmp_path / "m.rnnkit")
    rnnkit.layers.register(MyRegisteredCell)
    try:
        loaded = rnnkit.load_model(tmp_path / "m.rnnkit")
    finally:
        serialization._CUSTOM.pop("MyRegisteredCell", None)
    _assert_same_predictions(model, loaded, X)


# --------------------------------------------------------------------------------------
# Weights files
# --------------------------------------------------------------------------------------


def _lstm_model(units=8, extra=False):
    inp = rnnkit.Input(shape=(5, 3))
    h = L.LSTM(units)(inp)
    if extra:
        h = L.Dense(units)(h)
    return rnnkit.Model(inp, L.Dense(2)(h))


@pytest.mark.parametrize("name", ["w.weights", "w.npz", "w.weights.h5"])
def test_save_and_load_weights(tmp_path, name):
    src, dst = _lstm_model(), _lstm_model()
    src.save_weights(tmp_path / name)
    dst.load_weights(tmp_path / name)
    for a, b in zip(src.get_weights(), dst.get_weights()):
        np.testing.assert_array_equal(a, b)
    _assert_same_predictions(src, dst, X)
    if name.endswith(".npz"):  # a plain NumPy archive, readable without rnnkit
        with np.load(tmp_path / name) as npz:
            assert len(npz.files) == len(src.weights)
            assert npz.files[0].startswith("00000/")


def test_load_weights_from_model_file_and_foreign_npz(tmp_path):
    src, dst = _lstm_model(), _lstm_model()
    src.save(tmp_path / "m.rnnkit")
    dst.load_weights(tmp_path / "m.rnnkit")
    _assert_same_predictions(src, dst, X)
    np.savez(tmp_path / "plain.npz", *src.get_weights())  # arr_0, arr_1, ...
    third = _lstm_model()
    third.load_weights(tmp_path / "plain.npz")
    _assert_same_predictions(src, third, X)


def test_load_weights_count_mismatch(tmp_path):
    _lstm_model().save_weights(tmp_path / "w.weights")
    other = _lstm_model(extra=True)
    with pytest.raises(ValueError, match=r"holds 5 weight arrays but the model has 7"):
        other.load_weights(tmp_path / "w.weights")


def test_load_weights_shape_mismatch_names_weight_and_assigns_nothing(tmp_path):
    _lstm_model(units=8).save_weights(tmp_path / "w.weights")
    other = _lstm_model(units=6)
    before = other.get_weights()
    with pytest.raises(ValueError) as err:
        other.load_weights(tmp_path / "w.weights")
    msg = str(err.value)
    lstm = other.layers[1].name
    assert f"(layer '{lstm}')" in msg and "lstm_cell/kernel" in msg
    assert "(3, 24)" in msg and "(3, 32)" in msg
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_model_rejects_weights_file(tmp_path):
    _lstm_model().save_weights(tmp_path / "w.weights")
    with pytest.raises(ValueError, match="weights file.*load_weights"):
        rnnkit.load_model(tmp_path / "w.weights")


# --------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------


def _temp_files(directory):
    return [n for n in os.listdir(directory) if n.endswith(".tmp")]


def test_overwrite_false(tmp_path):
    model, _ = simple_rnn_dense()
    model.save(tmp_path / "m.rnnkit")
    with pytest.raises(FileExistsError, match="already exists and overwrite=False"):
        model.save(tmp_path / "m.rnnkit", overwrite=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save_weights(tmp_path / "m.rnnkit", overwrite=False)
    model.save(tmp_path / "m.rnnkit", overwrite=True)
    assert os.listdir(tmp_path) == ["m.rnnkit"]


def test_error_inside_writer_keeps_old_file(tmp_path, monkeypatch):
    old, x = simple_rnn_dense()
    path = tmp_path / "m.rnnkit"
    old.save(path)
    before = path.read_bytes()

    def fail(name):
        raise RuntimeError(f"disk full after {name}")

    monkeypatch.setattr(saving, "_entry_hook", fail)
    new, _ = bidirectional_lstm()
    with pytest.raises(RuntimeError, match="disk full after config.json"):
        new.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.rnnkit"]  # the temporary file was removed
    _assert_same_predictions(old, rnnkit.load_model(path), x)


_SLOW_SAVE = textwrap.dedent("""
    import sys, time
    import rnnkit
    from rnnkit import layers as L
    from rnnkit.io import rnnkit_format as saving

    def hook(name):
        print("WROTE", name, flush=True)
        time.sleep(120)

    saving._entry_hook = hook
    inp = rnnkit.Input(shape=(5, 3))
    model = rnnkit.Model(inp, L.Dense(7)(L.GRU(16)(inp)))
    model.save(sys.argv[1])
    print("FINISHED", flush=True)
""")


def test_killed_save_leaves_old_file_intact(tmp_path):
    old, x = simple_rnn_dense()
    path = tmp_path / "ckpt.rnnkit"
    old.save(path)
    script = tmp_path / "slow_save.py"
    script.write_text(_SLOW_SAVE)
    root = str(Path(rnnkit.__file__).resolve().parents[1])  # this checkout's rnnkit
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("WROTE config.json"), (line, proc.stderr.read())
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # The old checkpoint is untouched and still loads.
    _assert_same_predictions(old, rnnkit.load_model(path), x)
    # The partial write is a hidden *.tmp file: no checkpoint glob picks it up ...
    assert glob.glob(str(tmp_path / "*.rnnkit")) == [str(path)]
    (tmp,) = _temp_files(tmp_path)
    assert tmp.startswith(".ckpt.rnnkit.")
    # ... and loading it by mistake fails clearly.
    with pytest.raises(ValueError, match="truncated or corrupted"):
        rnnkit.load_model(tmp_path / tmp)
    # A later save still works.
    old.save(path)
    _assert_same_predictions(old, rnnkit.load_model(path), x)


# --------------------------------------------------------------------------------------
# Files that cannot be loaded
# --------------------------------------------------------------------------------------


@pytest.fixture
def saved_model_file(tmp_path):
    model, _ = simple_rnn_dense()
    path = tmp_path / "good.rnnkit"
    model.save(path)
    return path


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            zout.writestr(name, data)


def test_truncated_file(saved_model_file, tmp_path):
    data = saved_model_file.read_bytes()
    bad = tmp_path / "cut.rnnkit"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as err:
        rnnkit.load_model(bad)
    msg = str(err.value)
    assert str(bad) in msg and "truncated or corrupted" in msg and "Re-save" in msg


def test_corrupted_entry(saved_model_file, tmp_path):
    with zipfile.ZipFile(saved_model_file) as zf:
        offset = zf.getinfo("weights.npz").header_offset + 300
    data = bytearray(saved_model_file.read_bytes())
    data[offset] ^= 0xFF
    bad = tmp_path / "flipped.rnnkit"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is corrupted: its entry 'weights.npz'"):
        rnnkit.load_model(bad)


def test_not_a_zip_file(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, I am not a model")
    with pytest.raises(ValueError) as err:
        rnnkit.load_model(bad)
    msg = str(err.value)
    assert "is not an rnnkit file: it is not a zip archive" in msg
    assert "model.save()" in msg and "rnnkit.io" in msg


def test_empty_and_hdf5_files(tmp_path):
    (tmp_path / "empty.rnnkit").write_bytes(b"")
    with pytest.raises(ValueError, match=r"is empty \(0 bytes\)"):
        rnnkit.load_model(tmp_path / "empty.rnnkit")
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ValueError, match=r"HDF5 file \(the Keras .h5 format\).*rnnkit.io"):
        rnnkit.load_model(tmp_path / "model.h5")


def test_foreign_zip(tmp_path):
    bad = tmp_path / "archive.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ValueError) as err:
        rnnkit.load_model(bad)
    msg = str(err.value)
    assert "is not an rnnkit model file" in msg and "no config.json inside" in msg
    assert "Files written by model.save() can be loaded" in msg and "rnnkit.io" in msg


def test_keras_file(tmp_path):
    bad = tmp_path / "model.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps({"class_name": "Functional", "config": {}}))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match="is a Keras .keras file.*rnnkit.io"):
        rnnkit.load_model(bad)


def test_newer_format_version(saved_model_file, tmp_path):
    newer = tmp_path / "newer.rnnkit"
    _rewrite(saved_model_file, newer,
             lambda c: c.update(format_version=99, rnnkit_version="9.0.0"))
    with pytest.raises(ValueError) as err:
        rnnkit.load_model(newer)
    msg = str(err.value)
    assert "written by a newer rnnkit (rnnkit 9.0.0, file format version 99)" in msg
    assert "Upgrade rnnkit" in msg


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No file at"):
        rnnkit.load_model(tmp_path / "nope.rnnkit")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        simple_rnn_dense()[0].save(tmp_path / "no_dir" / "m.rnnkit")


def test_npz_passed_to_load_model(tmp_path):
    model = _lstm_model()
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="NumPy .npz archive, not an rnnkit model file"):
        rnnkit.load_model(tmp_path / "w.npz")
