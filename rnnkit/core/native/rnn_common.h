// Shared pieces of rnnkit's native CPU recurrences (AVX-512, float32):
// a packed-panel GEMM, vectorised activations, and the batch split over threads.
//
// Layout conventions: every sequence array is time-major and row-major, (T, B, X);
// a thread owns a contiguous block of batch rows [b0, b1) for the whole time loop, so
// the recurrences need no synchronisation between threads. Exception: a batch too small
// for one block per core may be split by units instead (the LSTM loops: lstm.cc
// `LstmFwd::units_split`, lstm_bwd.h `LstmBwd::units`), its threads meeting at a
// StepBarrier after every step.
#pragma once

#if !defined(__AVX512F__)
#error "rnnkit native kernels need AVX-512F (rnnkit falls back to its XLA kernels)"
#endif

#include <immintrin.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace rnnkit {

namespace ffi = xla::ffi;
using F32 = ffi::Buffer<ffi::F32>;
using F32Out = ffi::ResultBuffer<ffi::F32>;
using Mask = ffi::Buffer<ffi::PRED>;

constexpr int64_t kPanel = 32;  // output columns per packed panel (two zmm registers)

// Heap storage that starts on a 64-byte cache line. malloc gives 16-byte alignment, and
// with packed weights off a line boundary every zmm load of a step's GEMM touches two
// lines: the batch-1 LSTM loop (73 KB of weights streamed from L2 per step) took 74-77 us
// instead of 54 us per 100 steps, and which of the two a process got depended on where
// its heap happened to be (benchmarks/PERF_NOTES.md, lever 10).
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kAlign); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;
using Floats = AlignedVector<float>;

inline int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// ---------------------------------------------------------------------------------------
// Packing. A (K, N) operand is stored as ceil(N/32) panels of (K, 32), zero-padded.
// ---------------------------------------------------------------------------------------

// Writes rows [k0, k0 + rows) of a packed (K, Np) operand from a (rows, N) source whose
// rows are `ld` apart (default N; a larger ld reads a column slice of a wider matrix).
inline void pack_rows(const float* src, int64_t rows, int64_t N, int64_t K, int64_t k0,
                      float* packed, int64_t ld = -1) {
  if (ld < 0) ld = N;
  const int64_t panels = round_up(N, kPanel) / kPanel;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t n0 = p * kPanel, w = std::min<int64_t>(kPanel, N - n0);
    for (int64_t k = 0; k < rows; ++k) {
      float* dst = packed + (p * K + k0 + k) * kPanel;
      std::memcpy(dst, src + k * ld + n0, w * sizeof(float));
      std::fill(dst + w, dst + kPanel, 0.0f);
    }
  }
}

// Packs the transpose of an (N, K) source whose rows are `ld` apart (default K) as a
// (K, Np) operand. Source rows are read contiguously.
inline void pack_transposed(const float* src, int64_t N, int64_t K, float* packed,
                            int64_t ld = -1) {
  if (ld < 0) ld = K;
  const int64_t Np = round_up(N, kPanel);
  for (int64_t n = 0; n < Np; ++n) {
    float* dst = packed + (n / kPanel) * K * kPanel + n % kPanel;
    const float* s = n < N ? src + n * ld : nullptr;
    for (int64_t k = 0; k < K; ++k) dst[k * kPanel] = s ? s[k] : 0.0f;
  }
}

// ---------------------------------------------------------------------------------------
// GEMM: C (M, Np) = init + A (M, K) @ packed (K, Np). Np is a multiple of 32; C rows are
// `ldc` apart; `init` is one row of Np values added to every row (a bias), or nullptr.
// ---------------------------------------------------------------------------------------

