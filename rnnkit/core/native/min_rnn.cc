// MinGRU and MinLSTM recurrences (Feng et al. 2024): the gates depend on x_t only, so the
// projection P = x W + b of every step is one GEMM in XLA and the time loop here is purely
// elementwise, h_t = a_t * h_{t-1} + (1 - a_t) * c_t:
//   MinGRU  (G = 2, P = [z~ | c]):      z = sigmoid(z~), a = 1 - z
//   MinLSTM (G = 3, P = [f~ | i~ | c]): f = sigmoid(f~), i = sigmoid(i~), a = f / (f + i)
// A masked step (mask false) keeps h. Every array is batch-major: P (B, T, G*U),
// hs / d_hs (B, T, U), mask (B, T).
//
// rnnkit_min{gru,lstm}_forward: P, h0, mask -> hs (or (0,)), hT.
// rnnkit_min{gru,lstm}_backward: the reverse recurrence g_{t-1} = d_hs_{t-1} + a_t g_t
//   (seeded with d_hT), fused with the gate gradients: P, hs, h0, mask, d_hs, d_hT ->
//   dP (B, T, G*U), dh0. dW, db and dx are then single GEMMs in XLA.
// Work is split over (batch row, block of columns) items, one contiguous range per thread.
#include "rnn_common.h"

namespace rnnkit {
namespace {

struct Items {
  int64_t B, U, blocks, width;  // column blocks per row and their width (multiple of 16)
  Items(int64_t B_, int64_t U_) : B(B_), U(U_) {
    const int64_t cpus = usable_cpus();
    blocks = std::max<int64_t>(1, std::min<int64_t>((cpus + B - 1) / B, (U + 15) / 16));
    width = round_up((U + blocks - 1) / blocks, 16);
    blocks = (U + width - 1) / width;
  }
  int64_t count() const { return B * blocks; }
  int64_t threads() const { return std::min<int64_t>(usable_cpus(), count()); }
  template <typename Fn>
  void run(Fn fn) const {  // fn(b, u0, u1)
    for_row_blocks_indexed(count(), threads(), [&](int64_t i0, int64_t i1, int64_t) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t b = i / blocks, u0 = (i % blocks) * width;
        fn(b, u0, std::min(U, u0 + width));
      }
    });
  }
};

// a_t for 16 columns at p (the step's row of P), and the candidate c_t
template <int G>
inline void gates(const float* p, int64_t U, int64_t j, __mmask16 m, __m512& a, __m512& c,
                  __m512& g0, __m512& g1) {
  const __m512 one = _mm512_set1_ps(1.0f);
  if constexpr (G == 2) {
    g0 = v_sigmoid(load(p + j, m));  // z
    a = _mm512_sub_ps(one, g0);
    c = load(p + U + j, m);
  } else {
    g0 = v_sigmoid(load(p + j, m));      // f
    g1 = v_sigmoid(load(p + U + j, m));  // i
    a = _mm512_div_ps(g0, _mm512_add_ps(g0, g1));
    c = load(p + 2 * U + j, m);
  }
}

template <int G>
ffi::Error Forward(F32 P, F32 h0, Mask mask, F32Out hs, F32Out hT) {
  const auto d = P.dimensions();
  if (d.size() != 3 || d[2] % G != 0)
    return ffi::Error::InvalidArgument("rnnkit_min*_forward: P must be (B, T, G*U)");
  const int64_t B = d[0], T = d[1], U = d[2] / G;
  if (h0.element_count() != B * U || hT->element_count() != B * U)
    return ffi::Error::InvalidArgument("rnnkit_min*_forward: h0 / hT must be (B, U)");
  const bool seq = has_out(hs), masked = mask.element_count() > 0;
  if (seq && hs->element_count() != B * T * U)
    return ffi::Error::InvalidArgument("rnnkit_min*_forward: hs must be (B, T, U)");
  if (masked && mask.element_count() != B * T)
    return ffi::Error::InvalidArgument("rnnkit_min*_forward: mask must be (B, T)");
  const float* p = P.typed_data();
  const bool* mk = masked ? mask.typed_data() : nullptr;
  float* out = seq ? hs->typed_data() : nullptr;
  const float* h0p = h0.typed_data();
  float* hTp = hT->typed_data();
  Items(B, U).run([&](int64_t b, int64_t u0, int64_t u1) {
    const int64_t n = u1 - u0;
    Floats h(h0p + b * U + u0, h0p + b * U + u1);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row = b * T + t;
      if (!mk || mk[row]) {
        const float* pr = p + row * G * U + u0;
        for (int64_t j = 0; j < n; j += 16) {
          const __mmask16 m = tail_mask(j, n);
          __m512 a, c, g0, g1;
          gates<G>(pr, U, j, m, a, c, g0, g1);
          const __m512 hp = load(&h[j], m);
          // h = a h + (1 - a) c = c + a (h - c)
          store(&h[j], m, _mm512_fmadd_ps(a, _mm512_sub_ps(hp, c), c));
        }
      }
      if (out) std::memcpy(out + row * U + u0, h.data(), n * sizeof(float));
    }
    std::memcpy(hTp + b * U + u0, h.data(), n * sizeof(float));
  });
  return ffi::Error::Success();
}

