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

#include <type_traits>

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

// VNNI pair interleave for _mm512_permutex2var_epi16: index c -> even slot 2c from the first
// row, odd slot 2c + 1 from the second.
alignas(64) inline constexpr uint16_t kVnniInterleave[32] = {
    0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
    8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};

// Packs rows [k0, k0 + rows) of a VNNI-packed (Kp, 16 * NT) operand from a float32
// source whose rows are `ld` floats apart; column block j (16 columns) of the operand is
// `width(j)` source columns from `first(j)`, zeros after them. Rows outside any call stay
// as the caller initialised them (zero them once for a padded K). Two rows that share a
// k-pair are converted and interleaved 16 columns at a time (the reverse loops pack their
// dz this way every step); a row whose partner lies outside the call is written alone.
template <typename First, typename Width>
inline void pack_vnni_rows_mapped(const float* src, int64_t rows, int64_t NT, int64_t ld,
                                  int64_t k0, int64_t Kp, BF16* packed, First first,
                                  Width width) {
  const int64_t KB = Kp / kTileK;
  auto tile_row = [&](int64_t k, int64_t j) {  // the 32 values of k's pair, column block j
    return packed + (j * KB + k / kTileK) * 512 + ((k % kTileK) / 2) * 32;
  };
  auto one_row = [&](int64_t r) {
    const int64_t k = k0 + r;
    for (int64_t j = 0; j < NT; ++j) {
      BF16* tile = tile_row(k, j) + k % 2;
      BF16 vals[16] = {};
      to_bf16(src + r * ld + first(j), vals, width(j));
      for (int64_t c = 0; c < 16; ++c) tile[2 * c] = vals[c];
    }
  };
  const __m512i idx = _mm512_load_si512(kVnniInterleave);
  int64_t r = 0;
  if (k0 % 2) one_row(r++);
  for (; r + 2 <= rows; r += 2) {
    const float *a = src + r * ld, *b = a + ld;
    for (int64_t j = 0; j < NT; ++j) {
      const __mmask16 m = tail_mask(0, width(j));
      const int64_t n0 = first(j);
      const __m512i va = _mm512_castsi256_si512(
          (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, a + n0)));
      const __m512i vb = _mm512_castsi256_si512(
          (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, b + n0)));
      _mm512_storeu_si512(tile_row(k0 + r, j), _mm512_permutex2var_epi16(va, idx, vb));
    }
  }
  if (r < rows) one_row(r);
}

// pack_vnni_rows from bf16 source rows of 16 * NT columns (zero padded), `ld` apart: the
// reverse loop packs the dz rows it has already rounded for its other product.
inline void pack_vnni_rows_bf16(const BF16* src, int64_t rows, int64_t NT, int64_t ld,
                                int64_t k0, int64_t Kp, BF16* packed) {
  const int64_t KB = Kp / kTileK;
  auto tile_row = [&](int64_t k, int64_t j) {
    return packed + (j * KB + k / kTileK) * 512 + ((k % kTileK) / 2) * 32;
  };
  auto one_row = [&](int64_t r) {
    const int64_t k = k0 + r;
    for (int64_t j = 0; j < NT; ++j) {
      BF16* tile = tile_row(k, j) + k % 2;
      for (int64_t c = 0; c < 16; ++c) tile[2 * c] = src[r * ld + j * 16 + c];
    }
  };
  const __m512i idx = _mm512_load_si512(kVnniInterleave);
  int64_t r = 0;
  if (k0 % 2) one_row(r++);
  for (; r + 2 <= rows; r += 2) {
    const BF16 *a = src + r * ld, *b = a + ld;
    for (int64_t j = 0; j < NT; ++j) {
      const __m512i va = _mm512_castsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + j * 16)));
      const __m512i vb = _mm512_castsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j * 16)));
      _mm512_storeu_si512(tile_row(k0 + r, j), _mm512_permutex2var_epi16(va, idx, vb));
    }
  }
  if (r < rows) one_row(r);
}

// pack_vnni_rows_mapped for a (rows, N) source in its own column order, padded to a
// multiple of 32 columns.
inline void pack_vnni_rows(const float* src, int64_t rows, int64_t N, int64_t ld, int64_t k0,
                           int64_t Kp, BF16* packed) {
  pack_vnni_rows_mapped(
      src, rows, round_up(N, kPanel) / 16, ld, k0, Kp, packed,
      [](int64_t j) { return j * 16; },
      [N](int64_t j) { return std::max<int64_t>(0, std::min<int64_t>(16, N - j * 16)); });
}

// pack_vnni_rows_mapped for the (rows, gates * H) weights of a gated cell with the gates
// interleaved per block of 16 units: column block 4 * b + q (gates = 4) holds units
// [16 b, 16 b + 16) of gate q, so one 64-column slice of the product holds all the gate
// pre-activations of 16 units (zero columns past H).
inline void pack_vnni_rows_gated(const float* src, int64_t rows, int64_t H, int64_t gates,
                                 int64_t k0, int64_t Kp, BF16* packed) {
  const int64_t blocks = (H + 15) / 16;
  pack_vnni_rows_mapped(
      src, rows, gates * blocks, gates * H, k0, Kp, packed,
      [=](int64_t j) { return (j % gates) * H + (j / gates) * 16; },
      [=](int64_t j) { return std::max<int64_t>(0, std::min<int64_t>(16, H - (j / gates) * 16)); });
}