// A is read as A[r * lda + k] (row-major (M, K)), or, with TA, as A[k * lda + r] (the
// operand stored transposed, (K, M) row-major). With ACC the tile of C is accumulated into.
template <int MR, bool TA, bool ACC>
inline void micro(const float* A, int64_t lda, const float* panel, int64_t K,
                  const float* init, float* C, int64_t ldc) {
  __m512 a0[MR], a1[MR];
  if constexpr (ACC) {
    for (int r = 0; r < MR; ++r) {
      a0[r] = _mm512_loadu_ps(C + r * ldc);
      a1[r] = _mm512_loadu_ps(C + r * ldc + 16);
    }
  } else {
    const __m512 i0 = init ? _mm512_loadu_ps(init) : _mm512_setzero_ps();
    const __m512 i1 = init ? _mm512_loadu_ps(init + 16) : _mm512_setzero_ps();
    for (int r = 0; r < MR; ++r) { a0[r] = i0; a1[r] = i1; }
  }
  for (int64_t k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_loadu_ps(panel + k * kPanel);
    const __m512 b1 = _mm512_loadu_ps(panel + k * kPanel + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(TA ? A[k * lda + r] : A[r * lda + k]);
      a0[r] = _mm512_fmadd_ps(a, b0, a0[r]);
      a1[r] = _mm512_fmadd_ps(a, b1, a1[r]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_ps(C + r * ldc, a0[r]);
    _mm512_storeu_ps(C + r * ldc + 16, a1[r]);
  }
}

template <int MR, bool TA, bool ACC>
inline void micro_rows(const float* A, int64_t lda, const float* panel, int64_t K,
                       const float* init, float* C, int64_t ldc, int64_t rows) {
  // rows < MR: recurse down to the exact block size.
  if constexpr (MR > 1) {
    if (rows == MR) return micro<MR, TA, ACC>(A, lda, panel, K, init, C, ldc);
    return micro_rows<MR - 1, TA, ACC>(A, lda, panel, K, init, C, ldc, rows);
  } else {
    micro<1, TA, ACC>(A, lda, panel, K, init, C, ldc);
  }
}

template <bool TA, bool ACC>
inline void gemm_panels(const float* A, int64_t lda, int64_t M, int64_t K, const float* packed,
                        int64_t Kfull, int64_t Np, const float* init, float* C, int64_t ldc) {
  constexpr int64_t MR = 12;
  for (int64_t p = 0; p < Np / kPanel; ++p) {
    const float* panel = packed + p * Kfull * kPanel;
    const float* ip = init ? init + p * kPanel : nullptr;
    int64_t m = 0;
    for (; m + MR <= M; m += MR) {
      const float* a = TA ? A + m : A + m * lda;
      micro<MR, TA, ACC>(a, lda, panel, K, ip, C + m * ldc + p * kPanel, ldc);
    }
    if (m < M) {
      const float* a = TA ? A + m : A + m * lda;
      micro_rows<MR - 1, TA, ACC>(a, lda, panel, K, ip, C + m * ldc + p * kPanel, ldc, M - m);
    }
  }
}

// K is processed in blocks of kKBlock so that one panel block (kKBlock x 32 floats = 32 KiB)
// stays in L1 while every row block of A streams past it.
constexpr int64_t kKBlock = 256;

template <bool TA, bool ACC>
inline void gemm_impl(const float* A, int64_t lda, int64_t M, int64_t K, const float* packed,
                      int64_t Np, const float* init, float* C, int64_t ldc) {
  for (int64_t k0 = 0; k0 < K; k0 += kKBlock) {
    const int64_t kb = std::min(kKBlock, K - k0);
    const float* a = TA ? A + k0 * lda : A + k0;
    const float* b = packed + k0 * kPanel;
    if (ACC || k0 > 0)
      gemm_panels<TA, true>(a, lda, M, kb, b, K, Np, nullptr, C, ldc);
    else
      gemm_panels<TA, false>(a, lda, M, kb, b, K, Np, init, C, ldc);
  }
}

// C (M, Np) = init + A (M, K) @ packed (K, Np)
inline void gemm(const float* A, int64_t lda, int64_t M, int64_t K, const float* packed,
                 int64_t Np, const float* init, float* C, int64_t ldc) {
  gemm_impl<false, false>(A, lda, M, K, packed, Np, init, C, ldc);
}

// C (M, Np) += At^T @ packed (K, Np), At stored (K, M) row-major with rows lda apart:
// the weight-gradient update  dW += x_t^T @ dz_t  straight from the time-major arrays.
inline void gemm_tn_acc(const float* At, int64_t lda, int64_t M, int64_t K,
                        const float* packed, int64_t Np, float* C, int64_t ldc) {
  gemm_impl<true, true>(At, lda, M, K, packed, Np, nullptr, C, ldc);
}

// One row, panels [p0, p0 + NP): c = init + a (K) @ packed (K, Np), or with ACC c += a @
// packed. NP panels side by side, the even and odd k in separate accumulators: 4 * NP
// independent FMA chains, where a one-row GEMM tile has 2 and FMA latency would bound a
// batch-1 step.
template <int NP, bool ACC>
inline void gemv_group(const float* a, int64_t K, const float* packed, int64_t p0,
                       const float* init, float* c) {
  __m512 e[2 * NP], o[2 * NP];
  for (int i = 0; i < NP; ++i) {
    const int64_t n0 = (p0 + i) * kPanel;
    const float* start = ACC ? c + n0 : init ? init + n0 : nullptr;
    e[2 * i] = start ? _mm512_loadu_ps(start) : _mm512_setzero_ps();
    e[2 * i + 1] = start ? _mm512_loadu_ps(start + 16) : _mm512_setzero_ps();
    o[2 * i] = _mm512_setzero_ps();
    o[2 * i + 1] = _mm512_setzero_ps();
  }
  const float* base = packed + p0 * K * kPanel;
  int64_t k = 0;
  for (; k + 2 <= K; k += 2) {
    const __m512 a0 = _mm512_set1_ps(a[k]), a1 = _mm512_set1_ps(a[k + 1]);
#pragma GCC unroll 4
    for (int i = 0; i < NP; ++i) {
      const float* row = base + (i * K + k) * kPanel;
      e[2 * i] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(row), e[2 * i]);
      e[2 * i + 1] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(row + 16), e[2 * i + 1]);
      o[2 * i] = _mm512_fmadd_ps(a1, _mm512_loadu_ps(row + kPanel), o[2 * i]);
      o[2 * i + 1] = _mm512_fmadd_ps(a1, _mm512_loadu_ps(row + kPanel + 16), o[2 * i + 1]);
    }
  }
  if (k < K) {
    const __m512 a0 = _mm512_set1_ps(a[k]);
    for (int i = 0; i < NP; ++i) {
      const float* row = base + (i * K + k) * kPanel;
      e[2 * i] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(row), e[2 * i]);
      e[2 * i + 1] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(row + 16), e[2 * i + 1]);
    }
  }
  for (int i = 0; i < NP; ++i) {
    float* dst = c + (p0 + i) * kPanel;
    _mm512_storeu_ps(dst, _mm512_add_ps(e[2 * i], o[2 * i]));
    _mm512_storeu_ps(dst + 16, _mm512_add_ps(e[2 * i + 1], o[2 * i + 1]));
  }
}

