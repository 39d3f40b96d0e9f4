// SimpleRNN recurrence (Keras layout W (D, H), U (H, H), b (H)): h' = act(x W + b + (h rm) U).
//
// rnnkit_simple_rnn_forward: the whole time loop, one GEMM [x_t | h rm] @ [[W], [U]] per
//   step with the bias as its initial value; optionally writes every state (T, B, H), which
//   is also what the backward needs (the activation's derivative comes from its output).
// rnnkit_simple_rnn_backward: the reverse loop: per step the elementwise gradient
//   dz = dh * act'(.) and one GEMM dz @ [U^T | W^T] for [dh_{t-1} | dx_t]; dW, dU and db are
//   accumulated in the loop (as LSTM's backward in lstm.cc does), dW and dU every few steps
//   from the rows buffered since the last update. Each thread sums its rows' share; the
//   shares are added after the join. No (T, B, H) gradient array is written.
// Semantics: rnnkit.core.seq_simple_rnn (mask keeps the previous state, rm multiplies h
// before h @ U).
//
// SimpleRNN steps are small (H = 64 at batch 1 in the latency benchmark), so the loops
// allocate nothing per step, and a one-row product (batch 1) uses a GEMV that keeps 8-16
// independent accumulator chains in flight instead of the GEMM micro-kernel's two.
#include "rnn_common.h"

namespace rnnkit {
namespace {

// C (M, Np) = init + A (M, K) @ packed (K, Np); one or two rows go through the GEMV.
inline void product(const float* A, int64_t lda, int64_t M, int64_t K, const float* packed,
                    int64_t Np, const float* init, float* C, int64_t ldc) {
  if (M <= 2) {
    for (int64_t r = 0; r < M; ++r) gemv(A + r * lda, K, packed, Np, init, C + r * ldc);
    return;
  }
  gemm(A, lda, M, K, packed, Np, init, C, ldc);
}

struct SrnnFwd {
  int64_t T, B, D, H, act;
  const float *xs, *h0, *rm, *bias;  // bias: padded to Np, or nullptr
  const bool* mask;
  const float* WU;  // packed (D + H, Np)
  int64_t Np;
  float *hs, *hT;  // hs may be nullptr

  void rows(int64_t b0, int64_t b1) const {
    const int64_t Bt = b1 - b0, K = D + H;
    // xh: [x_t | h rm] per row; z: the pre-activations; h: the state
    Floats xh(Bt * K), z(Bt * Np), h(Bt * H);
    std::memcpy(h.data(), h0 + b0 * H, Bt * H * sizeof(float));
    for (int64_t r = 0; r < Bt; ++r) {
      float* dst = &xh[r * K + D];
      const float* hr = &h[r * H];
      if (!rm) {
        std::memcpy(dst, hr, H * sizeof(float));
        continue;
      }
      const float* m = rm + (b0 + r) * H;
      for (int64_t j = 0; j < H; ++j) dst[j] = hr[j] * m[j];
    }
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row0 = t * B + b0;
      for (int64_t r = 0; r < Bt; ++r)
        std::memcpy(&xh[r * K], xs + (row0 + r) * D, D * sizeof(float));
      product(xh.data(), K, Bt, K, WU, Np, bias, z.data(), Np);
      for (int64_t r = 0; r < Bt; ++r) {
        float* hr = &h[r * H];
        float* out = hs ? hs + (row0 + r) * H : nullptr;
        if (mask && !mask[row0 + r]) {  // a skipped step keeps the state
          if (out) std::memcpy(out, hr, H * sizeof(float));
          continue;
        }
        const float* zr = &z[r * Np];
        float* next = &xh[r * K + D];
        const float* m = rm ? rm + (b0 + r) * H : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
          const __mmask16 mk = tail_mask(j, H);
          const __m512 y = v_act(act, load(zr + j, mk));
          store(hr + j, mk, y);
          if (out) store(out + j, mk, y);
          store(next + j, mk, m ? _mm512_mul_ps(y, load(m + j, mk)) : y);
        }
      }
    }
    std::memcpy(hT + b0 * H, h.data(), Bt * H * sizeof(float));
  }
};

