// The elementwise parts of the GRU loops (gate order z, r, h), shared by the float32 loops
// (gru.cc) and the bf16 ones (gru_bf16.cc), which differ only in their matmuls.
#pragma once

#include "rnn_common.h"

namespace rnnkit {

inline __m512 one_v() { return _mm512_set1_ps(1.0f); }

// One row of a reverse step from the saved gates g ([z, r, hh, hu_h] with reset_after,
// [z, r, hh] without) and h_{t-1}: the gradients of the pre-activations of z (and of r with
// reset_after) into zr (2H), of the candidate into ph, with reset_after dh~ * r into phr;
// dh (in: dL/dh_t) becomes the part of dL/dh_{t-1} through z.
inline void gru_dgates_row(const float* g, const float* hp, float* dh, float* zr, float* ph,
                           float* phr, int64_t H, int64_t act, int64_t ract, bool reset_after) {
  const __m512 one = one_v();
  for (int64_t j = 0; j < H; j += 16) {
    const __mmask16 m = tail_mask(j, H);
    const __m512 z = load(g + j, m), hh = load(g + 2 * H + j, m);
    const __m512 d = load(dh + j, m);
    const __m512 dh_ = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_sub_ps(one, z)),
                                     v_act_grad(act, hh));
    store(zr + j, m, _mm512_mul_ps(_mm512_mul_ps(d, _mm512_sub_ps(load(hp + j, m), hh)),
                                   v_act_grad(ract, z)));
    store(ph + j, m, dh_);
    if (reset_after) {
      const __m512 rg = load(g + H + j, m), uh = load(g + 3 * H + j, m);
      store(zr + H + j, m, _mm512_mul_ps(_mm512_mul_ps(dh_, uh), v_act_grad(ract, rg)));
      store(phr + j, m, _mm512_mul_ps(dh_, rg));
    }
    store(dh + j, m, _mm512_mul_ps(d, z));
  }
}

// dh_{t-1} = x * rm + dh (x: the recurrent product's row), drm += h_{t-1} * x into acc
// (rm, acc: nullptr without recurrent dropout).
inline void gru_dh_row(const float* x, const float* rm, const float* hp, float* acc, float* dh,
                       int64_t H) {
  for (int64_t j = 0; j < H; j += 16) {
    const __mmask16 m = tail_mask(j, H);
    const __m512 xv = load(x + j, m);
    const __m512 d = load(dh + j, m);
    store(dh + j, m, rm ? _mm512_fmadd_ps(xv, load(rm + j, m), d) : _mm512_add_ps(xv, d));
    if (acc) store(acc + j, m, _mm512_fmadd_ps(load(hp + j, m), xv, load(acc + j, m)));
  }
}

}  // namespace rnnkit

// The FFI signatures, shared by the float32 and the bf16 handlers of the same loop.
#define RNNKIT_GRU_FORWARD_BINDING \
  xla::ffi::Ffi::Bind() \
  .Arg<rnnkit::F32>()  /* xs (T, B, D) */ \
  .Arg<rnnkit::F32>()  /* W (D, 3H) */ \
  .Arg<rnnkit::F32>()  /* U (H, 3H) */ \
  .Arg<rnnkit::F32>()  /* b (2, 3H) / (3H) or (0,) */ \
  .Arg<rnnkit::F32>()  /* h0 (B, H) */ \
  .Arg<rnnkit::Mask>()  /* mask (T, B) or (0,) */ \
  .Arg<rnnkit::F32>()  /* rm (B, H) or (0,) */ \
  .Ret<rnnkit::F32>()  /* hs (T, B, H) or (0,) */ \
  .Ret<rnnkit::F32>()  /* hT (B, H) */ \
  .Ret<rnnkit::F32>()  /* gates (T, B, 4H | 3H) or (0,) */ \
  .Attr<int64_t>("act") \
  .Attr<int64_t>("ract") \
  .Attr<int64_t>("reset_after") \
  .Attr<int64_t>("threads")
#define RNNKIT_GRU_BACKWARD_BINDING \
  xla::ffi::Ffi::Bind() \
  .Arg<rnnkit::F32>()  /* U (H, 3H) */ \
  .Arg<rnnkit::F32>()  /* gates (T, B, 4H | 3H) */ \
  .Arg<rnnkit::F32>()  /* hs (T, B, H) */ \
  .Arg<rnnkit::F32>()  /* h0 (B, H) */ \
  .Arg<rnnkit::Mask>()  /* mask (T, B) or (0,) */ \
  .Arg<rnnkit::F32>()  /* rm (B, H) or (0,) */ \
  .Arg<rnnkit::F32>()  /* d_hs (T, B, H) or (0,) */ \
  .Arg<rnnkit::F32>()  /* d_hT (B, H) */ \
  .Ret<rnnkit::F32>()  /* dZR (T, B, 2H) */ \
  .Ret<rnnkit::F32>()  /* dPH (T, B, H) */ \
  .Ret<rnnkit::F32>()  /* dPHR (T, B, H) or (0,) */ \
  .Ret<rnnkit::F32>()  /* dh0 (B, H) */ \
  .Ret<rnnkit::F32>()  /* drm (B, H) or (0,) */ \
  .Attr<int64_t>("act") \
  .Attr<int64_t>("ract") \
  .Attr<int64_t>("reset_after") \
  .Attr<int64_t>("threads")
