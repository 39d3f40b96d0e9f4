"""rnnkit's native CPU time loops (rnnkit.core.native) against the reference path.

Same checks as tests/core/test_fast_paths.py (values and gradients of params, inputs, initial
states and the recurrent-dropout mask, atol 2e-6 / rtol 1e-5) with `Plan(engine="native")`,
on shapes that exercise every code path of the kernels: partial register blocks (batch
rows not a multiple of 12), gate widths that are not a multiple of 16 or 32, the batch
split over threads, masks with fully masked rows, go_backwards, dropout masks. Where the
machine can build the kernels (Linux x86-64, AVX-512F, a C++ compiler) they must build.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import config
from rnnkit import layers as L
from rnnkit.core import engines, native, policy

from test_fast_paths import check_case, thread_settings

CAN_BUILD = (sys.platform == "linux" and platform.machine() == "x86_64"
             and "avx512f" in native.cpu_flags() and native._compiler() is not None
             and native._unsupported_reason() is None)

CASES = [
    # kind, B, T, D, H, act, ract, bias, mask, backwards, init, dropout, zero_out, ret, concat
    ("lstm", 3, 6, 4, 5, "tanh", "sigmoid", True, False, False, False, False, False, True, False),
    ("lstm", 4, 7, 3, 6, "tanh", "sigmoid", True, True, True, True, True, False, True, False),
    ("lstm", 2, 5, 3, 4, "linear", "sigmoid", False, True, False, True, False, True, True, False),
    ("lstm", 1, 4, 2, 3, "tanh", "sigmoid", True, True, False, True, True, False, False, False),
    ("lstm", 29, 9, 7, 37, "tanh", "sigmoid", True, True, True, True, True, False, True, False),
    ("lstm", 16, 5, 16, 32, "sigmoid", "tanh", True, False, False, True, True, True, False,
     False),
    # batch 1 reads W and U in place (gemv_rows.h): 280 gate columns, a block of 256 and a
    # masked tail, no bias; at T > 8 with weights over 2^19 floats it packs them instead
    ("lstm", 1, 6, 5, 70, "tanh", "sigmoid", False, True, True, True, True, False, True, False),
    ("lstm", 1, 9, 8, 360, "tanh", "sigmoid", True, False, False, True, False, False, True,
     False),
    # the tiled LSTM forward (>= 2 rows per thread, gates interleaved per 16 units): T = 1 with
    # 5 rows, which at threads=3 mixes a one-row (GEMV) block with two tiled ones; 25 rows
    # (row tiles of 6 to 12, odd heights), 2.5 groups of 16 units, go_backwards
    ("lstm", 5, 1, 3, 20, "tanh", "sigmoid", True, True, False, True, True, False, True, False),
    ("lstm", 25, 8, 9, 40, "tanh", "sigmoid", False, True, True, False, True, True, True, False),
    ("gru", 3, 6, 4, 5, "tanh", "sigmoid", True, True, True, True, True, False, True, False),
    ("gru", 2, 5, 3, 4, "linear", "sigmoid", False, False, False, True, False, False, True,
     False),
    ("gru", 27, 8, 6, 35, "tanh", "sigmoid", True, True, False, True, True, True, True, False),
    ("gru_v1", 3, 6, 4, 5, "tanh", "sigmoid", True, True, True, True, True, False, True,
     False),
    ("gru_v1", 1, 4, 2, 3, "tanh", "sigmoid", False, True, False, False, True, True, True,
     False),
    ("gru_v1", 19, 7, 5, 33, "tanh", "sigmoid", True, True, True, True, True, False, True,
     False),
    # GRU: no sequences out (no d_hs), swapped activations, K > 256 in the GEMMs (3H = 300
    # in the reset_after backward, D = 270 in the gru_v1 forward), gate widths of whole
    # half-panels (H = 16)
    ("gru", 13, 5, 9, 100, "sigmoid", "tanh", True, True, False, True, True, False, False,
     False),
    ("gru_v1", 14, 4, 270, 16, "tanh", "sigmoid", True, False, True, False, True, False, False,
     False),
    ("simple_rnn", 3, 6, 4, 5, "tanh", None, True, True, True, True, True, False, True, False),
    ("simple_rnn", 2, 5, 3, 4, "linear", None, False, True, False, True, False, True, True,
     False),
    ("simple_rnn", 25, 9, 6, 47, "sigmoid", None, True, True, True, True, True, False, True,
     False),
    # batch 1 and 2 take the one-row GEMV: the latency shape without mask or sequences out,
    # and 6 panels (a group of 4 and one of 2) with odd K in the forward and the backward
    ("simple_rnn", 1, 7, 8, 64, "tanh", None, True, False, False, False, False, False, False,
     False),
    ("simple_rnn", 2, 5, 6, 161, "tanh", None, True, True, False, True, True, False, True,
     False),
    # no sequences out (no d_hs) with dropout and a mask, K = D + H > 256 in the forward GEMM
    ("simple_rnn", 13, 4, 20, 250, "tanh", None, True, True, False, True, True, False, False,
     False),
    # the backward updates dW / dU from >= 64 buffered rows: T = 70 at one or two rows per
    # thread flushes mid-sequence and at t = 0; 130 rows in one thread update every step
    ("simple_rnn", 2, 70, 3, 33, "tanh", None, True, True, False, True, True, False, True,
     False),
    ("simple_rnn", 130, 3, 5, 17, "sigmoid", None, False, False, True, False, False, False,
     True, False),
]


def _need(kind):
    if not engines.native_available(kind):
        pytest.skip(f"native {kind} loops unavailable: {native.status()}")


def test_builds_where_it_should():
    if not CAN_BUILD:
        pytest.skip("this machine cannot build the native kernels")
    assert native.load("lstm.cc"), native.status()


# every case checks against one reference (test_fast_paths._reference, computed once)
@pytest.mark.parametrize("case,threads", [
    pytest.param(c, t, id="-".join(map(str, c[:5] + (t,)))) for c in CASES
    for t in thread_settings(c[1])])
def test_native_matches_reference_values_and_grads(case, threads):
    _need(case[0])
    check_case(case, policy.Plan(engine="native", threads=threads))


@pytest.mark.parametrize("layer,kw", [
    ("LSTM", dict(return_sequences=True, return_state=True)),
    ("GRU", dict(return_sequences=True)),
    ("GRU", dict(reset_after=False, return_state=True)),
    ("SimpleRNN", dict(return_sequences=True)),
])
def test_layer_picks_native_and_matches_xla(layer, kw):
    kind = {"LSTM": "lstm", "SimpleRNN": "simple_rnn", "GRU": "gru"}[layer]
    if kw.get("reset_after") is False:
        kind = "gru_v1"
    _need(kind)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 11, 6)).astype(np.float32)
    ref = getattr(L, layer)(24, **kw)
    ref.build(x.shape)
    outs = {}
    try:
        for native_on in (True, False):
            config.set_native_kernels(native_on)
            lay = getattr(L, layer)(24, **kw)
            lay.build(x.shape)
            lay.set_weights(ref.get_weights())
            plan = policy.plan(kind, 20, 11, 6, 24, act_kinds=("tanh", "sigmoid"),
                               engines=engines.available_engines(kind))
            assert plan.engine == ("native" if native_on else "xla")
            outs[native_on] = [np.asarray(o) for o in jax.tree_util.tree_leaves(lay(x))]
    finally:
        config.set_native_kernels(True)
    for a, b in zip(outs[True], outs[False]):
        np.testing.assert_allclose(a, b, atol=2e-6, rtol=1e-5)


def test_policy_keeps_xla_where_native_does_not_apply():
    both = ("xla", "native")
    assert policy.plan("lstm", 8, 5, 3, 4, act_kinds=("tanh", "sigmoid"),
                       engines=both).engine == "native"
    assert policy.plan("lstm", 8, 5, 3, 4, act_kinds=None, engines=both).engine == "xla"
    assert policy.plan("lstm", 8, 5, 3, 4, act_kinds=("relu", "sigmoid"),
                       engines=both).engine == "xla"
    assert policy.plan("lstm", 8, 5, 3, 4, act_kinds=("tanh", "sigmoid"),
                       dtype="mixed", engines=both).engine == "xla"
    assert policy.plan("lstm", 8, 5, 3, 4, act_kinds=("tanh", "sigmoid"),
                       compute_dtype="bfloat16", engines=both).engine == "xla"
    assert policy.plan("lstm", 8, 5, 3, 4, act_kinds=("tanh", "sigmoid")).engine == "xla"
    config.set_native_kernels(False)
    try:
        assert engines.available_engines("lstm") == ("xla",)
    finally:
        config.set_native_kernels(True)


def test_unusable_machine_falls_back(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    assert "RNNKIT_NATIVE=0" in native._unsupported_reason()


def test_failed_build_warns_once_and_falls_back(monkeypatch, tmp_path):
    if not CAN_BUILD:
        pytest.skip("this machine cannot build the native kernels")
    monkeypatch.setenv("RNNKIT_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setattr(native, "_compiler", lambda: "false")  # a "compiler" that fails
    monkeypatch.setattr(native, "_libs", {})
    with pytest.warns(RuntimeWarning, match="XLA kernels run instead"):
        assert native.load("lstm.cc") is False
    assert native.load("lstm.cc") is False  # cached: no second warning, no second build
    assert "build or load failed" in native.status()["lstm.cc"]["reason"]
    assert not any(tmp_path.glob("*.so"))  # nothing half-written left behind


def test_unwritable_cache_builds_in_the_temporary_folder(monkeypatch, tmp_path):
    if not CAN_BUILD:
        pytest.skip("this machine cannot build the native kernels")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RNNKIT_NATIVE_CACHE", str(blocker / "cache"))
    # the build step alone: a process registers each FFI target name only once
    path = str(native._build(native._compiler(), "lstm.cc"))
    assert path.startswith(tempfile.gettempdir()) and "rnnkit-native-" in path
    assert os.path.getsize(path) > 0


def test_second_order_gradient_names_the_fix():
    _need("lstm")
    lay = L.LSTM(6)
    x = np.random.default_rng(0).random((16, 4, 3), dtype=np.float32)
    lay.build(x.shape)
    values = [v.value for v in lay.variables]

    def f(x):
        return jnp.sum(lay.stateless_call(values, x)[0] ** 2)

    assert jax.grad(f)(x).shape == x.shape  # first order: the custom VJP
    with pytest.raises(NotImplementedError, match="set_native_kernels\\(False\\)"):
        jax.grad(lambda x: jnp.sum(jax.grad(f)(x) ** 2))(x)


def test_superseded_builds_are_pruned_after_30_days(tmp_path):
    keep = tmp_path / "rnnkit_lstm_new.so"
    old = tmp_path / "rnnkit_lstm_old.so"
    recent = tmp_path / "rnnkit_lstm_recent.so"
    other = tmp_path / "rnnkit_gru_old.so"
    for f in (keep, old, recent, other):
        f.write_bytes(b"x")
    long_ago = os.path.getmtime(keep) - 31 * 24 * 3600
    for f in (old, other):
        os.utime(f, (long_ago, long_ago))
    native._prune(tmp_path, "lstm", keep=keep)
    assert keep.exists() and recent.exists() and other.exists()
    assert not old.exists()
