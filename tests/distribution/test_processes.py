"""Two processes on 127.0.0.1 (rnnkit.distribution.initialize), one CPU device each, each
feeding half of every batch, equal one process fitting the whole batches."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnkit import distribution as D

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_processes")
    port = _free_port()
    # JAX_PLATFORMS: the CPU devices, also on a machine with a GPU
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    worker = str(Path(__file__).with_name("processes_worker.py"))
    procs = [subprocess.Popen([sys.executable, worker, str(i), str(port), str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT) for i in (0, 1)]
    outputs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=600)
            line = [s for s in stdout.splitlines() if s.startswith("RESULT ")]
            assert p.returncode == 0 and line, stderr[-3000:]
            outputs.append(json.loads(line[0][len("RESULT "):]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outputs, out


def test_each_process_sees_both_devices(runs):
    outputs, _ = runs
    assert [o["process"] for o in outputs] == [0, 1]
    assert all(len(o["devices"]) == 2 for o in outputs)


@pytest.mark.parametrize("process", [0, 1])
def test_half_batches_per_process_equal_one_process(runs, process):
    o = runs[0][process]
    alone, shared = o["alone"], o["shared"]
    np.testing.assert_allclose(shared["loss"], alone["loss"], rtol=1e-4)
    assert alone["loss"][0] != alone["loss"][1]
    for a, b in zip(shared["weights"], alone["weights"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # predict returns this process's own rows; evaluate the global loss
    np.testing.assert_allclose(shared["predict"], alone["predict"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(shared["evaluate"], alone["evaluate"], rtol=1e-4)


def test_every_process_sees_the_same_global_loss(runs):
    first, second = runs[0]
    assert first["shared"]["loss"] == second["shared"]["loss"]
    assert first["shared"]["evaluate"] == second["shared"]["evaluate"]


def test_save_written_once_atomically_and_loadable(runs):
    outputs, out = runs
    assert sorted(os.listdir(out)) == ["model.rnnkit"]  # no temporary file left behind
    for o in outputs:
        for a, b in zip(o["saved"], o["shared"]["weights"], strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=0)


def test_unreachable_coordinator_errors_in_bounded_time():
    port = _free_port()  # nothing listens there
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=f"127.0.0.1:{port} did not answer within 2 s"):
        D.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=1, timeout=2)
    assert time.monotonic() - start < 10


def test_initialize_reads_keras_environment_variables(monkeypatch):
    port = _free_port()
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", f"127.0.0.1:{port},127.0.0.1:1")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    with pytest.raises(TimeoutError, match=f"coordinator \\(process 0\\) at 127.0.0.1:{port}"):
        D.initialize(timeout=1)
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "3")
    with pytest.raises(ValueError, match="lists 2 processes but num_processes=3"):
        D.initialize(timeout=1)
