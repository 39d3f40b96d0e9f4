// The LSTM forward's register-tiled gate GEMM for blocks of >= 2 rows (lstm.cc `LstmFwd`):
// the interleaved weight packing and the tile kernels.
#pragma once

#include "lstm_common.h"

namespace rnnkit {

// ---------------------------------------------------------------------------------------
// The forward step for blocks of >= 2 rows: the gate GEMM and the cell math per group of 16
// units. The weights are packed with the gates interleaved: panel 2q holds units [16q,
// 16q + 16) of i and f, panel 2q + 1 those of g and o (32 columns each), rows the D of W
// and then the H of U. Per step and group, each panel runs over all row tiles (up to 12
// rows; x_t @ W read in place from xs, then h_{t-1} @ U, summed in registers) while it is
// cached, and the group's (rows, 64) pre-activations (8 KB at 32 rows) go straight into the
// cell math while they are in L1. No (rows, 4H) pre-activation buffer is written and read
// back, x_t is not copied, and the sums are formed in the same order as the plain GEMM +
// lstm_cell_row: bit-identical results. One thread, 32 rows of B64 T100 D64 H256: 4-5% less
// CPU time than that GEMM + cell pass; 8 rows (B8, or B16 T1000 D32 H128): 5-9% less.
// ---------------------------------------------------------------------------------------

constexpr int64_t kUnits = 16;  // units of each gate per pair of interleaved panels
constexpr int kTileRows = 12;

// Packs [[W], [U]] (D + H rows) into interleaved panels (see above), and b likewise into
// `bias` (nullptr: no bias).
inline void pack_interleaved(const float* W, const float* U, const float* b, int64_t D,
                             int64_t H, float* packed, float* bias) {
  const int64_t K = D + H, G = 4 * H, panels = 2 * ((H + kUnits - 1) / kUnits);
  auto put = [&](const float* src, float* dst, int64_t p) {  // gates 2 (p % 2) and + 1
    const int64_t j0 = p / 2 * kUnits, n = std::min(kUnits, H - j0);
    for (int64_t q = 0; q < 2; ++q) {
      std::memcpy(dst + q * kUnits, src + (2 * (p % 2) + q) * H + j0, n * sizeof(float));
      std::fill(dst + q * kUnits + n, dst + (q + 1) * kUnits, 0.0f);
    }
  };
  for (int64_t p = 0; p < panels; ++p) {
    for (int64_t k = 0; k < K; ++k)
      put(k < D ? W + k * G : U + (k - D) * G, packed + (p * K + k) * kPanel, p);
    if (bias) put(b, bias + p * kPanel, p);
  }
}

// a0 / a1 (MR rows x 32 columns) += A (MR rows lda apart, K) @ B (K x 32 panel rows); B is
// prefetched 16 rows ahead (at the end of a panel: the start of the next one)
template <int MR>
__attribute__((always_inline)) inline void tile_fma(__m512 (&a0)[MR], __m512 (&a1)[MR],
                                                    const float* A, int64_t lda,
                                                    const float* B, int64_t K) {
  for (int64_t k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_load_ps(B + k * kPanel), b1 = _mm512_load_ps(B + k * kPanel + 16);
    _mm_prefetch(reinterpret_cast<const char*>(B + (k + 16) * kPanel), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(B + (k + 16) * kPanel + 16), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
      a0[r] = _mm512_fmadd_ps(a, b0, a0[r]);
      a1[r] = _mm512_fmadd_ps(a, b1, a1[r]);
    }
  }
}

// out (MR rows ldo apart, 32) = init + x (MR rows ldx apart, D) @ panel[0:D] + h (MR rows
// ldh apart, H) @ panel[D:D+H]; init: 32 values for every row, or nullptr
template <int MR>
inline void gate_tile(const float* x, int64_t ldx, int64_t D, const float* h, int64_t ldh,
                      int64_t H, const float* panel, const float* init, float* out,
                      int64_t ldo) {
  __m512 a0[MR], a1[MR];
  const __m512 i0 = init ? _mm512_loadu_ps(init) : _mm512_setzero_ps();
  const __m512 i1 = init ? _mm512_loadu_ps(init + 16) : _mm512_setzero_ps();
  for (int r = 0; r < MR; ++r) a0[r] = i0, a1[r] = i1;
  tile_fma<MR>(a0, a1, x, ldx, panel, D);
  tile_fma<MR>(a0, a1, h, ldh, panel + D * kPanel, H);
  for (int r = 0; r < MR; ++r) {
    _mm512_store_ps(out + r * ldo, a0[r]);
    _mm512_store_ps(out + r * ldo + 16, a1[r]);
  }
}

template <int MR>
void gate_tile_rows(int rows, const float* x, int64_t ldx, int64_t D, const float* h,
                    int64_t ldh, int64_t H, const float* panel, const float* init, float* out,
                    int64_t ldo) {
  if constexpr (MR > 1)
    if (rows < MR)
      return gate_tile_rows<MR - 1>(rows, x, ldx, D, h, ldh, H, panel, init, out, ldo);
  gate_tile<MR>(x, ldx, D, h, ldh, H, panel, init, out, ldo);
}

}  // namespace rnnkit