ffi::Error SrnnForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, Mask mask, F32 rm, F32Out hs,
                       F32Out hT, int64_t act, int64_t threads) {
  auto xd = xs.dimensions(), ud = U.dimensions();
  if (xd.size() != 3 || ud.size() != 2 || ud[0] != ud[1])
    return ffi::Error::InvalidArgument(
        "rnnkit_simple_rnn_forward: xs must be (T, B, D), U (H, H)");
  SrnnFwd k;
  k.T = xd[0], k.B = xd[1], k.D = xd[2], k.H = ud[0], k.act = act;
  const int64_t H = k.H;
  if (W.element_count() != static_cast<size_t>(k.D * H) ||
      h0.element_count() != static_cast<size_t>(k.B * H) ||
      (has(b) && b.element_count() != static_cast<size_t>(H)) ||
      (has(rm) && rm.element_count() != static_cast<size_t>(k.B * H)) ||
      (mask.element_count() && mask.element_count() != static_cast<size_t>(k.T * k.B)))
    return ffi::Error::InvalidArgument("rnnkit_simple_rnn_forward: shapes do not match xs / U");
  if (hs->element_count() && hs->element_count() != static_cast<size_t>(k.T * k.B * H))
    return ffi::Error::InvalidArgument("rnnkit_simple_rnn_forward: hs must be (T, B, H)");
  k.Np = round_up(H, kPanel);
  Floats packed((k.D + H) * k.Np), bias;
  pack_rows(W.typed_data(), k.D, H, k.D + H, 0, packed.data());
  pack_rows(U.typed_data(), H, H, k.D + H, k.D, packed.data());
  if (has(b)) {
    bias.assign(k.Np, 0.0f);
    std::memcpy(bias.data(), b.typed_data(), H * sizeof(float));
  }
  k.WU = packed.data();
  k.bias = bias.empty() ? nullptr : bias.data();
  k.xs = xs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.hs = has_out(hs) ? hs->typed_data() : nullptr;
  k.hT = hT->typed_data();
  if (k.B == 0) return ffi::Error::Success();
  for_row_blocks(k.B, threads, [&k](int64_t b0, int64_t b1) { k.rows(b0, b1); });
  return ffi::Error::Success();
}

struct SrnnBwd {
  int64_t T, B, D, H, act;
  const float *xs, *hs, *h0, *rm, *d_hs, *d_hT;  // rm / d_hs may be nullptr
  const bool* mask;
  const float* UW;  // packed [U^T | W^T] (H, NpHD): columns [0, H) -> dh, [H, H + D) -> dx
  int64_t NpHD, Np;
  bool bias;
  float *dxs, *dh0, *drm;  // drm may be nullptr
  // per block: its share of dW (D, Np), dU (H, Np) and db (Np), summed after the join
  std::vector<Floats>* partial;

  void rows(int64_t b0, int64_t b1, int64_t block) const {
    const int64_t Bt = b1 - b0;
    // dW and dU are updated every S steps from the S * Bt rows buffered since the last
    // update: one row at a time (batch 1), re-reading and re-writing all of dW and dU per
    // step would cost several times the products themselves
    const int64_t S = std::min(T, std::max<int64_t>(1, (kUpdateRows + Bt - 1) / Bt)), N = S * Bt;
    // dh: the gradient of the state after the current step; out: dz @ [U^T | W^T];
    // dz, xc, hc: the buffered steps' dz, x and h_{t-1} rm (dzp: dz packed as (N, Np))
    Floats dh(Bt * H), out(Bt * NpHD), acc(drm ? Bt * H : 0, 0.0f), dz(N * H),
        dzp(N * Np), xc(N * D), hc(N * H);
    Floats& part = (*partial)[block];
    part.assign((D + H + 1) * Np, 0.0f);
    float *dW = part.data(), *dU = dW + D * Np, *db = dU + H * Np;
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    int64_t n = 0;  // steps buffered
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      const float* h_prev = t > 0 ? hs + (row0 - B) * H : h0 + b0 * H;  // rows H apart
      float *dzt = &dz[n * Bt * H], *ht = &hc[n * Bt * H];
      for (int64_t r = 0; r < Bt; ++r) {
        float* dzr = dzt + r * H;
        float* dhr = &dh[r * H];
        const float* e = d_hs ? d_hs + (row0 + r) * H : nullptr;
        if (mask && !mask[row0 + r]) {  // a skipped step passes dh through
          if (e)
            for (int64_t j = 0; j < H; ++j) dhr[j] += e[j];
          std::fill(dzr, dzr + H, 0.0f);
          continue;
        }
        const float* y = hs + (row0 + r) * H;
        for (int64_t j = 0; j < H; j += 16) {
          const __mmask16 mk = tail_mask(j, H);
          __m512 g = load(dhr + j, mk);
          if (e) g = _mm512_add_ps(g, load(e + j, mk));
          const __m512 d = _mm512_mul_ps(g, v_act_grad(act, load(y + j, mk)));
          store(dzr + j, mk, d);
          if (bias) store(db + j, mk, _mm512_add_ps(load(db + j, mk), d));
        }
      }
      // [dh_{t-1} (through h rm) | dx_t] = dz_t @ [U^T | W^T]
      product(dzt, H, Bt, H, UW, NpHD, nullptr, out.data(), NpHD);
      // dW += x^T dz, dU += (h_{t-1} rm)^T dz over the buffered steps
      std::memcpy(&xc[n * Bt * D], xs + row0 * D, Bt * D * sizeof(float));
      stage_recurrent_input(h_prev, rm ? rm + b0 * H : nullptr, Bt * H, ht);
      if (++n == S || t == 0) {
        update_weight_grads(dz.data(), n * Bt, H, xc.data(), D, hc.data(), H, dzp.data(), Np,
                            dW, dU);
        n = 0;
      }
      for (int64_t r = 0; r < Bt; ++r) {
        const float* o = &out[r * NpHD];
        std::memcpy(dxs + (row0 + r) * D, o + H, D * sizeof(float));
        if (mask && !mask[row0 + r]) continue;
        float* dhr = &dh[r * H];
        if (!rm) {
          std::memcpy(dhr, o, H * sizeof(float));
          continue;
        }
        const float* m = rm + (b0 + r) * H;
        const float* hp = h_prev + r * H;
        float* a = &acc[r * H];
        for (int64_t j = 0; j < H; j += 16) {
          const __mmask16 mk = tail_mask(j, H);
          const __m512 ov = load(o + j, mk);
          store(dhr + j, mk, _mm512_mul_ps(ov, load(m + j, mk)));
          store(a + j, mk, _mm512_fmadd_ps(load(hp + j, mk), ov, load(a + j, mk)));
        }
      }
    }
    std::memcpy(dh0 + b0 * H, dh.data(), Bt * H * sizeof(float));
    if (drm) std::memcpy(drm + b0 * H, acc.data(), Bt * H * sizeof(float));
  }
};

