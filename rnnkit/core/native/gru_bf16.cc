// GRU recurrence (reset_after=True, kind "gru") for the mixed_bfloat16 policy: the matrix
// products on the AMX tile unit with bf16 operands and float32 accumulation; gates, states
// and gradients float32. Same handlers, arguments, outputs and semantics as gru.cc with
// reset_after=1 (see there); only the rounding of the matmul operands differs.
//
// Per step: xw = x_t W and hu = (h rm) U as two tile products (no multiply-by-zero blocks),
// then z = ract(xw_z + hu_z + b), r = ract(xw_r + hu_r + b), hh = act(xw_h + b_in_h +
// r * (hu_h + b_rec_h)). Reverse: [dzr | dh~ r] @ U^T as one tile product per step.
// rnnkit_gru_bf16x3_forward: the same forward for the float32 policy, its operands split into
// bf16 hi and lo parts (put_split3, amx_common.h: three times the K per product).
#include "amx_common.h"
#include "gru_common.h"

namespace rnnkit {
namespace {

struct Bf16GruFwd {
  int64_t T, B, D, H, act, ract;
  int64_t S;  // K segments of the operands: 1 (bf16), or 3 (split float32: [hi | lo | hi])
  const float *xs, *h0, *rm;
  const bool* mask;
  const BF16 *Wv, *Uv;          // VNNI-packed W (S Dp, N3) and U (S Hk, N3)
  const float *bzr, *bxh, *buh;  // 2H summed biases of z and r, b_in_h, b_rec_h (or nullptr)
  int64_t Dp, Hk, N3;
  float *hs, *hT, *gates;

