// LRU recurrence (Orvieto et al. 2023) with a diagonal complex lambda, in real / imaginary
// parts: s_t = lambda * s_{t-1} + u_t, i.e.
//   re' = lr re - li im + u_re,   im' = li re + lr im + u_im.
// u = gamma * (x B) is one GEMM in XLA, and so is the read-out Re(s C) + D x. A masked step
// (mask false) keeps s. Arrays are batch-major: u, S, dS, dU (B, T, 2N) as [re | im];
// s0, sT, ds0 (B, 2N); lambda (2, N) as [re; im]; mask (B, T).
//
// rnnkit_lru_forward: u, lambda, s0, mask -> S (or (0,)), sT.
// rnnkit_lru_backward: the reverse recurrence g_{t-1} = dS_{t-1} + conj(lambda) g_t (seeded
//   with dsT): S, lambda, s0, mask, dS, dsT -> dU (= g per step), dlambda per batch row
//   (B, 2N) (XLA sums it), ds0.
#include "rnn_common.h"

namespace rnnkit {
namespace {

template <typename Fn>
void for_items(int64_t B, int64_t N, Fn fn) {  // fn(b, n0, n1) over (row, column block)
  const int64_t cpus = usable_cpus();
  int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((cpus + B - 1) / B, (N + 15) / 16));
  const int64_t width = round_up((N + blocks - 1) / blocks, 16);
  blocks = (N + width - 1) / width;
  const int64_t items = B * blocks;
  for_row_blocks_indexed(items, std::min(cpus, items), [&](int64_t i0, int64_t i1, int64_t) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / blocks, n0 = (i % blocks) * width;
      fn(b, n0, std::min(N, n0 + width));
    }
  });
}

ffi::Error Forward(F32 u, F32 lam, F32 s0, Mask mask, F32Out S, F32Out sT) {
  const auto d = u.dimensions();
  if (d.size() != 3 || d[2] % 2 != 0)
    return ffi::Error::InvalidArgument("rnnkit_lru_forward: u must be (B, T, 2N)");
  const int64_t B = d[0], T = d[1], N = d[2] / 2;
  if (lam.element_count() != 2 * N || s0.element_count() != 2 * B * N ||
      sT->element_count() != 2 * B * N)
    return ffi::Error::InvalidArgument("rnnkit_lru_forward: lambda / s0 / sT shapes");
  const bool seq = has_out(S), masked = mask.element_count() > 0;
  if ((seq && S->element_count() != B * T * 2 * N) || (masked && mask.element_count() != B * T))
    return ffi::Error::InvalidArgument("rnnkit_lru_forward: S / mask shapes");
  const float *up = u.typed_data(), *lr = lam.typed_data(), *li = lr + N;
  const bool* mk = masked ? mask.typed_data() : nullptr;
  float* out = seq ? S->typed_data() : nullptr;
  for_items(B, N, [&](int64_t b, int64_t n0, int64_t n1) {
    const int64_t n = n1 - n0;
    const float* s0r = s0.typed_data() + b * 2 * N;
    Floats re(s0r + n0, s0r + n1), im(s0r + N + n0, s0r + N + n1);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row = b * T + t;
      if (!mk || mk[row]) {
        const float* ur = up + row * 2 * N;
        for (int64_t j = 0; j < n; j += 16) {
          const __mmask16 m = tail_mask(j, n);
          const __m512 a = load(lr + n0 + j, m), c = load(li + n0 + j, m);
          const __m512 r = load(&re[j], m), i = load(&im[j], m);
          const __m512 nr = _mm512_fmadd_ps(a, r, _mm512_fnmadd_ps(c, i, load(ur + n0 + j, m)));
          const __m512 ni = _mm512_fmadd_ps(c, r, _mm512_fmadd_ps(a, i, load(ur + N + n0 + j, m)));
          store(&re[j], m, nr);
          store(&im[j], m, ni);
        }
      }
      if (out) {
        std::memcpy(out + row * 2 * N + n0, re.data(), n * sizeof(float));
        std::memcpy(out + row * 2 * N + N + n0, im.data(), n * sizeof(float));
      }
    }
    std::memcpy(sT->typed_data() + b * 2 * N + n0, re.data(), n * sizeof(float));
    std::memcpy(sT->typed_data() + b * 2 * N + N + n0, im.data(), n * sizeof(float));
  });
  return ffi::Error::Success();
}

