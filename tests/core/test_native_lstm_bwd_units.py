"""The native LSTM reverse loop split by units (lstm_bwd.h `LstmBwd::units`).

A batch too small for the row split (under 16 rows on a multi-core machine) runs its reverse
loop on several threads that share the one block's state: each owns a range of the panels
of dz @ [U^T | W^T] (the dh columns of its units, and dx columns) and of the 4H gradient
columns, and they meet at a barrier after every step and every weight update. Every element
is computed by the same operations in the same order as the one-block row loop, so all
gradients must be bit-identical to `threads=1`. `threads=-n` asks for n unit threads;
`threads=0` is the default rule.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit.core.native import ffi

from native_lstm_inputs import case_id, lstm_inputs, rand, require_native_lstm

CASES = [
    # B, T, D, H, mask, rm, d_hs, dx, batch_major
    (2, 7, 24, 40, True, True, True, True, True),  # H not a multiple of 16; 2 panels
    (3, 1, 5, 48, False, False, False, True, False),  # T = 1, time-major
    (3, 9, 50, 20, True, False, True, True, True),  # 3 panels: threads 2, 3 own no units
    (8, 12, 64, 256, False, False, True, False, True),  # the default rule's shape, no dx
    (8, 10, 16, 72, True, True, False, True, False),  # 9 steps per update: two updates
    (2, 40, 8, 100, True, True, True, True, True),  # 32 steps per update, a partial one
    (15, 4, 16, 40, True, True, True, True, False),  # two row tiles (8 + 7 rows)
    # weights of 2^21 floats and more split by units at any batch (the default rule)
    (16, 2, 8, 724, False, False, True, True, True),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_unit_split_backward_is_bit_identical_to_one_block(case):
    require_native_lstm()
    B, T, D, H, use_mask, use_rm, use_dhs, want_dx, bm = case
    rng = np.random.default_rng(B * T + H)
    xs, W, U, b, h0, c0, mask, rm = lstm_inputs(rng, B, T, D, H, batch_major=bm, mask=use_mask,
                                                rm=use_rm)
    seq = (B, T, H) if bm else (T, B, H)
    hs, _, _, gates, cs = ffi.call(
        "lstm.cc", "rnnkit_lstm_forward", [seq, (B, H), (B, H), (T, B, 4 * H), (T, B, H)],
        xs, W, U, b, h0, c0, mask, rm, act=1, ract=2, threads=1, batch_major=int(bm))
    d_hs = rand(rng, *seq) if use_dhs else jnp.zeros((0,), jnp.float32)
    d_hT, d_cT = rand(rng, B, H), rand(rng, B, H)
    shapes = [xs.shape if want_dx else (0,), (D, 4 * H), (H, 4 * H), (4 * H,), (B, H), (B, H),
              (B, H) if use_rm else (0,)]
    names = ("dxs", "dW", "dU", "db", "dh0", "dc0", "drm")

    def run(threads):
        out = ffi.call("lstm.cc", "rnnkit_lstm_backward", shapes, xs, W, U, gates, cs, c0, hs,
                       h0, mask, rm, d_hs, d_hT, d_cT, act=1, ract=2, threads=threads,
                       batch_major=int(bm))
        return [np.asarray(a) for a in out]

    one = run(1)
    for name, a in zip(names, one):
        assert np.isfinite(a).all(), name
        assert a.size == 0 or np.abs(a).max() > 0, name
    for threads in (-2, -3, 0):
        for name, a, r in zip(names, run(threads), one):
            np.testing.assert_array_equal(a, r, err_msg=f"{name}, threads={threads}")


def test_unit_split_backward_matches_the_row_split_to_rounding():
    """Against two row blocks (per-block weight-gradient sums added afterwards: a different
    summation order, so equal to float32 rounding only)."""
    require_native_lstm()
    B, T, D, H = 6, 5, 12, 40
    rng = np.random.default_rng(7)
    xs, W, U, b = rand(rng, B, T, D), rand(rng, D, 4 * H) * 0.3, rand(rng, H, 4 * H) * 0.2, \
        rand(rng, 4 * H) * 0.3
    h0, c0 = rand(rng, B, H), rand(rng, B, H)
    none = jnp.zeros((0,), jnp.float32)
    hs, _, _, gates, cs = ffi.call(
        "lstm.cc", "rnnkit_lstm_forward", [(B, T, H), (B, H), (B, H), (T, B, 4 * H),
                                           (T, B, H)],
        xs, W, U, b, h0, c0, jnp.zeros((0,), jnp.bool_), none, act=1, ract=2, threads=1,
        batch_major=1)
    d_hs, d_hT, d_cT = rand(rng, B, T, H), rand(rng, B, H), rand(rng, B, H)

    def run(threads):
        return ffi.call("lstm.cc", "rnnkit_lstm_backward",
                        [xs.shape, (D, 4 * H), (H, 4 * H), (4 * H,), (B, H), (B, H), (0,)],
                        xs, W, U, gates, cs, c0, hs, h0, jnp.zeros((0,), jnp.bool_), none,
                        d_hs, d_hT, d_cT, act=1, ract=2, threads=threads, batch_major=1)

    for a, r in zip(run(-2), run(2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(r), rtol=1e-5, atol=1e-5)
