// Batch-1 step products straight from the row-major weights, without packing them.
//
// The packed GEMV (rnn_common.h, `gemv`) needs the weights copied into 32-column panels
// first, once per call: a fresh (D + H, 4H) buffer, zero-filled, then filled. For a batch-1
// call that copy is most of the native time when there are few steps (LSTM D8 H64: 5.0 us
// per call at T1 against 0.7 us without it; H256: 83 vs 11 us, page faults on the fresh
// buffer included), and it buys nothing while the weights fit the L2 cache: reading 16
// consecutive zmm of a weight row per k is as fast as reading a panel (T100: H64 60 vs 61
// us, H128 231 vs 203, H256 877 vs 839). With weights well beyond L2 (H512, 4 MB) the
// panels stream better (T100 10.9 vs 14.8 ms), and the packed GEMV stays the choice there
// unless the call has only a few steps (`use_rowmajor_gemv`).
#pragma once

#include "rnn_common.h"

namespace rnnkit {

// Columns [n0, n0 + 16 NV) of z = init + x (D) @ W (D, N) + h (H) @ U (H, N), W and U
// row-major with rows `ld` (>= N) apart; the last of the NV vectors is masked to the columns
// below N. One accumulator per vector: 16 independent FMA chains at NV = 16.
template <int NV>
inline void gemv_rows_block(const float* x, int64_t D, const float* W, const float* h,
                            int64_t H, const float* U, int64_t ld, const float* init,
                            float* z, int64_t n0, int64_t N, bool reverse) {
  const __mmask16 tail = tail_mask(n0 + 16 * (NV - 1), N);
  auto ld_row = [&](const float* row, int v) {
    return v == NV - 1 ? _mm512_maskz_loadu_ps(tail, row + n0 + 16 * v)
                       : _mm512_loadu_ps(row + n0 + 16 * v);
  };
  __m512 acc[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) acc[v] = init ? ld_row(init, v) : _mm512_setzero_ps();
  for (int64_t k = 0; k < D; ++k) {
    const __m512 a = _mm512_set1_ps(x[k]);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(a, ld_row(W + k * ld, v), acc[v]);
  }
  // `reverse` walks U's rows last to first: a time loop alternates it step by step, so the
  // rows read last in one step (still in L1) are the first ones the next step needs
  for (int64_t i = 0; i < H; ++i) {
    const int64_t k = reverse ? H - 1 - i : i;
    const __m512 a = _mm512_set1_ps(h[k]);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(a, ld_row(U + k * ld, v), acc[v]);
  }
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    float* dst = z + n0 + 16 * v;
    if (v == NV - 1)
      _mm512_mask_storeu_ps(dst, tail, acc[v]);
    else
      _mm512_storeu_ps(dst, acc[v]);
  }
}

// z (N) = init + x (D) @ W (D, N) + h (H) @ U (H, N), W and U row-major with rows `ld`
// apart (a column range of wider weights: GRU's gate groups), in blocks of 256 columns
// (`init`: N values, or nullptr for zeros; it may be z itself, to accumulate); D or H may
// be 0 (one product only); `reverse` also visits the blocks last to first. The same
// products as the packed GEMV, summed in another order: results agree to float32 rounding,
// not bit for bit.
inline void gemv_rows(const float* x, int64_t D, const float* W, const float* h, int64_t H,
                      const float* U, int64_t N, int64_t ld, const float* init, float* z,
                      bool reverse) {
  const int64_t blocks = (N + 255) / 256;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t n0 = 256 * (reverse ? blocks - 1 - i : i);
    const int64_t nv = std::min<int64_t>(16, (N - n0 + 15) / 16);
    switch (nv) {
#define RNNKIT_GEMV_ROWS_CASE(n)                                        \
  case n:                                                               \
    gemv_rows_block<n>(x, D, W, h, H, U, ld, init, z, n0, N, reverse); \
    break;
      RNNKIT_GEMV_ROWS_CASE(16) RNNKIT_GEMV_ROWS_CASE(15) RNNKIT_GEMV_ROWS_CASE(14)
      RNNKIT_GEMV_ROWS_CASE(13) RNNKIT_GEMV_ROWS_CASE(12) RNNKIT_GEMV_ROWS_CASE(11)
      RNNKIT_GEMV_ROWS_CASE(10) RNNKIT_GEMV_ROWS_CASE(9) RNNKIT_GEMV_ROWS_CASE(8)
      RNNKIT_GEMV_ROWS_CASE(7) RNNKIT_GEMV_ROWS_CASE(6) RNNKIT_GEMV_ROWS_CASE(5)
      RNNKIT_GEMV_ROWS_CASE(4) RNNKIT_GEMV_ROWS_CASE(3) RNNKIT_GEMV_ROWS_CASE(2)
      default: gemv_rows_block<1>(x, D, W, h, H, U, ld, init, z, n0, N, reverse);
#undef RNNKIT_GEMV_ROWS_CASE
    }
  }
}

// Whether a batch-1 loop of T steps over (D + H, N) weights reads them in place
// (`gemv_rows`) instead of packing them: always while they fit L2 (2^19 floats, 2 MB), and
// for short calls (packing costs about as much as 8 steps) whatever their size.
inline bool use_rowmajor_gemv(int64_t T, int64_t D, int64_t H, int64_t N) {
  return (D + H) * N <= (int64_t{1} << 19) || T <= 8;
}

}  // namespace rnnkit