ffi::Error Backward(F32 S, F32 lam, F32 s0, Mask mask, F32 dS, F32 dsT, F32Out dU,
                    F32Out dlam, F32Out ds0) {
  const auto d = S.dimensions();
  if (d.size() != 3 || d[2] % 2 != 0)
    return ffi::Error::InvalidArgument("rnnkit_lru_backward: S must be (B, T, 2N)");
  const int64_t B = d[0], T = d[1], N = d[2] / 2;
  if (lam.element_count() != 2 * N || s0.element_count() != 2 * B * N ||
      dsT.element_count() != 2 * B * N || dU->element_count() != B * T * 2 * N ||
      dlam->element_count() != 2 * B * N || ds0->element_count() != 2 * B * N)
    return ffi::Error::InvalidArgument("rnnkit_lru_backward: shapes do not match S");
  const bool masked = mask.element_count() > 0, seq = has(dS);
  if ((masked && mask.element_count() != B * T) || (seq && dS.element_count() != B * T * 2 * N))
    return ffi::Error::InvalidArgument("rnnkit_lru_backward: mask / dS shapes");
  const float *Sp = S.typed_data(), *lr = lam.typed_data(), *li = lr + N;
  const float* dsp = seq ? dS.typed_data() : nullptr;
  const bool* mk = masked ? mask.typed_data() : nullptr;
  for_items(B, N, [&](int64_t b, int64_t n0, int64_t n1) {
    const int64_t n = n1 - n0;
    const float* gT = dsT.typed_data() + b * 2 * N;
    Floats gr(gT + n0, gT + n1), gi(gT + N + n0, gT + N + n1);
    Floats dlr(n, 0.0f), dli(n, 0.0f);
    const float* s0r = s0.typed_data() + b * 2 * N;
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row = b * T + t;
      float* du = dU->typed_data() + row * 2 * N;
      if (dsp)
        for (int64_t j = 0; j < n; j += 16) {
          const __mmask16 m = tail_mask(j, n);
          const float* src = dsp + row * 2 * N + n0 + j;
          store(&gr[j], m, _mm512_add_ps(load(&gr[j], m), load(src, m)));
          store(&gi[j], m, _mm512_add_ps(load(&gi[j], m), load(src + N, m)));
        }
      if (mk && !mk[row]) {
        std::fill(du + n0, du + n1, 0.0f);
        std::fill(du + N + n0, du + N + n1, 0.0f);
        continue;
      }
      std::memcpy(du + n0, gr.data(), n * sizeof(float));
      std::memcpy(du + N + n0, gi.data(), n * sizeof(float));
      const float* sp = t > 0 ? Sp + (row - 1) * 2 * N : s0r;
      for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(j, n);
        const __m512 a = load(lr + n0 + j, m), c = load(li + n0 + j, m);
        const __m512 r = load(&gr[j], m), i = load(&gi[j], m);
        const __m512 pr = load(sp + n0 + j, m), pi = load(sp + N + n0 + j, m);
        // d lambda_re += g_re s_re + g_im s_im;  d lambda_im += g_im s_re - g_re s_im
        store(&dlr[j], m, _mm512_fmadd_ps(r, pr, _mm512_fmadd_ps(i, pi, load(&dlr[j], m))));
        store(&dli[j], m, _mm512_fmadd_ps(i, pr, _mm512_fnmadd_ps(r, pi, load(&dli[j], m))));
        // g <- conj(lambda) g
        store(&gr[j], m, _mm512_fmadd_ps(a, r, _mm512_mul_ps(c, i)));
        store(&gi[j], m, _mm512_fnmadd_ps(c, r, _mm512_mul_ps(a, i)));
      }
    }
    float* dl = dlam->typed_data() + b * 2 * N;
    std::memcpy(dl + n0, dlr.data(), n * sizeof(float));
    std::memcpy(dl + N + n0, dli.data(), n * sizeof(float));
    float* g0 = ds0->typed_data() + b * 2 * N;
    std::memcpy(g0 + n0, gr.data(), n * sizeof(float));
    std::memcpy(g0 + N + n0, gi.data(), n * sizeof(float));
  });
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lru_forward, rnnkit::Forward,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // u (B, T, 2N)
                                  .Arg<rnnkit::F32>()   // lambda (2, N)
                                  .Arg<rnnkit::F32>()   // s0 (B, 2N)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Ret<rnnkit::F32>()   // S (B, T, 2N) or (0,)
                                  .Ret<rnnkit::F32>()); // sT (B, 2N)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lru_backward, rnnkit::Backward,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // S (B, T, 2N)
                                  .Arg<rnnkit::F32>()   // lambda (2, N)
                                  .Arg<rnnkit::F32>()   // s0 (B, 2N)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Arg<rnnkit::F32>()   // dS (B, T, 2N) or (0,)
                                  .Arg<rnnkit::F32>()   // dsT (B, 2N)
                                  .Ret<rnnkit::F32>()   // dU (B, T, 2N)
                                  .Ret<rnnkit::F32>()   // dlambda per row (B, 2N)
                                  .Ret<rnnkit::F32>()); // ds0 (B, 2N)