template <int G>
ffi::Error Backward(F32 P, F32 hs, F32 h0, Mask mask, F32 d_hs, F32 d_hT, F32Out dP,
                    F32Out dh0) {
  const auto d = P.dimensions();
  if (d.size() != 3 || d[2] % G != 0)
    return ffi::Error::InvalidArgument("rnnkit_min*_backward: P must be (B, T, G*U)");
  const int64_t B = d[0], T = d[1], U = d[2] / G;
  if (hs.element_count() != B * T * U || dP->element_count() != B * T * G * U ||
      h0.element_count() != B * U || d_hT.element_count() != B * U ||
      dh0->element_count() != B * U)
    return ffi::Error::InvalidArgument("rnnkit_min*_backward: shapes do not match P");
  const bool masked = mask.element_count() > 0, seq = has(d_hs);
  if ((masked && mask.element_count() != B * T) || (seq && d_hs.element_count() != B * T * U))
    return ffi::Error::InvalidArgument("rnnkit_min*_backward: mask / d_hs shapes");
  const float *p = P.typed_data(), *H = hs.typed_data(), *h0p = h0.typed_data();
  const float* dh = seq ? d_hs.typed_data() : nullptr;
  const bool* mk = masked ? mask.typed_data() : nullptr;
  float* dp = dP->typed_data();
  Items(B, U).run([&](int64_t b, int64_t u0, int64_t u1) {
    const int64_t n = u1 - u0;
    const __m512 one = _mm512_set1_ps(1.0f);
    Floats g(d_hT.typed_data() + b * U + u0, d_hT.typed_data() + b * U + u1);
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row = b * T + t;
      float* dpr = dp + row * G * U + u0;
      if (dh)
        for (int64_t j = 0; j < n; j += 16) {
          const __mmask16 m = tail_mask(j, n);
          store(&g[j], m, _mm512_add_ps(load(&g[j], m), load(dh + row * U + u0 + j, m)));
        }
      if (mk && !mk[row]) {
        for (int k = 0; k < G; ++k) std::fill(dpr + k * U, dpr + k * U + n, 0.0f);
        continue;
      }
      const float* pr = p + row * G * U + u0;
      const float* hp = t > 0 ? H + (row - 1) * U + u0 : h0p + b * U + u0;
      for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(j, n);
        __m512 a, c, g0, g1;
        gates<G>(pr, U, j, m, a, c, g0, g1);
        const __m512 gv = load(&g[j], m), hprev = load(hp + j, m);
        // dh/da = h_{t-1} - c, dh/dc = 1 - a, dh/dh_{t-1} = a
        const __m512 da = _mm512_mul_ps(gv, _mm512_sub_ps(hprev, c));
        store(dpr + (G - 1) * U + j, m, _mm512_mul_ps(gv, _mm512_sub_ps(one, a)));
        if constexpr (G == 2) {
          // a = 1 - z: d z~ = -da z (1 - z)
          store(dpr + j, m, _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), da),
                                          v_act_grad(kSigmoid, g0)));
        } else {
          // a = f / (f + i): da/df = i / s^2, da/di = -f / s^2
          const __m512 s = _mm512_add_ps(g0, g1);
          const __m512 k = _mm512_div_ps(da, _mm512_mul_ps(s, s));
          store(dpr + j, m, _mm512_mul_ps(_mm512_mul_ps(k, g1), v_act_grad(kSigmoid, g0)));
          store(dpr + U + j, m, _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(),
                                                            _mm512_mul_ps(k, g0)),
                                              v_act_grad(kSigmoid, g1)));
        }
        store(&g[j], m, _mm512_mul_ps(gv, a));
      }
    }
    std::memcpy(dh0->typed_data() + b * U + u0, g.data(), n * sizeof(float));
  });
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_mingru_forward, rnnkit::Forward<2>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // P (B, T, 2U)
                                  .Arg<rnnkit::F32>()   // h0 (B, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Ret<rnnkit::F32>()   // hs (B, T, U) or (0,)
                                  .Ret<rnnkit::F32>()); // hT (B, U)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_mingru_backward, rnnkit::Backward<2>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // P (B, T, 2U)
                                  .Arg<rnnkit::F32>()   // hs (B, T, U)
                                  .Arg<rnnkit::F32>()   // h0 (B, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hs (B, T, U) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hT (B, U)
                                  .Ret<rnnkit::F32>()   // dP (B, T, 2U)
                                  .Ret<rnnkit::F32>()); // dh0 (B, U)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_minlstm_forward, rnnkit::Forward<3>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // P (B, T, 3U)
                                  .Arg<rnnkit::F32>()   // h0 (B, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Ret<rnnkit::F32>()   // hs (B, T, U) or (0,)
                                  .Ret<rnnkit::F32>()); // hT (B, U)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_minlstm_backward, rnnkit::Backward<3>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // P (B, T, 3U)
                                  .Arg<rnnkit::F32>()   // hs (B, T, U)
                                  .Arg<rnnkit::F32>()   // h0 (B, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hs (B, T, U) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hT (B, U)
                                  .Ret<rnnkit::F32>()   // dP (B, T, 3U)
                                  .Ret<rnnkit::F32>()); // dh0 (B, U)