ffi::Error SrnnBackward(F32 xs, F32 W, F32 U, F32 hs, F32 h0, Mask mask, F32 rm, F32 d_hs,
                        F32 d_hT, F32Out dxs, F32Out dW, F32Out dU, F32Out db, F32Out dh0,
                        F32Out drm, int64_t act, int64_t threads) {
  int64_t dims[4];
  if (const char* err = srnn_backward_shape_error(xs, W, U, hs, h0, mask, rm, d_hs, d_hT, dims))
    return ffi::Error::InvalidArgument(std::string("rnnkit_simple_rnn_backward: ") + err);
  SrnnBwd k;
  k.T = dims[0], k.B = dims[1], k.D = dims[2], k.H = dims[3], k.act = act;
  const int64_t D = k.D, H = k.H;
  k.NpHD = round_up(H + D, kPanel);
  k.Np = round_up(H, kPanel);
  Floats stacked((H + D) * H), packed(H * k.NpHD);
  std::memcpy(stacked.data(), U.typed_data(), H * H * sizeof(float));
  std::memcpy(stacked.data() + H * H, W.typed_data(), D * H * sizeof(float));
  pack_transposed(stacked.data(), H + D, H, packed.data());
  k.UW = packed.data();
  k.xs = xs.typed_data(), k.hs = hs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.d_hs = has(d_hs) ? d_hs.typed_data() : nullptr;
  k.d_hT = d_hT.typed_data();
  k.bias = has_out(db);
  k.dxs = dxs->typed_data(), k.dh0 = dh0->typed_data();
  k.drm = has_out(drm) ? drm->typed_data() : nullptr;
  if (k.rm && !k.drm)
    return ffi::Error::InvalidArgument("rnnkit_simple_rnn_backward: rm needs a drm output");
  const int64_t blocks = k.B ? row_block_count(k.B, threads) : 0;
  std::vector<Floats> partial(blocks);
  k.partial = &partial;
  if (blocks)
    for_row_blocks_indexed(k.B, blocks,
                           [&k](int64_t b0, int64_t b1, int64_t i) { k.rows(b0, b1, i); });
  sum_weight_grads(partial, D, H, H, k.Np, dW->typed_data(), dU->typed_data(),
                   k.bias ? db->typed_data() : nullptr);
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_simple_rnn_forward, rnnkit::SrnnForward, RNNKIT_SRNN_FORWARD_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_simple_rnn_backward, rnnkit::SrnnBackward, RNNKIT_SRNN_BACKWARD_BINDING);
