// bfloat16 matrix products on the AMX tile unit (Sapphire Rapids and later), for the
// mixed_bfloat16 loops: bf16 operands, float32 accumulation, float32 everywhere else.
//
// Layouts:
//  - A operand: bf16, row-major (Mp, Kp), Mp a multiple of 16 (tile rows), Kp of 32.
//  - B operand, "VNNI-packed": a (K, N) float32 matrix stored as bf16 tiles of 16 k-pairs x
//    16 columns x 2, one per (16-column block j, 32-row block kb), at element offset
//    (j * KB + kb) * 512 (KB = Kp / 32): what one _tile_loadd of a B tile reads (64-byte rows).
//  - C: float32 row-major (Mp, Np) with Np a multiple of 32, rows ldc floats apart.
#pragma once

#if !defined(__AMX_TILE__) || !defined(__AMX_BF16__) || !defined(__AVX512BF16__)
#error "rnnkit's bf16 kernels need AMX-BF16 and AVX512-BF16 (rnnkit falls back to XLA)"
#endif

#include <sys/syscall.h>
#include <unistd.h>

#include "rnn_common.h"

namespace rnnkit {

using BF16 = uint16_t;

constexpr int64_t kTileRows = 16;  // rows of an A / C tile
constexpr int64_t kTileK = 32;     // bf16 values along K in one A tile row (64 bytes)

// The process may use the tile registers (Linux asks for it once: ARCH_REQ_XCOMP_PERM).
inline bool amx_permitted() {
  static const bool ok = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                                 18 /* XFEATURE_XTILEDATA */) == 0;
  return ok;
}

// Tile configuration of this thread: 8 tiles of 16 rows x 64 bytes (palette 1). Tile state
// is per thread, so every worker thread configures its own and releases it at the end.
struct TileScope {
  TileScope() {
    struct alignas(64) {
      uint8_t palette = 1, start_row = 0, reserved[14] = {};
      uint16_t colsb[16] = {};
      uint8_t rows[16] = {};
    } cfg;
    for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = kTileRows;
    _tile_loadconfig(&cfg);
  }
  ~TileScope() { _tile_release(); }
};

// float32 -> bf16, round to nearest even (NaN stays NaN), 16 at a time.
inline void to_bf16(const float* src, BF16* dst, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j),
                        (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + j)));
  if (j < n) {
    const __mmask16 m = tail_mask(j, n);
    const __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + j));
    _mm256_mask_storeu_epi16(dst + j, m, v);
  }
}

inline BF16 to_bf16(float x) {
  BF16 out;
  to_bf16(&x, &out, 1);
  return out;
}

// Packs rows [k0, k0 + rows) of a VNNI-packed (Kp, Np) operand from a float32 (rows, N)
// source whose rows are `ld` floats apart; padding columns get zeros. Rows outside any
// call stay as the caller initialised them (zero them once for a padded K).
inline void pack_vnni_rows(const float* src, int64_t rows, int64_t N, int64_t ld, int64_t k0,
                           int64_t Kp, BF16* packed) {
  const int64_t KB = Kp / kTileK, NT = round_up(N, kPanel) / 16;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t k = k0 + r, kb = k / kTileK, pair = (k % kTileK) / 2, e = k % 2;
    for (int64_t j = 0; j < NT; ++j) {
      BF16* tile = packed + (j * KB + kb) * 512 + pair * 32 + e;
      const int64_t n0 = j * 16, w = std::max<int64_t>(0, std::min<int64_t>(16, N - n0));
      BF16 vals[16] = {};
      to_bf16(src + r * ld + n0, vals, w);
      for (int64_t c = 0; c < 16; ++c) tile[2 * c] = vals[c];
    }
  }
}

// Packs the transpose of a float32 (N, K) source (rows `ld` apart) as a VNNI (Kp, Np)
// operand: element (k, n) = src[n * ld + k].
inline void pack_vnni_transposed(const float* src, int64_t N, int64_t K, int64_t ld,
                                 int64_t Kp, BF16* packed) {
  const int64_t KB = Kp / kTileK;
  AlignedVector<BF16> row(K);
  for (int64_t n = 0; n < N; ++n) {
    to_bf16(src + n * ld, row.data(), K);
    const int64_t j = n / 16, c = n % 16;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t kb = k / kTileK, pair = (k % kTileK) / 2, e = k % 2;
      packed[(j * KB + kb) * 512 + pair * 32 + 2 * c + e] = row[k];
    }
  }
}

inline size_t vnni_size(int64_t Kp, int64_t Np) { return static_cast<size_t>(Kp) * Np; }

// C (Mp, Np) = A (Mp, Kp) @ B, or C += A @ B with ACC. Blocks of 32 rows x 32 columns keep
// four C tiles in registers while two A and two B tiles stream past them; a 16-row
// remainder uses two C tiles. The calling thread must hold a TileScope.
template <bool ACC>
inline void amx_gemm(const BF16* A, int64_t lda, int64_t Mp, int64_t Kp, const BF16* B,
                     int64_t Np, float* C, int64_t ldc) {
  const int64_t KB = Kp / kTileK, NT = Np / 16;
  const int64_t a_stride = lda * sizeof(BF16), c_stride = ldc * sizeof(float);
  for (int64_t m = 0; m < Mp; m += 2 * kTileRows) {
    const bool two = m + 2 * kTileRows <= Mp;
    for (int64_t j = 0; j < NT; j += 2) {
      float* c00 = C + m * ldc + j * 16;
      float* c10 = c00 + kTileRows * ldc;
      if constexpr (ACC) {
        _tile_loadd(0, c00, c_stride);
        _tile_loadd(1, c00 + 16, c_stride);
        if (two) {
          _tile_loadd(2, c10, c_stride);
          _tile_loadd(3, c10 + 16, c_stride);
        }
      } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
      }
      const BF16* b0 = B + j * KB * 512;
      const BF16* b1 = b0 + KB * 512;
      for (int64_t kb = 0; kb < KB; ++kb) {
        _tile_loadd(4, A + m * lda + kb * kTileK, a_stride);
        _tile_loadd(6, b0 + kb * 512, 64);
        _tile_loadd(7, b1 + kb * 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (two) {
          _tile_loadd(5, A + (m + kTileRows) * lda + kb * kTileK, a_stride);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
      }
      _tile_stored(0, c00, c_stride);
      _tile_stored(1, c00 + 16, c_stride);
      if (two) {
        _tile_stored(2, c10, c_stride);
        _tile_stored(3, c10 + 16, c_stride);
      }
    }
  }
}

}  // namespace rnnkit
