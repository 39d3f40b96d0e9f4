// The elementwise parts of the LSTM loops (gate order i, f, c, o), shared by the float32
// loops (lstm.cc) and the bf16 ones (lstm_bf16.cc), which differ only in their matmuls.
#pragma once

#include "rnn_common.h"

namespace rnnkit {

// One row of a forward step: z (4H pre-activations, plus `bias` when given) -> the gate
// activations (stored to g when not null), and where `step` (the mask) is set the new c and
// h in place, and h * rm (m; nullptr for none) into `next` when not null.
//
// Two 16-lane blocks per iteration, each activation computed for both before the next one:
// an activation is a chain of ~20 dependent operations, and with two chains side by side the
// core overlaps them (C++ harness, 8 rows of H128: 1.98 -> 1.60 us; 32 rows of H256: 16.6 ->
// 13.4 us). The same operations per element as one block at a time: identical results.
inline void lstm_cell_row(const float* z, const float* bias, int64_t H, int64_t act,
                          int64_t ract, float* g, bool step, float* c, float* h, float* next,
                          const float* m) {
  for (int64_t j = 0; j < H; j += 32) {
    const __mmask16 mk[2] = {tail_mask(j, H),
                             j + 16 < H ? tail_mask(j + 16, H) : static_cast<__mmask16>(0)};
    auto pre = [&](int u, int64_t q) {
      const int64_t at = q * H + j + 16 * u;
      const __m512 v = load(z + at, mk[u]);
      return bias ? _mm512_add_ps(v, load(bias + at, mk[u])) : v;
    };
    __m512 i[2], f[2], gg[2], o[2];
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) i[u] = v_act(ract, pre(u, 0));
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) f[u] = v_act(ract, pre(u, 1));
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) gg[u] = v_act(act, pre(u, 2));
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) o[u] = v_act(ract, pre(u, 3));
    if (g) {
#pragma GCC unroll 2
      for (int u = 0; u < 2; ++u) {
        const int64_t at = j + 16 * u;
        store(g + at, mk[u], i[u]);
        store(g + H + at, mk[u], f[u]);
        store(g + 2 * H + at, mk[u], gg[u]);
        store(g + 3 * H + at, mk[u], o[u]);
      }
    }
    if (!step) continue;
    __m512 cn[2], hn[2];
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u)
      cn[u] = _mm512_fmadd_ps(f[u], load(c + j + 16 * u, mk[u]), _mm512_mul_ps(i[u], gg[u]));
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) hn[u] = _mm512_mul_ps(o[u], v_act(act, cn[u]));
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) {
      const int64_t at = j + 16 * u;
      store(c + at, mk[u], cn[u]);
      store(h + at, mk[u], hn[u]);
      if (next) store(next + at, mk[u], m ? _mm512_mul_ps(hn[u], load(m + at, mk[u])) : hn[u]);
    }
  }
}

// One row of a reverse step: the gate-pre-activation gradients dz (4H) from the saved
// gates g, c_t and c_{t-1}, dh (d_h) and dc (d_c, updated in place to dc_{t-1} through f),
// for the units [j0, j1) (default all; j0 and j1 < H multiples of 16).
inline void lstm_dz_row(const float* g, const float* c_t, const float* c_prev, const float* d_h,
                        float* d_c, float* dz, int64_t H, int64_t act, int64_t ract,
                        int64_t j0 = 0, int64_t j1 = -1) {
  for (int64_t j = j0; j < (j1 < 0 ? H : j1); j += 16) {
    const __mmask16 m = tail_mask(j, H);
    const __m512 i = load(g + j, m), f = load(g + H + j, m), gg = load(g + 2 * H + j, m),
                 o = load(g + 3 * H + j, m);
    const __m512 dhv = load(d_h + j, m);
    const __m512 tc = v_act(act, load(c_t + j, m));
    const __m512 dct = _mm512_fmadd_ps(_mm512_mul_ps(dhv, o), v_act_grad(act, tc),
                                       load(d_c + j, m));
    store(dz + j, m, _mm512_mul_ps(v_act_grad(ract, i), _mm512_mul_ps(dct, gg)));
    store(dz + H + j, m,
          _mm512_mul_ps(v_act_grad(ract, f), _mm512_mul_ps(dct, load(c_prev + j, m))));
    store(dz + 2 * H + j, m, _mm512_mul_ps(v_act_grad(act, gg), _mm512_mul_ps(dct, i)));
    store(dz + 3 * H + j, m, _mm512_mul_ps(v_act_grad(ract, o), _mm512_mul_ps(dhv, tc)));
    store(d_c + j, m, _mm512_mul_ps(dct, f));
  }
}

