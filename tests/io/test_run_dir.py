"""rnnkit.io.run_dir: the run directories `rnnkit train` writes, read by generate, --resume
and explain."""

import json

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from rnnkit.io import run_dir


def _model():
    inp = rnnkit.Input(shape=(None,), dtype="int32")
    return rnnkit.Model(inp, L.Dense(3)(L.GRU(4, return_sequences=True)(L.Embedding(3, 2)(inp))))


def test_save_then_load_gives_the_same_model_and_meta(tmp_path):
    model = _model()
    path = run_dir.save_run(model, tmp_path / "run", {"kind": "charlm", "vocab": ["a", "b", "c"]})
    assert path == tmp_path / "run" / run_dir.MODEL_FILE
    loaded, meta = run_dir.load_run(tmp_path / "run")
    assert meta["format"] == run_dir.META_FORMAT and meta["vocab"] == ["a", "b", "c"]
    x = np.array([[0, 1, 2]], np.int32)
    np.testing.assert_array_equal(model.predict_on_batch(x), loaded.predict_on_batch(x))
    # the model file inside the directory names the same run
    assert run_dir.is_run_model_file(path)
    assert run_dir.load_run(path)[1] == meta


@pytest.mark.parametrize("content, message", [
    (None, "no meta.json in"),
    ("[1, 2]", "holds a JSON list, not an object"),
    ('{"format": "other"}', "is not an rnnkit run file (format 'other')"),
    ('{"format": "rnnkit.run", "kind": "charlm", "vocab": []}',
     "'vocab' must be a non-empty list of single characters"),
])
def test_unreadable_meta_is_a_one_line_value_error(tmp_path, content, message):
    if content is not None:
        (tmp_path / run_dir.META_FILE).write_text(content)
    with pytest.raises(run_dir.RunDirError) as err:
        run_dir.read_meta(tmp_path)
    assert isinstance(err.value, ValueError)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(run_dir.RunDirError, match="checkpoint not found"):
        run_dir.load_run(tmp_path / "nope")


def test_explain_reads_a_run_directory(tmp_path):
    run_dir.save_run(_model(), tmp_path / "run", {"kind": "charlm", "vocab": ["a", "b", "c"]})
    from rnnkit.explain import load_for_explain

    model = load_for_explain(tmp_path / "run")
    assert [type(layer).__name__ for layer in model.layers][-2:] == ["GRU", "Dense"]
    meta = json.loads((tmp_path / "run" / run_dir.META_FILE).read_text())
    assert meta["model_file"] == run_dir.MODEL_FILE
