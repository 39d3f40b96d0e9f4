"""The native LSTM forward split by unit groups (lstm.cc `LstmFwd::units_split`).

A batch too small for the row split (under 16 rows on a multi-core machine) runs on several
threads that each own a range of 16-unit groups for all rows and meet at a barrier after
every step. Every element is computed by the same operations in the same order as on one
thread, so the outputs, the saved gates and cell states must be bit-identical to the
one-thread loop. `threads=-n` asks the handler for n unit-group threads; `threads=0` is the
default rule (a batch under two row blocks splits where a step has >= 2^19 multiply-adds,
any batch where the weights have >= 2^21 elements, given the cores).
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.core.native import ffi

from native_lstm_inputs import case_id, lstm_inputs, require_native_lstm

CASES = [
    # B, T, D, H, mask, rm, init, saves, batch_major
    (5, 7, 3, 40, True, True, True, True, True),  # 3 groups, the last one partial
    (8, 9, 64, 256, False, False, False, True, True),  # the default rule's shape (B8 H256)
    (2, 1, 4, 48, True, False, True, False, False),  # T = 1, time-major, 2 rows
    (3, 6, 70, 16, False, True, False, True, True),  # one group: nothing to split
    (20, 3, 64, 736, True, False, True, True, True),  # 2.3M weights: any batch splits
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_unit_split_is_bit_identical_to_one_thread(case):
    require_native_lstm()
    B, T, D, H, use_mask, use_rm, init, saves, bm = case
    rng = np.random.default_rng(B * T + H)
    xs, W, U, b, h0, c0, mask, rm = lstm_inputs(rng, B, T, D, H, batch_major=bm, mask=use_mask,
                                                rm=use_rm, init=init)
    seq = (B, T, H) if bm else (T, B, H)
    shapes = [seq, (B, H), (B, H), (T, B, 4 * H) if saves else (0,), (T, B, H) if saves else (0,)]

    def run(threads):
        out = ffi.call("lstm.cc", "rnnkit_lstm_forward", shapes, xs, W, U, b, h0, c0, mask, rm,
                       act=1, ract=2, threads=threads, batch_major=int(bm))
        return [np.asarray(a) for a in out]

    one = run(1)
    assert np.isfinite(one[0]).all() and np.abs(one[0]).max() > 0
    for threads in (-2, -3, 0):
        for name, a, r in zip(("hs", "hT", "cT", "gates", "cs"), run(threads), one):
            np.testing.assert_array_equal(a, r, err_msg=f"{name}, threads={threads}")