  void rows(int64_t b0, int64_t b1) const {
    TileScope tiles;
    const int64_t Bt = b1 - b0, Mp = round_up(Bt, kTileRows), G = 4 * H;
    const int64_t xK = S * Dp, hK = S * Hk;
    AlignedVector<BF16> xA(Mp * xK, 0), hA(Mp * hK, 0);
    Floats cx(Mp * N3), ch(Mp * N3), h(Bt * H), hm(H);
    auto put_h = [&](int64_t r) {
      const float* src = &h[r * H];
      const float* m = rm ? rm + (b0 + r) * H : nullptr;
      if (S == 3) return put_split3(src, m, H, &hA[r * hK], Hk);
      if (m) {
        for (int64_t j = 0; j < H; ++j) hm[j] = src[j] * m[j];
        src = hm.data();
      }
      to_bf16(src, &hA[r * hK], H);
    };
    std::memcpy(h.data(), h0 + b0 * H, Bt * H * sizeof(float));
    for (int64_t r = 0; r < Bt; ++r) put_h(r);
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row0 = t * B + b0;
      for (int64_t r = 0; r < Bt; ++r) {
        if (S == 3)
          put_split3(xs + (row0 + r) * D, nullptr, D, &xA[r * xK], Dp);
        else
          to_bf16(xs + (row0 + r) * D, &xA[r * xK], D);
      }
      amx_gemm<false>(xA.data(), xK, Mp, xK, Wv, N3, cx.data(), N3);
      amx_gemm<false>(hA.data(), hK, Mp, hK, Uv, N3, ch.data(), N3);
      for (int64_t r = 0; r < Bt; ++r) {
        const float *x = &cx[r * N3], *u = &ch[r * N3];
        float* g = gates ? gates + (row0 + r) * G : nullptr;
        const bool step = !mask || mask[row0 + r];
        if (!g && !step) continue;
        float* hr = &h[r * H];
        for (int64_t j = 0; j < H; j += 16) {
          const __mmask16 mk = tail_mask(j, H);
          auto b = [&](const float* v, int64_t off) { return v ? load(v + off + j, mk) : zero; };
          const __m512 z = v_act(ract, _mm512_add_ps(_mm512_add_ps(load(x + j, mk),
                                                                   load(u + j, mk)), b(bzr, 0)));
          const __m512 rg = v_act(ract, _mm512_add_ps(
              _mm512_add_ps(load(x + H + j, mk), load(u + H + j, mk)), b(bzr, H)));
          const __m512 uh = _mm512_add_ps(load(u + 2 * H + j, mk), b(buh, 0));
          const __m512 hh = v_act(act, _mm512_fmadd_ps(
              rg, uh, _mm512_add_ps(load(x + 2 * H + j, mk), b(bxh, 0))));
          if (g) {
            store(g + j, mk, z);
            store(g + H + j, mk, rg);
            store(g + 2 * H + j, mk, hh);
            store(g + 3 * H + j, mk, uh);
          }
          if (!step) continue;
          store(hr + j, mk, _mm512_fmadd_ps(z, load(hr + j, mk),
                                            _mm512_mul_ps(_mm512_sub_ps(one_v(), z), hh)));
        }
        if (step) put_h(r);
      }
      if (hs) std::memcpy(hs + (t * B + b0) * H, h.data(), Bt * H * sizeof(float));
    }
    std::memcpy(hT + b0 * H, h.data(), Bt * H * sizeof(float));
  }
};

// The forward handlers' body; S = 1 (bf16 operands) or 3 (split float32), `name` for errors.
template <int64_t S>
ffi::Error gru_amx_forward(const char* name, F32 xs, F32 W, F32 U, F32 b, F32 h0, Mask mask,
                           F32 rm, F32Out hs, F32Out hT, F32Out gates, int64_t act,
                           int64_t ract, int64_t reset_after, int64_t threads) {
  if (!amx_permitted())
    return ffi::Error::Internal(std::string(name) + ": the OS refused the AMX tile state");
  auto xd = xs.dimensions();
  if (xd.size() != 3 || U.dimensions().size() != 2) return invalid_argument(name, "xs must be (T, B, D), U (H, 3H)");
  if (!reset_after) return invalid_argument(name, "reset_after=True only");
  Bf16GruFwd k;
  k.S = S;
  k.T = xd[0], k.B = xd[1], k.D = xd[2], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract;
  const int64_t T = k.T, D = k.D, H = k.H, G3 = 3 * H;
  if (W.element_count() != static_cast<size_t>(D * G3) ||
      U.element_count() != static_cast<size_t>(H * G3) ||
      h0.element_count() != static_cast<size_t>(k.B * H))
    return invalid_argument(name, "W / U / h0 shapes do not match xs");
  const size_t nb = has(b) ? b.element_count() : 0;
  if (nb && nb != static_cast<size_t>(2 * G3))
    return invalid_argument(name, "bias must be (2, 3H)");
  if (gates->element_count() && gates->element_count() != static_cast<size_t>(T * k.B * 4 * H))
    return invalid_argument(name, "gates has the wrong shape");
  k.Dp = round_up(D, kTileK), k.Hk = round_up(H, kTileK), k.N3 = round_up(G3, kPanel);
  AlignedVector<BF16> wv(vnni_size(S * k.Dp, k.N3), 0), uv(vnni_size(S * k.Hk, k.N3), 0);
  pack_split_segments(W.typed_data(), D * G3, S, k.Dp, [&](const float* v, int64_t k0) {
    pack_vnni_rows(v, D, G3, G3, k0, S * k.Dp, wv.data());
  });
  pack_split_segments(U.typed_data(), H * G3, S, k.Hk, [&](const float* v, int64_t k0) {
    pack_vnni_rows(v, H, G3, G3, k0, S * k.Hk, uv.data());
  });
  k.Wv = wv.data(), k.Uv = uv.data();
  Floats bias;
  k.bzr = k.bxh = k.buh = nullptr;
  if (nb) {  // [b_in_zr + b_rec_zr (2H) | b_in_h (H) | b_rec_h (H)]
    bias.assign(4 * H, 0.0f);
    const float *bi = b.typed_data(), *br = bi + G3;
    for (int64_t j = 0; j < 2 * H; ++j) bias[j] = bi[j] + br[j];
    std::memcpy(&bias[2 * H], bi + 2 * H, H * sizeof(float));
    std::memcpy(&bias[3 * H], br + 2 * H, H * sizeof(float));
    k.bzr = bias.data(), k.bxh = bias.data() + 2 * H, k.buh = bias.data() + 3 * H;
  }
  k.xs = xs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.hs = hs->element_count() ? hs->typed_data() : nullptr;
  k.gates = gates->element_count() ? gates->typed_data() : nullptr;
  k.hT = hT->typed_data();
  for_row_blocks(k.B, threads, [&k](int64_t b0, int64_t b1) { k.rows(b0, b1); });
  return ffi::Error::Success();
}

ffi::Error Bf16GruForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, Mask mask, F32 rm, F32Out hs,
                          F32Out hT, F32Out gates, int64_t act, int64_t ract,
                          int64_t reset_after, int64_t threads) {
  return gru_amx_forward<1>("rnnkit_gru_bf16_forward", xs, W, U, b, h0, mask, rm, hs, hT, gates,
                            act, ract, reset_after, threads);
}

ffi::Error Bf16x3GruForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, Mask mask, F32 rm,
                            F32Out hs, F32Out hT, F32Out gates, int64_t act, int64_t ract,
                            int64_t reset_after, int64_t threads) {
  return gru_amx_forward<3>("rnnkit_gru_bf16x3_forward", xs, W, U, b, h0, mask, rm, hs, hT,
                            gates, act, ract, reset_after, threads);
}

struct Bf16GruBwd {
  int64_t T, B, H, act, ract;
  const float *gates, *hs, *h0, *rm, *d_hs, *d_hT;
  const bool* mask;
  const BF16* Ut;  // VNNI-packed U^T (Kp = round_up(3H, 32), Nh)
  int64_t Kp, Nh;
  float *dzr, *dph, *dphr, *dh0, *drm;