// After a reverse step's product out = dz @ [U^T | W^T] (one row: H values of dh_{t-1}, then
// D of dx_t): writes dx_t (dx: nullptr when not wanted), and where the step was not masked
// dh_{t-1} = out_h * rm, with drm += h_{t-1} * out_h accumulated into acc (m, acc: nullptr
// without recurrent dropout); only the columns [c0, c1) of out (default all).
inline void lstm_scatter_row(const float* out, int64_t H, int64_t D, bool step, float* dx,
                             float* dh, const float* m, const float* h_prev, float* acc,
                             int64_t c0 = 0, int64_t c1 = -1) {
  if (c1 < 0) c1 = H + D;
  const int64_t x0 = std::max(c0, H), x1 = std::min(c1, H + D), h1 = std::min(c1, H);
  if (dx && x1 > x0) std::memcpy(dx + x0 - H, out + x0, (x1 - x0) * sizeof(float));
  if (!step || c0 >= h1) return;
  if (!m) return (void)std::memcpy(dh + c0, out + c0, (h1 - c0) * sizeof(float));
  for (int64_t j = c0; j < h1; ++j) {
    dh[j] = out[j] * m[j];
    acc[j] += h_prev[j] * out[j];
  }
}

}  // namespace rnnkit

// The FFI signatures, shared by the float32 and the bf16 handlers of the same loop.
#define RNNKIT_LSTM_FORWARD_BINDING \
  xla::ffi::Ffi::Bind() \
  .Arg<rnnkit::F32>()  /* xs (T, B, D), or (B, T, D) with batch_major */ \
  .Arg<rnnkit::F32>()  /* W (D, 4H) */ \
  .Arg<rnnkit::F32>()  /* U (H, 4H) */ \
  .Arg<rnnkit::F32>()  /* b (4H) or (0,) */ \
  .Arg<rnnkit::F32>()  /* h0 (B, H) */ \
  .Arg<rnnkit::F32>()  /* c0 (B, H) */ \
  .Arg<rnnkit::Mask>()  /* mask (T, B) or (0,) */ \
  .Arg<rnnkit::F32>()  /* rm (B, H) or (0,) */ \
  .Ret<rnnkit::F32>()  /* hs (T, B, H), (B, T, H) with batch_major, or (0,) */ \
  .Ret<rnnkit::F32>()  /* hT (B, H) */ \
  .Ret<rnnkit::F32>()  /* cT (B, H) */ \
  .Ret<rnnkit::F32>()  /* gates (T, B, 4H) or (0,) */ \
  .Ret<rnnkit::F32>()  /* cs (T, B, H) or (0,) */ \
  .Attr<int64_t>("act") \
  .Attr<int64_t>("ract") \
  .Attr<int64_t>("threads") \
  .Attr<int64_t>("batch_major")
#define RNNKIT_LSTM_BACKWARD_BINDING \
  xla::ffi::Ffi::Bind() \
  .Arg<rnnkit::F32>()  /* xs (T, B, D), or (B, T, D) with batch_major */ \
  .Arg<rnnkit::F32>()  /* W (D, 4H) */ \
  .Arg<rnnkit::F32>()  /* U (H, 4H) */ \
  .Arg<rnnkit::F32>()  /* gates (T, B, 4H) */ \
  .Arg<rnnkit::F32>()  /* cs (T, B, H) */ \
  .Arg<rnnkit::F32>()  /* c0 (B, H) */ \
  .Arg<rnnkit::F32>()  /* hs (T, B, H), or (B, T, H) with batch_major */ \
  .Arg<rnnkit::F32>()  /* h0 (B, H) */ \
  .Arg<rnnkit::Mask>()  /* mask (T, B) or (0,) */ \
  .Arg<rnnkit::F32>()  /* rm (B, H) or (0,) */ \
  .Arg<rnnkit::F32>()  /* d_hs, laid out as hs, or (0,) */ \
  .Arg<rnnkit::F32>()  /* d_hT (B, H) */ \
  .Arg<rnnkit::F32>()  /* d_cT (B, H) */ \
  .Ret<rnnkit::F32>()  /* dxs, laid out as xs */ \
  .Ret<rnnkit::F32>()  /* dW (D, 4H) */ \
  .Ret<rnnkit::F32>()  /* dU (H, 4H) */ \
  .Ret<rnnkit::F32>()  /* db (4H) or (0,) */ \
  .Ret<rnnkit::F32>()  /* dh0 (B, H) */ \
  .Ret<rnnkit::F32>()  /* dc0 (B, H) */ \
  .Ret<rnnkit::F32>()  /* drm (B, H) or (0,) */ \
  .Attr<int64_t>("act") \
  .Attr<int64_t>("ract") \
  .Attr<int64_t>("threads") \
  .Attr<int64_t>("batch_major")