// Sets rows [k_from, k_to) of a VNNI-packed (Kp, Np) operand to zero.
inline void zero_vnni_rows(int64_t k_from, int64_t k_to, int64_t Np, int64_t Kp, BF16* packed) {
  const int64_t KB = Kp / kTileK;
  for (int64_t k = k_from; k < k_to; ++k)
    for (int64_t j = 0; j < Np / 16; ++j) {
      BF16* tile = packed + (j * KB + k / kTileK) * 512 + ((k % kTileK) / 2) * 32 + k % 2;
      for (int64_t c = 0; c < 16; ++c) tile[2 * c] = 0;
    }
}

// Writes n floats of src (times m[i] where m is not null) in bf16 down one column of a
// row-major bf16 matrix, i.e. to col[i * ld]: the reverse loops buffer x_t and h_{t-1}
// transposed this way (converted 16 at a time, then stored one by one).
inline void put_column_bf16(const float* src, const float* m, int64_t n, BF16* col,
                            int64_t ld) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mk = tail_mask(i, n);
    __m512 v = _mm512_maskz_loadu_ps(mk, src + i);
    if (m) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk, m + i));
    alignas(32) BF16 vals[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(vals), (__m256i)_mm512_cvtneps_pbh(v));
    const int64_t w = std::min<int64_t>(16, n - i);
    for (int64_t c = 0; c < w; ++c) col[(i + c) * ld] = vals[c];
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

// ---------------------------------------------------------------------------------------
// The error-compensated split of float32 operands ("bf16x3"; the float32 policy's AMX
// loops). A float32 value v is hi + lo + r with hi = bf16(v), lo = bf16(v - hi) and |r| <=
// 2^-18 |v|. An operand row laid out [hi | lo | hi] (three segments `seg` values apart)
// against packed weights [B_hi; B_hi; B_lo] gives hi B_hi + lo B_hi + hi B_lo in one tile
// product of three times the K: every term but lo B_lo and the residuals, so each product
// is within 3 x 2^-18 (about 1.1e-5) of exact (relative), summed in float32.
// ---------------------------------------------------------------------------------------

// The low part v - hi, with 0 where v is infinite (inf - inf would make the sum NaN).
inline __m512 split_low(__m512 v, __m256i hi) {
  const __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
  const __m512 d = _mm512_sub_ps(v, back);
  const __mmask16 inf = _mm512_fpclass_ps_mask(v, 0x18);  // +inf or -inf
  return _mm512_mask_mov_ps(d, inf, _mm512_setzero_ps());
}

// Writes up to 16 values (lanes m) of v as hi at dst, lo at dst + seg and hi at dst + 2 seg.
inline void put_split3(__m512 v, __mmask16 m, BF16* dst, int64_t seg) {
  const __m256i hi = (__m256i)_mm512_cvtneps_pbh(v);
  const __m256i lo = (__m256i)_mm512_cvtneps_pbh(split_low(v, hi));
  _mm256_mask_storeu_epi16(dst, m, hi);
  _mm256_mask_storeu_epi16(dst + seg, m, lo);
  _mm256_mask_storeu_epi16(dst + 2 * seg, m, hi);
}

// put_split3 of n floats (times m[i] where m is not null).
inline void put_split3(const float* src, const float* m, int64_t n, BF16* dst, int64_t seg) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mk = tail_mask(j, n);
    __m512 v = _mm512_maskz_loadu_ps(mk, src + j);
    if (m) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk, m + j));
    put_split3(v, mk, dst + j, seg);
  }
}

// The low parts v - bf16(v) of n floats (the B_lo weights of the split).
inline Floats split_low(const float* src, int64_t n) {
  Floats out(n);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mk = tail_mask(j, n);
    const __m512 v = _mm512_maskz_loadu_ps(mk, src + j);
    _mm512_mask_storeu_ps(&out[j], mk, split_low(v, (__m256i)_mm512_cvtneps_pbh(v)));
  }
  return out;
}

// Packs the K segments of a weight operand (n floats at src) for S = 1 (bf16: its hi part)
// or S = 3 (split: hi, hi, lo, `seg` rows apart) by calling pack(values, k0) per segment.
template <typename Pack>
inline void pack_split_segments(const float* src, int64_t n, int64_t S, int64_t seg, Pack pack) {
  pack(src, int64_t{0});
  if (S == 3) {
    pack(src, seg);
    pack(split_low(src, n).data(), 2 * seg);
  }
}