  void rows(int64_t b0, int64_t b1) const {
    TileScope tiles;
    const int64_t Bt = b1 - b0, Mp = round_up(Bt, kTileRows), G = 4 * H, H2 = 2 * H;
    Floats dh(Bt * H), X(Mp * Nh), acc(drm ? Bt * H : 0, 0.0f);
    AlignedVector<BF16> A(Mp * Kp, 0);  // [dzr | dh~ r] rows in bf16
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      const float* h_prev = t > 0 ? hs + (row0 - B) * H : h0 + b0 * H;
      for (int64_t r = 0; r < Bt; ++r) {
        float* dhp = &dh[r * H];
        if (d_hs) {
          const float* e = d_hs + (row0 + r) * H;
          for (int64_t j = 0; j < H; ++j) dhp[j] += e[j];
        }
        float *zr = dzr + (row0 + r) * H2, *ph = dph + (row0 + r) * H,
              *phr = dphr + (row0 + r) * H;
        if (mask && !mask[row0 + r]) {
          std::fill(zr, zr + H2, 0.0f);
          std::fill(ph, ph + H, 0.0f);
          std::fill(phr, phr + H, 0.0f);
        } else {
          gru_dgates_row(gates + (row0 + r) * G, h_prev + r * H, dhp, zr, ph, phr, H, act,
                         ract, true);
        }
        to_bf16(zr, &A[r * Kp], H2);
        to_bf16(phr, &A[r * Kp + H2], H);
      }
      amx_gemm<false>(A.data(), Kp, Mp, Kp, Ut, Nh, X.data(), Nh);
      for (int64_t r = 0; r < Bt; ++r)
        if (!mask || mask[row0 + r])
          gru_dh_row(&X[r * Nh], rm ? rm + (b0 + r) * H : nullptr, h_prev + r * H,
                     drm ? &acc[r * H] : nullptr, &dh[r * H], H);
    }
    std::memcpy(dh0 + b0 * H, dh.data(), Bt * H * sizeof(float));
    if (drm) std::memcpy(drm + b0 * H, acc.data(), Bt * H * sizeof(float));
  }
};

ffi::Error Bf16GruBackward(F32 U, F32 gates, F32 hs, F32 h0, Mask mask, F32 rm, F32 d_hs,
                           F32 d_hT, F32Out dzr, F32Out dph, F32Out dphr, F32Out dh0,
                           F32Out drm, int64_t act, int64_t ract, int64_t reset_after,
                           int64_t threads) {
  if (!amx_permitted())
    return ffi::Error::Internal("rnnkit_gru_bf16_backward: the OS refused the AMX tile state");
  auto gd = gates.dimensions();
  if (gd.size() != 3 || U.dimensions().size() != 2 || !reset_after)
    return ffi::Error::InvalidArgument(
        "rnnkit_gru_bf16_backward: gates must be (T, B, 4H), U (H, 3H), reset_after=True");
  Bf16GruBwd k;
  k.T = gd[0], k.B = gd[1], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract;
  const int64_t H = k.H, G3 = 3 * H;
  const size_t rows = static_cast<size_t>(k.T * k.B);
  if (gd[2] != 4 * H || U.dimensions()[1] != G3 || hs.element_count() != rows * H ||
      dzr->element_count() != rows * 2 * H || dph->element_count() != rows * H ||
      dphr->element_count() != rows * H)
    return ffi::Error::InvalidArgument(
        "rnnkit_gru_bf16_backward: gates / U / hs / gradient output shapes differ");
  k.Kp = round_up(G3, kTileK), k.Nh = round_up(H, kPanel);
  AlignedVector<BF16> ut(vnni_size(k.Kp, k.Nh), 0);
  pack_vnni_transposed(U.typed_data(), H, G3, G3, k.Kp, ut.data());
  k.Ut = ut.data();
  k.gates = gates.typed_data(), k.hs = hs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.d_hs = has(d_hs) ? d_hs.typed_data() : nullptr;
  k.d_hT = d_hT.typed_data();
  k.dzr = dzr->typed_data(), k.dph = dph->typed_data(), k.dphr = dphr->typed_data();
  k.dh0 = dh0->typed_data();
  k.drm = drm->element_count() ? drm->typed_data() : nullptr;
  if (k.rm && !k.drm)
    return ffi::Error::InvalidArgument("rnnkit_gru_bf16_backward: rm needs a drm output");
  for_row_blocks(k.B, threads, [&k](int64_t b0, int64_t b1) { k.rows(b0, b1); });
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_gru_bf16_forward, rnnkit::Bf16GruForward, RNNKIT_GRU_FORWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_gru_bf16x3_forward, rnnkit::Bf16x3GruForward, RNNKIT_GRU_FORWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_gru_bf16_backward, rnnkit::Bf16GruBackward, RNNKIT_GRU_BACKWARD_BINDING);
