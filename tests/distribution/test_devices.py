"""DataParallel over 4 (forced host) CPU devices equals 1 device; ModelParallel too.

The models train in a subprocess (devices_worker.py) because the device count is fixed
when JAX starts.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit import distribution as D

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["lstm", "gru", "bidirectional", "embedding", "model_parallel"]


@pytest.fixture(scope="module")
def results():
    # JAX_PLATFORMS: the CPU devices, also on a machine with a GPU
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("devices_worker.py"))],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    return json.loads(line[0][len("RESULT "):])


def test_four_devices(results):
    assert results["count"] == 4
    assert results["devices"] == ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]


@pytest.mark.parametrize("kind", KINDS)
def test_same_history_weights_predictions_as_one_device(results, kind):
    one, dist = results[kind]["one"], results[kind]["dist"]
    np.testing.assert_allclose(dist["loss"], one["loss"], rtol=1e-4)
    assert len(dist["weights"]) == len(one["weights"]) > 0
    for a, b in zip(dist["weights"], one["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dist["predict"], one["predict"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dist["evaluate"], one["evaluate"], rtol=1e-4)
    np.testing.assert_allclose(dist["predict_on_batch"], one["predict_on_batch"], rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(dist["train_on_batch"], one["train_on_batch"], rtol=1e-4)
    # training moved the weights: equal results are not equal initial weights
    assert one["loss"][1] != one["loss"][0]


@pytest.mark.parametrize("kind", ["lstm", "gru", "bidirectional", "embedding"])
def test_data_parallel_replicates_variables_and_only_reduces(results, kind):
    shardings = results[kind]["dist"]["shardings"]
    assert shardings and all(n == 4 and "'" not in spec for _, spec, n in shardings)
    # gradients are summed over the devices; no array is gathered onto every device
    assert results[kind]["dist"]["collectives"] == ["all-reduce"]


def test_variables_created_in_a_scope_are_placed(results):
    assert results["scope"] == ["P(None, None)", 4]


def test_model_parallel_splits_the_embedding(results):
    shardings = {p: (spec, n) for p, spec, n in results["model_parallel"]["dist"]["shardings"]}
    assert shardings["emb/embeddings"] == ("P(None, 'model')", 4)
    assert all("'" not in spec for p, (spec, _) in shardings.items() if p != "emb/embeddings")


def test_batch_not_divisible_by_devices(results):
    err = results["errors"]["batch_size"]
    assert "batch of 6 samples cannot be split evenly over the 4 devices" in err
    assert "batch_size=8" in err
    err = results["errors"]["last_batch"]
    assert "last batch has 2 of the 10 samples" in err and "multiple of 4" in err


# --- checked in this process (one device is enough) -------------------------------------

def test_layout_naming_a_missing_mesh_axis():
    mesh = D.DeviceMesh((1,), ["batch"], devices=D.list_devices()[:1])
    with pytest.raises(ValueError, match=r"name mesh axes \['model'\] that do not exist"):
        D.TensorLayout((None, "model"), mesh)
    layout_map = D.LayoutMap(mesh)
    with pytest.raises(ValueError, match="The mesh's axes are \\['batch'\\]"):
        layout_map[".*embeddings"] = ("model", None)
    with pytest.raises(ValueError, match="batch_dim_name='data' is not an axis of the mesh"):
        D.ModelParallel(layout_map=D.LayoutMap(mesh), batch_dim_name="data")


def test_mesh_and_layout_map_errors():
    with pytest.raises(ValueError, match="needs 2 devices; received 1"):
        D.DeviceMesh((2,), ["batch"], devices=D.list_devices()[:1])
    mesh = D.DeviceMesh((1,), ["model"], devices=D.list_devices()[:1])
    layout_map = D.LayoutMap(mesh)
    layout_map[".*kernel"] = (None, "model")
    layout_map["dense.*"] = (None, "model")
    assert layout_map["lstm/kernel"].axes == (None, "model")
    assert layout_map["lstm/bias"] is None
    with pytest.raises(ValueError, match="matches several LayoutMap keys"):
        layout_map["dense/kernel"]


def test_set_distribution_and_scope():
    dist = D.DataParallel(devices=D.list_devices()[:1])
    assert D.distribution() is None
    with dist.scope():
        assert D.distribution() is dist
    assert D.distribution() is None
    D.set_distribution(dist)
    try:
        assert D.distribution() is dist
    finally:
        D.set_distribution(None)
    with pytest.raises(ValueError, match="expects a Distribution or None"):
        D.set_distribution("data_parallel")