// Activations for the bf16 loops, with the kind fixed at compile time. Their error, about
// 1e-4 (exp from a degree-4 Taylor polynomial after range reduction, 1/x from the 14-bit
// rcp14 estimate without a Newton step), stays far below that of rounding the matmul
// operands to bf16 (8 bits of mantissa), and they take about two thirds of the
// instructions of the float32 loops' forms (rnn_common.h). NaN stays NaN.
inline __m512 fast_exp(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-87.0f), _mm512_min_ps(_mm512_set1_ps(87.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.69314718055994531f), x);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24), r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512 fast_sigmoid(__m512 x) {  // 1 / (1 + e^{-x}); rcp14 of a huge value is 0
  const __m512 e = fast_exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_rcp14_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline __m512 fast_tanh(__m512 x) {  // 2 sigmoid(2x) - 1
  const __m512 s = fast_sigmoid(_mm512_add_ps(x, x));
  return _mm512_fmsub_ps(s, _mm512_set1_ps(2.0f), _mm512_set1_ps(1.0f));
}

template <int64_t KIND>
inline __m512 fast_act(__m512 x) {
  if constexpr (KIND == kTanh) return fast_tanh(x);
  else if constexpr (KIND == kSigmoid) return fast_sigmoid(x);
  else return x;
}

// Calls fn(std::integral_constant<int64_t, A>{}, std::integral_constant<int64_t, R>{}) with
// the activation kinds act and ract as compile-time constants.
template <typename Fn>
inline void with_act_kinds(int64_t act, int64_t ract, Fn fn) {
  auto inner = [&](auto a) {
    switch (ract) {
      case kTanh: return fn(a, std::integral_constant<int64_t, kTanh>{});
      case kSigmoid: return fn(a, std::integral_constant<int64_t, kSigmoid>{});
      default: return fn(a, std::integral_constant<int64_t, kLinear>{});
    }
  };
  switch (act) {
    case kTanh: return inner(std::integral_constant<int64_t, kTanh>{});
    case kSigmoid: return inner(std::integral_constant<int64_t, kSigmoid>{});
    default: return inner(std::integral_constant<int64_t, kLinear>{});
  }
}

inline size_t vnni_size(int64_t Kp, int64_t Np) { return static_cast<size_t>(Kp) * Np; }

// Asks for one B tile (16 rows of 64 bytes) in L1. The packed weights live in L2, and a
// tile load that misses L1 stalls the tile unit: prefetching the next K block's B tiles
// took a 32 x 320 x 1024 step product from 32 to 20 us on one core (measured under load).
inline void prefetch_tile(const BF16* tile) {
  const char* p = reinterpret_cast<const char*>(tile);
  for (int line = 0; line < 16; ++line) _mm_prefetch(p + 64 * line, _MM_HINT_T0);
}

// C (Mp, Np) = A (Mp, Kp) @ B, or C += A @ B with ACC. Blocks of 32 rows x 32 columns keep
// four C tiles in registers while two A and two B tiles stream past them; a 16-row
// remainder uses two C tiles. The calling thread must hold a TileScope. `work()` is called
// once per K block, before its tile products are issued: AVX-512 work placed there runs
// while the tile unit works through the previous products (they use different execution
// units). The bf16 LSTM forward hides its gate math of one block of units behind the
// product of the next this way: one thread's T100 B32 H256 loop 3.6-3.9 -> 3.0-3.3 ms of
// CPU time (called after the products instead, it gained only 3-5%; measured under load).
template <bool ACC, typename Work>
inline void amx_gemm(const BF16* A, int64_t lda, int64_t Mp, int64_t Kp, const BF16* B,
                     int64_t Np, float* C, int64_t ldc, Work&& work) {
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
        prefetch_tile(b0 + (kb + 1) * 512);  // the next B tiles (past the end: the next
        prefetch_tile(b1 + (kb + 1) * 512);  // column pair's first ones; never faults)
        _tile_loadd(4, A + m * lda + kb * kTileK, a_stride);
        work();
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

template <bool ACC>
inline void amx_gemm(const BF16* A, int64_t lda, int64_t Mp, int64_t Kp, const BF16* B,
                     int64_t Np, float* C, int64_t ldc) {
  amx_gemm<ACC>(A, lda, Mp, Kp, B, Np, C, ldc, [] {});
}

// Sums the row blocks' weight-gradient shares (each [dW: Dp rows; dU: Hp rows; db: 1 row],
// rows Np floats apart) into the unpadded outputs dW (D, N), dU (H, N) and db (N; null when
// the layer has no bias).
inline void sum_weight_grad_shares(const std::vector<Floats>& partial, float* dW, float* dU,
                                   float* db, int64_t D, int64_t H, int64_t Dp, int64_t Hp,
                                   int64_t N, int64_t Np) {
  float* outs[3] = {dW, dU, db};
  const int64_t offsets[3] = {0, Dp, Dp + Hp}, counts[3] = {D, H, 1};
  for (int q = 0; q < 3; ++q) {
    if (!outs[q]) continue;
    for (int64_t row = 0; row < counts[q]; ++row) {
      float* dst = outs[q] + row * N;
      std::fill(dst, dst + N, 0.0f);
      for (const auto& share : partial) {
        const float* src = share.data() + (offsets[q] + row) * Np;
        for (int64_t j = 0; j < N; ++j) dst[j] += src[j];
      }
    }
  }
}

}  // namespace rnnkit
