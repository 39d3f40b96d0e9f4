// MinGRU and MinLSTM over whole sequences (Feng et al. 2024). The gates depend on x_t only,
// so the loop over a block of kSteps steps of one batch row is: one GEMM for the block's
// pre-activations P = x W + b (a tile that stays in cache), then the elementwise recurrence
// h_t = a_t * h_{t-1} + (1 - a_t) * c_t over the tile:
//   MinGRU  (G = 2, P = [z~ | c]):      z = sigmoid(z~), a = 1 - z
//   MinLSTM (G = 3, P = [f~ | i~ | c]): f = sigmoid(f~), i = sigmoid(i~), a = f / (f + i)
// A masked step (mask false) keeps h. Every array is batch-major: x (B, T, D),
// P (B, T, G*U), hs / d_hs (B, T, U), mask (B, T); W (D, G*U) in the layer's layout.
//
// rnnkit_min{gru,lstm}_forward: x, W, b, h0, mask -> hs (or (0,)), hT, and for training
//   P and hc (B, ceil(T / kSteps), U), the state before each block (or (0,) both).
// rnnkit_min{gru,lstm}_backward: x, P, hc, mask, d_hs, d_hT -> dW, db, dh0. Per block, in
//   reverse: the block's states are recomputed from hc and P, then the reverse recurrence
//   g_{t-1} = d_hs_{t-1} + a_t g_t (seeded with d_hT) gives the pre-activation gradients
//   dz_t, which go into dW += x_blk^T dz_blk and db while the block is in cache.
// rnnkit_min{gru,lstm}_gate_grads: P, hc, mask, d_hs, d_hT -> dP (B, T, G*U), for
//   dx = dP W^T in XLA (XLA drops both when nothing needs dx).
// Work is split over (batch row, block of units) items, one contiguous range per thread.
#include <atomic>
#include <string>

#include "rnn_common.h"