// c (Np) = init + a (K) @ packed (K, Np), or c += a @ packed with ACC (init unused), in
// groups of up to 4 panels; `reverse` visits the groups last to first (same arithmetic, each
// group writes its own columns). A time loop alternates the direction step by step: when
// the packed operand is larger than L1, the groups read last in one step are still cached
// when the next step starts with them, instead of a cyclic sweep missing on every line.
// Batch-1 LSTM D8 H64 (72 KB packed), 100 steps: 42-44 us -> 31-35 us.
template <bool ACC = false>
inline void gemv(const float* a, int64_t K, const float* packed, int64_t Np, const float* init,
                 float* c, bool reverse = false) {
  const int64_t panels = Np / kPanel, groups = (panels + 3) / 4;
  for (int64_t i = 0; i < groups; ++i) {
    const int64_t p = 4 * (reverse ? groups - 1 - i : i);
    switch (std::min<int64_t>(4, panels - p)) {
      case 4: gemv_group<4, ACC>(a, K, packed, p, init, c); break;
      case 3: gemv_group<3, ACC>(a, K, packed, p, init, c); break;
      case 2: gemv_group<2, ACC>(a, K, packed, p, init, c); break;
      default: gemv_group<1, ACC>(a, K, packed, p, init, c); break;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Activations. Kinds match rnnkit.core.seq_common.Act.kind.
// ---------------------------------------------------------------------------------------

enum Act : int64_t { kLinear = 0, kTanh = 1, kSigmoid = 2 };

inline __m512 v_exp(__m512 x) {
  // exp(x) = 2^n * e^r, |r| <= ln2/2; Cody-Waite split of ln2, degree-6 polynomial
  // (max relative error ~1.2e-7 on [-87, 88]).
  // clamp with the constant as the first operand: min/max return their second operand
  // when one is NaN, so a NaN input stays NaN
  x = _mm512_max_ps(_mm512_set1_ps(-88.0f), _mm512_min_ps(_mm512_set1_ps(88.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// 1 / d for d in [1, 2]: the 14-bit hardware estimate refined by one Newton step
// (relative error ~1e-8 before rounding); a fraction of the cost of a full division.
inline __m512 v_recip_1_2(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

inline __m512 v_sigmoid(__m512 x) {
  // 1 / (1 + e^{-x}) for x >= 0 and e^{x} / (1 + e^{x}) otherwise: the denominator stays
  // in [1, 2], where the refined reciprocal is accurate
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = v_exp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
  const __m512 r = v_recip_1_2(_mm512_add_ps(one, e));
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(r, neg, e, r);
}

inline __m512 v_tanh(__m512 x) {
  // tanh|x| = (1 - e^{-2|x|}) / (1 + e^{-2|x|}), sign restored (absolute error < 1e-7)
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = v_exp(_mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(-2.0f)));
  const __m512 y = _mm512_mul_ps(_mm512_sub_ps(one, t), v_recip_1_2(_mm512_add_ps(one, t)));
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y), sign));
}

inline __m512 v_act(int64_t kind, __m512 x) {
  if (kind == kTanh) return v_tanh(x);
  if (kind == kSigmoid) return v_sigmoid(x);
  return x;
}

// act'(pre) from the activation's output y
inline __m512 v_act_grad(int64_t kind, __m512 y) {
  const __m512 one = _mm512_set1_ps(1.0f);
  if (kind == kTanh) return _mm512_fnmadd_ps(y, y, one);
  if (kind == kSigmoid) return _mm512_mul_ps(y, _mm512_sub_ps(one, y));
  return one;
}

inline __mmask16 tail_mask(int64_t j, int64_t n) {
  const int64_t left = n - j;
  return left >= 16 ? static_cast<__mmask16>(0xFFFF)
                     : static_cast<__mmask16>((1u << left) - 1u);
}

inline __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline void store(float* p, __mmask16 m, __m512 v) { _mm512_mask_storeu_ps(p, m, v); }

// out[j] = act(in[j]) for j < n (in and out may alias)
inline void act_into(int64_t kind, const float* in, float* out, int64_t n) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(j, n);
    store(out + j, m, v_act(kind, load(in + j, m)));
  }
}

// ---------------------------------------------------------------------------------------
// Threads: the batch rows are split into contiguous blocks, one per thread.
// ---------------------------------------------------------------------------------------

constexpr int64_t kMinRowsPerThread = 8;

inline int64_t usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// The number of row blocks (threads) for a batch of B rows; `threads` <= 0 picks one per
// core, with at least kMinRowsPerThread rows each.
inline int64_t row_block_count(int64_t B, int64_t threads) {
  const int64_t n = threads > 0 ? threads : std::min(usable_cpus(), B / kMinRowsPerThread);
  return std::max<int64_t>(1, std::min(n, B));
}

// A barrier for the threads of one call: spins briefly (256 pauses, ~10-30 us), then
// yields (the machine may be shared; a descheduled partner should not cost a full spin of
// the other core).
struct StepBarrier {
  std::atomic<int64_t> arrived{0}, generation{0};
  int64_t n = 1;
  void wait() {
    if (n <= 1) return;
    const int64_t g = generation.load(std::memory_order_acquire);
    if (arrived.fetch_add(1, std::memory_order_acq_rel) == n - 1) {
      arrived.store(0, std::memory_order_relaxed);
      generation.fetch_add(1, std::memory_order_release);
      return;
    }
    for (int spins = 0; generation.load(std::memory_order_acquire) == g; ++spins) {
      if (spins < 256)
        _mm_pause();
      else
        std::this_thread::yield();
    }
  }
};

// Calls fn(b0, b1, i) for block i of the `blocks` contiguous blocks of [0, B), block 0 on
// the calling thread and the others on their own threads.
template <typename Fn>
void for_row_blocks_indexed(int64_t B, int64_t blocks, Fn fn) {
  if (blocks <= 1) return fn(int64_t{0}, B, int64_t{0});
  std::vector<std::thread> pool;
  pool.reserve(blocks - 1);
  auto bounds = [&](int64_t i) { return B * i / blocks; };
  for (int64_t i = 1; i < blocks; ++i) pool.emplace_back(fn, bounds(i), bounds(i + 1), i);
  fn(bounds(0), bounds(1), int64_t{0});
  for (auto& t : pool) t.join();
}

// Calls fn(b0, b1) for each block of [0, B); `threads` <= 0 picks the count from the cores.
template <typename Fn>
void for_row_blocks(int64_t B, int64_t threads, Fn fn) {
  for_row_blocks_indexed(B, row_block_count(B, threads),
                         [&fn](int64_t b0, int64_t b1, int64_t) { fn(b0, b1); });
}

// The reverse loops update dW / dU from at least this many buffered rows at once: one GEMM
// with K = 64 instead of one per step with K = rows per thread. SimpleRNN backward, 32-256
// rows measured within ~5% of each other at B1-B64, 64 the best or level with the best.
constexpr int64_t kUpdateRows = 64;

// Buffers h_{t-1} * rm (rm: nullptr for none) of one step's rows for the weight update.
inline void stage_recurrent_input(const float* h_prev, const float* rm, int64_t n, float* out) {
  if (!rm) return (void)std::memcpy(out, h_prev, n * sizeof(float));
  for (int64_t i = 0; i < n; ++i) out[i] = h_prev[i] * rm[i];
}

// dW += xc^T dz and dU += hc^T dz over the K buffered rows (dz (K, N); dzp: room for dz
// packed as (K, Np)).
inline void update_weight_grads(const float* dz, int64_t K, int64_t N, const float* xc,
                                int64_t D, const float* hc, int64_t H, float* dzp, int64_t Np,
                                float* dW, float* dU) {
  pack_rows(dz, K, N, K, 0, dzp);
  gemm_tn_acc(xc, D, D, K, dzp, Np, dW, Np);
  gemm_tn_acc(hc, H, H, K, dzp, Np, dU, Np);
}

// The reverse loops' weight gradients: each row block accumulates its own (D + H + 1, Np)
// share [dW; dU; db] (rows Np apart); summed here into the unpadded (D, N), (H, N) and (N)
// outputs (db may be nullptr: no bias).
inline void sum_weight_grads(const std::vector<Floats>& partial, int64_t D,
                             int64_t H, int64_t N, int64_t Np, float* dW, float* dU,
                             float* db) {
  for (int64_t row = 0; row < D + H + 1; ++row) {
    float* dst = row < D ? dW + row * N : row < D + H ? dU + (row - D) * N : db;
    if (!dst) continue;
    std::fill(dst, dst + N, 0.0f);
    for (const auto& share : partial) {
      const float* src = share.data() + row * Np;
      for (int64_t j = 0; j < N; ++j) dst[j] += src[j];
    }
  }
}

// ---------------------------------------------------------------------------------------
// Weight-gradient sums in a cache-friendly layout (the LSTM reverse loop). The update
// dWU (M, Np) += A^T (M, K) @ dz (K, Np) with M = D + H features [x | h rm] and K buffered
// rows keeps
// - dWU panel-major: panel p holds its M rows of 32 sums contiguously (p * M * 32), so one
//   micro tile of C is 12 consecutive 128-byte rows instead of 12 rows Np floats apart
//   (4 KB at 4H = 1024), which the hardware prefetcher follows and no set of L1 aliases;
// - A staged as micro-panels: block mb of 12 features holds, for each buffered row k, its 12
//   values at mb * cap * 12 + k * 12 (cap: the buffer's row capacity), read contiguously.
// ---------------------------------------------------------------------------------------

constexpr int64_t kMicroRows = 12;  // rows of the gemm_panels register tile

// Writes one buffered row (k) of features [x (D) | h (H) * rm] into the micro-panels xh.
inline void stage_features(const float* x, int64_t D, const float* h, const float* rm,
                           int64_t H, int64_t k, int64_t cap, float* row, float* xh) {
  std::memcpy(row, x, D * sizeof(float));
  stage_recurrent_input(h, rm, H, row + D);
  const int64_t M = D + H;
  for (int64_t m = 0; m < M; m += kMicroRows)
    std::memcpy(xh + (m / kMicroRows * cap + k) * kMicroRows, row + m,
                std::min(kMicroRows, M - m) * sizeof(float));
}

// Writes the features [m0, m1) of buffered row k into the micro-panels xh, as
// stage_features does: v[m - m0], times rm[m - m0] where rm is given.
inline void stage_feature_range(const float* v, const float* rm, int64_t m0, int64_t m1,
                                int64_t k, int64_t cap, float* xh) {
  for (int64_t m = m0; m < m1; ++m)
    xh[(m / kMicroRows * cap + k) * kMicroRows + m % kMicroRows] =
        rm ? v[m - m0] * rm[m - m0] : v[m - m0];
}

// dWU (panel-major, M rows per panel) += A^T dz over K rows: xh the micro-panels of A (row
// capacity cap), dzp dz packed as (K, Np) panels. The feature blocks go in chunks whose A
// part (chunk * 12 * K floats) stays in L1 next to one dz panel while the panels stream by.
inline void update_weight_grads_pm(const float* xh, int64_t cap, int64_t K, const float* dzp,
                                   int64_t Np, int64_t M, float* dWU) {
  const int64_t blocks = (M + kMicroRows - 1) / kMicroRows;
  for (int64_t k0 = 0; k0 < K; k0 += kKBlock) {
    const int64_t kb = std::min(kKBlock, K - k0);
    const int64_t chunk = std::max<int64_t>(1, 6144 / (kMicroRows * kb));  // ~24 KB of A
    for (int64_t c0 = 0; c0 < blocks; c0 += chunk) {
      const int64_t c1 = std::min(blocks, c0 + chunk);
      for (int64_t p = 0; p < Np / kPanel; ++p) {
        const float* panel = dzp + (p * K + k0) * kPanel;
        float* C = dWU + p * M * kPanel;
        for (int64_t mb = c0; mb < c1; ++mb) {
          const float* a = xh + (mb * cap + k0) * kMicroRows;
          const int64_t m = mb * kMicroRows;
          if (m + kMicroRows <= M)
            micro<kMicroRows, true, true>(a, kMicroRows, panel, kb, nullptr, C + m * kPanel,
                                          kPanel);
          else
            micro_rows<kMicroRows - 1, true, true>(a, kMicroRows, panel, kb, nullptr,
                                                   C + m * kPanel, kPanel, M - m);
        }
      }
    }
  }
}

// Sums the row blocks' shares, each [dWU panel-major (M = D + H rows, Np); db (Np)], into
// the unpadded dW (D, N), dU (H, N) and db (N) (db may be nullptr: no bias).
inline void sum_weight_grads_pm(const std::vector<Floats>& partial, int64_t D, int64_t H,
                                int64_t N, int64_t Np, float* dW, float* dU, float* db) {
  const int64_t M = D + H;
  for (int64_t m = 0; m < M; ++m) {
    float* dst = m < D ? dW + m * N : dU + (m - D) * N;
    std::fill(dst, dst + N, 0.0f);
    for (const auto& share : partial)
      for (int64_t p = 0; p * kPanel < N; ++p) {
        const float* src = share.data() + (p * M + m) * kPanel;
        const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
        for (int64_t j = 0; j < w; ++j) dst[p * kPanel + j] += src[j];
      }
  }
  if (!db) return;
  std::fill(db, db + N, 0.0f);
  for (const auto& share : partial)
    for (int64_t j = 0; j < N; ++j) db[j] += share[M * Np + j];
}

// The row of step t for batch row b in a sequence array: (T, B, X) time-major, or (B, T, X)
// batch-major (read and written in place, sparing XLA a transpose on either side).
inline int64_t seq_row(bool batch_major, int64_t T, int64_t B, int64_t t, int64_t b) {
  return batch_major ? b * T + t : t * B + b;
}

inline bool has(const F32& b) { return b.element_count() > 0; }

// "<handler>: <what was wrong>" as an InvalidArgument error, for handler bodies shared by
// several handler names.
inline ffi::Error invalid_argument(const char* handler, const char* what) {
  return ffi::Error::InvalidArgument(std::string(handler) + ": " + what);
}
inline bool has_out(F32Out& b) { return b->element_count() > 0; }

// The SimpleRNN backward's operand shapes, checked once for the float32 and the bf16
// handler: nullptr and (T, B, D, H) in `dims`, or what is wrong.
inline const char* srnn_backward_shape_error(const F32& xs, const F32& W, const F32& U,
                                             const F32& hs, const F32& h0, const Mask& mask,
                                             const F32& rm, const F32& d_hs, const F32& d_hT,
                                             int64_t dims[4]) {
  auto xd = xs.dimensions(), hd = hs.dimensions(), ud = U.dimensions();
  if (xd.size() != 3 || hd.size() != 3 || ud.size() != 2 || ud[0] != ud[1] ||
      hd[0] != xd[0] || hd[1] != xd[1] || hd[2] != ud[0])
    return "xs must be (T, B, D), hs (T, B, H), U (H, H)";
  const int64_t T = xd[0], B = xd[1], D = xd[2], H = ud[0];
  if (W.element_count() != static_cast<size_t>(D * H) ||
      h0.element_count() != static_cast<size_t>(B * H) ||
      d_hT.element_count() != static_cast<size_t>(B * H) ||
      (has(d_hs) && d_hs.element_count() != hs.element_count()) ||
      (has(rm) && rm.element_count() != static_cast<size_t>(B * H)) ||
      (mask.element_count() && mask.element_count() != static_cast<size_t>(T * B)))
    return "shapes do not match xs / U";
  dims[0] = T, dims[1] = B, dims[2] = D, dims[3] = H;
  return nullptr;
}

}  // namespace rnnkit

// The SimpleRNN FFI signatures, shared by the float32 (simple_rnn.cc) and the bf16
// (simple_rnn_bf16.cc) handlers.
#define RNNKIT_SRNN_FORWARD_BINDING \
  xla::ffi::Ffi::Bind() \
  .Arg<rnnkit::F32>()   /* xs (T, B, D) */ \
  .Arg<rnnkit::F32>()   /* W (D, H) */ \
  .Arg<rnnkit::F32>()   /* U (H, H) */ \
  .Arg<rnnkit::F32>()   /* b (H) or (0,) */ \
  .Arg<rnnkit::F32>()   /* h0 (B, H) */ \
  .Arg<rnnkit::Mask>()  /* mask (T, B) or (0,) */ \
  .Arg<rnnkit::F32>()   /* rm (B, H) or (0,) */ \
  .Ret<rnnkit::F32>()   /* hs (T, B, H) or (0,) */ \
  .Ret<rnnkit::F32>()   /* hT (B, H) */ \
  .Attr<int64_t>("act") \
  .Attr<int64_t>("threads")

#define RNNKIT_SRNN_BACKWARD_BINDING \
  xla::ffi::Ffi::Bind() \
  .Arg<rnnkit::F32>()   /* xs (T, B, D) */ \
  .Arg<rnnkit::F32>()   /* W (D, H) */ \
  .Arg<rnnkit::F32>()   /* U (H, H) */ \
  .Arg<rnnkit::F32>()   /* hs (T, B, H): the forward's states */ \
  .Arg<rnnkit::F32>()   /* h0 (B, H) */ \
  .Arg<rnnkit::Mask>()  /* mask (T, B) or (0,) */ \
  .Arg<rnnkit::F32>()   /* rm (B, H) or (0,) */ \
  .Arg<rnnkit::F32>()   /* d_hs (T, B, H) or (0,) */ \
  .Arg<rnnkit::F32>()   /* d_hT (B, H) */ \
  .Ret<rnnkit::F32>()   /* dxs (T, B, D) */ \
  .Ret<rnnkit::F32>()   /* dW (D, H) */ \
  .Ret<rnnkit::F32>()   /* dU (H, H) */ \
  .Ret<rnnkit::F32>()   /* db (H) or (0,) */ \
  .Ret<rnnkit::F32>()   /* dh0 (B, H) */ \
  .Ret<rnnkit::F32>()   /* drm (B, H) or (0,) */ \
  .Attr<int64_t>("act") \
  .Attr<int64_t>("threads")