namespace rnnkit {
namespace {

constexpr int64_t kSteps = 96;  // steps per block: 8 GEMM row blocks of 12

// Work items: (batch row, block of units); the unit blocks are whole GEMM panels (32
// columns) and exist only to give every core work when B < cores. Threads take the next
// item as they finish one, so a thread slowed by other processes holds up no other.
struct Items {
  int64_t B, U, blocks, width;
  Items(int64_t B_, int64_t U_) : B(B_), U(U_) {
    const int64_t cpus = usable_cpus();
    blocks = std::max<int64_t>(1, std::min<int64_t>((cpus + B - 1) / B, (U + kPanel - 1) / kPanel));
    width = round_up((U + blocks - 1) / blocks, kPanel);
    blocks = (U + width - 1) / width;
  }
  int64_t count() const { return B * blocks; }
  int64_t threads() const { return std::min<int64_t>(usable_cpus(), count()); }
  template <typename Fn>
  void run(Fn fn) const {  // fn(b, u0, u1, thread)
    std::atomic<int64_t> next{0};
    for_row_blocks_indexed(threads(), threads(), [&](int64_t, int64_t, int64_t th) {
      for (int64_t i = next++; i < count(); i = next++) {
        const int64_t b = i / blocks, u0 = (i % blocks) * width;
        fn(b, u0, std::min(U, u0 + width), th);
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

// One step over n columns: h_out = a h_in + (1 - a) c = c + a (h_in - c), from the step's
// pre-activations at pr (gate k at pr + k * stride).
template <int G>
inline void advance(const float* pr, int64_t stride, int64_t n, const float* h_in, float* h_out) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(j, n);
    __m512 a, c, g0, g1;
    gates<G>(pr, stride, j, m, a, c, g0, g1);
    store(h_out + j, m, _mm512_fmadd_ps(a, _mm512_sub_ps(load(h_in + j, m), c), c));
  }
}

// W (D, G*U) packed gate by gate: gate g is panels [g*Up/32, (g+1)*Up/32) of a (D, G*Up)
// operand, Up = U rounded up to 32, so that a block of units [u0, u1) of gate g is one
// contiguous run of panels. The bias is padded the same way.
struct PackedGates {
  int64_t D, U, Up;
  Floats w, b;
  PackedGates(const float* W, const float* bias, int64_t D_, int64_t U_, int G)
      : D(D_), U(U_), Up(round_up(U_, kPanel)), w(G * Up * D_), b(G * Up, 0.0f) {
    for (int g = 0; g < G; ++g) {
      pack_rows(W + g * U, D, U, D, 0, w.data() + g * Up * D, G * U);
      if (bias) std::copy(bias + g * U, bias + (g + 1) * U, b.begin() + g * Up);
    }
  }
  // C (rows, wp) = b + A (rows, D) @ W[:, gate g, units u0 .. u0 + wp)
  void project(int g, int64_t u0, int64_t wp, const float* A, int64_t rows, float* C,
               int64_t ldc) const {
    gemm(A, D, rows, D, w.data() + (g * Up + u0) * D, wp, b.data() + g * Up + u0, C, ldc);
  }
};

// Forward: the projection of each block of steps into a cache-resident tile, then the
// recurrence over it; the tile is copied out only when P is saved for the backward pass.
template <int G>
ffi::Error Forward(F32 x, F32 W, F32 b, F32 h0, Mask mask, F32Out hs, F32Out hT, F32Out P,
                   F32Out hc) {
  const auto d = x.dimensions(), wd = W.dimensions();
  if (d.size() != 3 || wd.size() != 2 || wd[0] != d[2] || wd[1] % G != 0)
    return ffi::Error::InvalidArgument("rnnkit_min*_forward: x (B, T, D), W (D, G*U)");
  const int64_t B = d[0], T = d[1], D = d[2], U = wd[1] / G, NB = (T + kSteps - 1) / kSteps;
  if (h0.element_count() != B * U || hT->element_count() != B * U ||
      (has(b) && b.element_count() != G * U))
    return ffi::Error::InvalidArgument("rnnkit_min*_forward: h0 / hT (B, U), b (G*U)");
  const bool seq = has_out(hs), save = has_out(P), masked = mask.element_count() > 0;
  if ((seq && hs->element_count() != B * T * U) || (masked && mask.element_count() != B * T) ||
      (save && (P->element_count() != B * T * G * U || hc->element_count() != B * NB * U)))
    return ffi::Error::InvalidArgument("rnnkit_min*_forward: hs, P, hc or mask shape");
  const PackedGates pw(W.typed_data(), has(b) ? b.typed_data() : nullptr, D, U, G);
  const float *xp = x.typed_data(), *h0p = h0.typed_data();
  const bool* mk = masked ? mask.typed_data() : nullptr;
  float* out = seq ? hs->typed_data() : nullptr;
  float* pout = save ? P->typed_data() : nullptr;
  float* hcp = save ? hc->typed_data() : nullptr;
  float* hTp = hT->typed_data();
  Items(B, U).run([&](int64_t bi, int64_t u0, int64_t u1, int64_t) {
    const int64_t n = u1 - u0, wp = round_up(n, kPanel), ld = G * wp;
    Floats h(h0p + bi * U + u0, h0p + bi * U + u1), tile(kSteps * ld);
    for (int64_t t0 = 0; t0 < T; t0 += kSteps) {
      const int64_t rows = std::min(kSteps, T - t0), row0 = bi * T + t0;
      if (hcp) std::memcpy(hcp + (bi * NB + t0 / kSteps) * U + u0, h.data(), n * sizeof(float));
      for (int g = 0; g < G; ++g)
        pw.project(g, u0, wp, xp + row0 * D, rows, tile.data() + g * wp, ld);
      for (int64_t k = 0; k < rows; ++k) {
        const int64_t row = row0 + k;
        const float* pr = tile.data() + k * ld;
        if (pout)
          for (int g = 0; g < G; ++g)
            std::memcpy(pout + (row * G + g) * U + u0, pr + g * wp, n * sizeof(float));
        if (!mk || mk[row]) advance<G>(pr, wp, n, h.data(), h.data());
        if (out) std::memcpy(out + row * U + u0, h.data(), n * sizeof(float));
      }
    }
    std::memcpy(hTp + bi * U + u0, h.data(), n * sizeof(float));
  });
  return ffi::Error::Success();
}

// One step's gradients at 16 columns: from g = dL/dh_t, the pre-activation gradients dz
// (in the gate order of P) and the a of the step (dL/dh_{t-1} = a g).
template <int G>
inline __m512 step_grads(const float* pr, int64_t stride, int64_t j, __mmask16 m, __m512 gv,
                         __m512 hprev, __m512* dz) {
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  __m512 a, c, g0, g1;
  gates<G>(pr, stride, j, m, a, c, g0, g1);
  // dh/da = h_{t-1} - c, dh/dc = 1 - a
  const __m512 da = _mm512_mul_ps(gv, _mm512_sub_ps(hprev, c));
  dz[G - 1] = _mm512_mul_ps(gv, _mm512_sub_ps(one, a));
  if constexpr (G == 2) {
    // a = 1 - z: d z~ = -da z (1 - z)
    dz[0] = _mm512_mul_ps(_mm512_sub_ps(zero, da), v_act_grad(kSigmoid, g0));
  } else {
    // a = f / (f + i): da/df = i / s^2, da/di = -f / s^2
    const __m512 s = _mm512_add_ps(g0, g1);
    const __m512 k = _mm512_div_ps(da, _mm512_mul_ps(s, s));
    dz[0] = _mm512_mul_ps(_mm512_mul_ps(k, g1), v_act_grad(kSigmoid, g0));
    dz[1] = _mm512_mul_ps(_mm512_sub_ps(zero, _mm512_mul_ps(k, g0)), v_act_grad(kSigmoid, g1));
  }
  return a;
}

// The reverse pass of one (batch row, unit block) item, block by block from the last: the
// block's states from its checkpoint, then g_{t-1} = a_t g_t + d_hs_{t-1} (g seeded with
// d_hT). Calls on_step(t, j, dz) with the G pre-activation gradients of 16 columns at j
// (zero past n) for every unmasked step, on_masked(t) for the others, and
// on_block(t0, rows) after each block; returns dL/dh0 in g.
struct ReverseArgs {
  const float *P, *hc, *dh;
  const bool* mk;
  int64_t T, U;
};

template <int G, typename OnStep, typename OnMasked, typename OnBlock>
inline void reverse_item(const ReverseArgs& r, int64_t b, int64_t u0, int64_t n,
                         Floats& g, OnStep on_step, OnMasked on_masked,
                         OnBlock on_block) {
  const int64_t NB = (r.T + kSteps - 1) / kSteps, GU = G * r.U;
  Floats hb(kSteps * n);  // hb[k]: the state after step t0 + k
  for (int64_t blk = NB - 1; blk >= 0; --blk) {
    const int64_t t0 = blk * kSteps, rows = std::min(kSteps, r.T - t0), row0 = b * r.T + t0;
    const float* start = r.hc + (b * NB + blk) * r.U + u0;
    for (int64_t k = 0; k < rows; ++k) {
      const float* prev = k ? &hb[(k - 1) * n] : start;
      if (!r.mk || r.mk[row0 + k])
        advance<G>(r.P + (row0 + k) * GU + u0, r.U, n, prev, &hb[k * n]);
      else
        std::memcpy(&hb[k * n], prev, n * sizeof(float));
    }
    for (int64_t k = rows - 1; k >= 0; --k) {
      const int64_t t = t0 + k, row = row0 + k;
      if (r.dh)
        for (int64_t j = 0; j < n; j += 16) {
          const __mmask16 m = tail_mask(j, n);
          store(&g[j], m, _mm512_add_ps(load(&g[j], m), load(r.dh + row * r.U + u0 + j, m)));
        }
      if (r.mk && !r.mk[row]) {
        on_masked(t);
        continue;
      }
      const float* pr = r.P + row * GU + u0;
      const float* hp = k ? &hb[(k - 1) * n] : start;
      for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(j, n);
        __m512 dz[G];
        const __m512 gv = load(&g[j], m);
        const __m512 a = step_grads<G>(pr, r.U, j, m, gv, load(hp + j, m), dz);
        for (int k2 = 0; k2 < G; ++k2) dz[k2] = _mm512_maskz_mov_ps(m, dz[k2]);
        on_step(t, j, dz);
        store(&g[j], m, _mm512_mul_ps(gv, a));
      }
    }
    on_block(t0, rows);
  }
}

ffi::Error check_backward(const char* name, int G, const F32& P, const F32& hc,
                          const Mask& mask, const F32& d_hs, const F32& d_hT, int64_t& B,
                          int64_t& T, int64_t& U) {
  const auto d = P.dimensions();
  if (d.size() != 3 || d[2] % G != 0)
    return ffi::Error::InvalidArgument(std::string(name) + ": P must be (B, T, G*U)");
  B = d[0], T = d[1], U = d[2] / G;
  const int64_t NB = (T + kSteps - 1) / kSteps;
  if (hc.element_count() != static_cast<size_t>(B * NB * U) ||
      d_hT.element_count() != static_cast<size_t>(B * U) ||
      (mask.element_count() > 0 && mask.element_count() != static_cast<size_t>(B * T)) ||
      (has(d_hs) && d_hs.element_count() != static_cast<size_t>(B * T * U)))
    return ffi::Error::InvalidArgument(std::string(name) + ": hc, mask, d_hs or d_hT shape");
  return ffi::Error::Success();
}

ReverseArgs reverse_args(const F32& P, const F32& hc, const Mask& mask, const F32& d_hs,
                         int64_t T, int64_t U) {
  return {P.typed_data(), hc.typed_data(), has(d_hs) ? d_hs.typed_data() : nullptr,
          mask.element_count() > 0 ? mask.typed_data() : nullptr, T, U};
}

// Backward: dW (D, G*U), db (G*U) and dh0 (B, U). Each block's dz, packed as GEMM panels,
// goes straight into dW += x_blk^T dz_blk (one share per thread, summed at the end); no
// (B, T, G*U) gradient is written.
template <int G>
ffi::Error Backward(F32 x, F32 P, F32 hc, Mask mask, F32 d_hs, F32 d_hT, F32Out dW,
                    F32Out db, F32Out dh0) {
  int64_t B, T, U;
  if (auto e = check_backward("rnnkit_min*_backward", G, P, hc, mask, d_hs, d_hT, B, T, U);
      e.failure())
    return e;
  const auto d = x.dimensions();
  const int64_t D = d.size() == 3 ? d[2] : 0, Up = round_up(U, kPanel), GUp = G * Up;
  if (d.size() != 3 || d[0] != B || d[1] != T || dW->element_count() != D * G * U ||
      db->element_count() != G * U || dh0->element_count() != B * U)
    return ffi::Error::InvalidArgument("rnnkit_min*_backward: x (B, T, D), dW, db or dh0");
  const ReverseArgs r = reverse_args(P, hc, mask, d_hs, T, U);
  const float* xp = x.typed_data();
  const Items items(B, U);
  // per thread: its dW share (D, G*Up), then its db share as row D
  std::vector<Floats> share(items.threads(), Floats((D + 1) * GUp, 0.0f));
  items.run([&](int64_t b, int64_t u0, int64_t u1, int64_t th) {
    const int64_t n = u1 - u0, wp = round_up(n, kPanel), panels = wp / kPanel;
    float* dw = share[th].data();
    float* dbs = dw + D * GUp;
    // the block's dz: gate k, panel q, step t0 + i at ((k * panels + q) * kSteps + i) * 32
    Floats dzp(G * panels * kSteps * kPanel, 0.0f);
    auto slot = [&](int64_t t, int k, int64_t j) {
      return &dzp[((k * panels + j / kPanel) * kSteps + t % kSteps) * kPanel + j % kPanel];
    };
    Floats g(d_hT.typed_data() + b * U + u0, d_hT.typed_data() + b * U + u1);
    reverse_item<G>(
        r, b, u0, n, g,
        [&](int64_t t, int64_t j, const __m512* dz) {
          for (int k = 0; k < G; ++k) {
            _mm512_storeu_ps(slot(t, k, j), dz[k]);
            float* acc = dbs + k * Up + u0 + j;
            _mm512_storeu_ps(acc, _mm512_add_ps(_mm512_loadu_ps(acc), dz[k]));
          }
        },
        [&](int64_t t) {
          for (int k = 0; k < G; ++k)
            for (int64_t j = 0; j < n; j += 16) _mm512_storeu_ps(slot(t, k, j), _mm512_setzero_ps());
        },
        [&](int64_t t0, int64_t rows) {
          for (int k = 0; k < G; ++k)
            gemm_panels<true, true>(xp + (b * T + t0) * D, D, D, rows,
                                    &dzp[k * panels * kSteps * kPanel], kSteps, wp, nullptr,
                                    dw + k * Up + u0, GUp);
        });
    std::memcpy(dh0->typed_data() + b * U + u0, g.data(), n * sizeof(float));
  });
  float *dWp = dW->typed_data(), *dbp = db->typed_data();
  for (int64_t row = 0; row <= D; ++row)
    for (int k = 0; k < G; ++k) {
      float* dst = row < D ? dWp + (row * G + k) * U : dbp + k * U;
      std::fill(dst, dst + U, 0.0f);
      for (const auto& s : share) {
        const float* src = s.data() + row * GUp + k * Up;
        for (int64_t u = 0; u < U; ++u) dst[u] += src[u];
      }
    }
  return ffi::Error::Success();
}

// GateGrads: the same reverse pass, writing dP (B, T, G*U) (zeros at masked steps).
template <int G>
ffi::Error GateGrads(F32 P, F32 hc, Mask mask, F32 d_hs, F32 d_hT, F32Out dP) {
  int64_t B, T, U;
  if (auto e = check_backward("rnnkit_min*_gate_grads", G, P, hc, mask, d_hs, d_hT, B, T, U);
      e.failure())
    return e;
  if (dP->element_count() != B * T * G * U)
    return ffi::Error::InvalidArgument("rnnkit_min*_gate_grads: dP must be (B, T, G*U)");
  const ReverseArgs r = reverse_args(P, hc, mask, d_hs, T, U);
  float* dp = dP->typed_data();
  Items(B, U).run([&](int64_t b, int64_t u0, int64_t u1, int64_t) {
    const int64_t n = u1 - u0;
    Floats g(d_hT.typed_data() + b * U + u0, d_hT.typed_data() + b * U + u1);
    reverse_item<G>(
        r, b, u0, n, g,
        [&](int64_t t, int64_t j, const __m512* dz) {
          const __mmask16 m = tail_mask(j, n);
          for (int k = 0; k < G; ++k) store(dp + ((b * T + t) * G + k) * U + u0 + j, m, dz[k]);
        },
        [&](int64_t t) {
          float* dst = dp + (b * T + t) * G * U;
          for (int k = 0; k < G; ++k) std::fill(dst + k * U + u0, dst + k * U + u0 + n, 0.0f);
        },
        [](int64_t, int64_t) {});
  });
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_mingru_forward, rnnkit::Forward<2>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // x (B, T, D)
                                  .Arg<rnnkit::F32>()   // W (D, 2U)
                                  .Arg<rnnkit::F32>()   // b (2U,) or (0,)
                                  .Arg<rnnkit::F32>()   // h0 (B, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Ret<rnnkit::F32>()   // hs (B, T, U) or (0,)
                                  .Ret<rnnkit::F32>()   // hT (B, U)
                                  .Ret<rnnkit::F32>()   // P (B, T, 2U) or (0,)
                                  .Ret<rnnkit::F32>()); // hc (B, blocks, U) or (0,)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_mingru_backward, rnnkit::Backward<2>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // x (B, T, D)
                                  .Arg<rnnkit::F32>()   // P (B, T, 2U)
                                  .Arg<rnnkit::F32>()   // hc (B, blocks, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hs (B, T, U) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hT (B, U)
                                  .Ret<rnnkit::F32>()   // dW (D, 2U)
                                  .Ret<rnnkit::F32>()   // db (2U,)
                                  .Ret<rnnkit::F32>()); // dh0 (B, U)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_mingru_gate_grads, rnnkit::GateGrads<2>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // P (B, T, 2U)
                                  .Arg<rnnkit::F32>()   // hc (B, blocks, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hs (B, T, U) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hT (B, U)
                                  .Ret<rnnkit::F32>()); // dP (B, T, 2U)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_minlstm_forward, rnnkit::Forward<3>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // x (B, T, D)
                                  .Arg<rnnkit::F32>()   // W (D, 3U)
                                  .Arg<rnnkit::F32>()   // b (3U,) or (0,)
                                  .Arg<rnnkit::F32>()   // h0 (B, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Ret<rnnkit::F32>()   // hs (B, T, U) or (0,)
                                  .Ret<rnnkit::F32>()   // hT (B, U)
                                  .Ret<rnnkit::F32>()   // P (B, T, 3U) or (0,)
                                  .Ret<rnnkit::F32>()); // hc (B, blocks, U) or (0,)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_minlstm_backward, rnnkit::Backward<3>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // x (B, T, D)
                                  .Arg<rnnkit::F32>()   // P (B, T, 3U)
                                  .Arg<rnnkit::F32>()   // hc (B, blocks, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hs (B, T, U) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hT (B, U)
                                  .Ret<rnnkit::F32>()   // dW (D, 3U)
                                  .Ret<rnnkit::F32>()   // db (3U,)
                                  .Ret<rnnkit::F32>()); // dh0 (B, U)

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_minlstm_gate_grads, rnnkit::GateGrads<3>,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()   // P (B, T, 3U)
                                  .Arg<rnnkit::F32>()   // hc (B, blocks, U)
                                  .Arg<rnnkit::Mask>()  // mask (B, T) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hs (B, T, U) or (0,)
                                  .Arg<rnnkit::F32>()   // d_hT (B, U)
                                  .Ret<rnnkit::F32>()); // dP (B, T, 3U)
