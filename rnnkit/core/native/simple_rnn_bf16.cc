// SimpleRNN recurrence for the mixed_bfloat16 policy: every matrix product on the AMX tile
// unit with bf16 operands and float32 accumulation; states and gradients stay float32.
// Same handlers, arguments and semantics as simple_rnn.cc (Keras layout W (D, H), U (H, H),
// b (H); h' = act(x W + b + (h rm) U); a masked step keeps the state); only the rounding of
// the matmul operands differs, like torch.autocast's bf16 RNN.
//
// rnnkit_simple_rnn_bf16_forward: per step z = [x_t | h rm] @ [W; U] (one tile product),
//   then act(z + b) in float32 with the next step's bf16 operand written in the same pass.
// rnnkit_simple_rnn_bf16_backward: the reverse loop: dz = dh act'(h) in float32, rounded
//   once to bf16 for [dh_{t-1} | dx_t] = dz @ [U^T | W^T] and for dW += x^T dz,
//   dU += (h rm)^T dz, which are updated every few steps from the buffered rows (as in
//   lstm_bf16.cc); db sums dz in float32.
#include "amx_common.h"
#include "lstm_common.h"  // lstm_scatter_row: dx_t, and dh_{t-1} through rm, of one row

namespace rnnkit {
namespace {

// Rows buffered per dW / dU update (see kAmxUpdateRows in lstm_bf16.cc).
constexpr int64_t kSrnnUpdateRows = 128;

struct Bf16SrnnFwd {
  int64_t T, B, D, H, act;
  const float *xs, *h0, *rm, *bias;  // bias: padded to Np, or nullptr
  const bool* mask;
  const BF16* WU;  // VNNI-packed [W; U] (Kp, Np)
  int64_t Kp, Np;
  float *hs, *hT;  // hs may be nullptr

  template <int64_t ACT>
  void rows(int64_t b0, int64_t b1) const {
    TileScope tiles;
    const int64_t Bt = b1 - b0, Mp = round_up(Bt, kTileRows);
    AlignedVector<BF16> xh(Mp * Kp, 0);  // [x_t | h rm] rows in bf16, zero padded
    Floats z(Mp * Np), h(Bt * H);
    std::memcpy(h.data(), h0 + b0 * H, Bt * H * sizeof(float));
    for (int64_t r = 0; r < Bt; ++r)
      put_column_bf16(&h[r * H], rm ? rm + (b0 + r) * H : nullptr, H, &xh[r * Kp + D], 1);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row0 = t * B + b0;
      for (int64_t r = 0; r < Bt; ++r) to_bf16(xs + (row0 + r) * D, &xh[r * Kp], D);
      amx_gemm<false>(xh.data(), Kp, Mp, Kp, WU, Np, z.data(), Np);
      for (int64_t r = 0; r < Bt; ++r) {
        float* hr = &h[r * H];
        if (!mask || mask[row0 + r]) {  // a skipped step keeps the state (and xh's copy)
          const float* zr = &z[r * Np];
          const float* m = rm ? rm + (b0 + r) * H : nullptr;
          BF16* next = &xh[r * Kp + D];
          for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 mk = tail_mask(j, H);
            __m512 v = load(zr + j, mk);
            if (bias) v = _mm512_add_ps(v, load(bias + j, mk));
            const __m512 y = fast_act<ACT>(v);
            store(hr + j, mk, y);
            const __m512 yr = m ? _mm512_mul_ps(y, load(m + j, mk)) : y;
            _mm256_mask_storeu_epi16(next + j, mk, (__m256i)_mm512_cvtneps_pbh(yr));
          }
        }
        if (hs) std::memcpy(hs + (row0 + r) * H, hr, H * sizeof(float));
      }
    }
    std::memcpy(hT + b0 * H, h.data(), Bt * H * sizeof(float));
  }
};

ffi::Error Bf16SrnnForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, Mask mask, F32 rm,
                           F32Out hs, F32Out hT, int64_t act, int64_t threads) {
  if (!amx_permitted())
    return ffi::Error::Internal(
        "rnnkit_simple_rnn_bf16_forward: the OS refused the AMX tile state");
  auto xd = xs.dimensions(), ud = U.dimensions();
  if (xd.size() != 3 || ud.size() != 2 || ud[0] != ud[1])
    return ffi::Error::InvalidArgument(
        "rnnkit_simple_rnn_bf16_forward: xs must be (T, B, D), U (H, H)");
  Bf16SrnnFwd k;
  k.T = xd[0], k.B = xd[1], k.D = xd[2], k.H = ud[0], k.act = act;
  const int64_t H = k.H;
  if (W.element_count() != static_cast<size_t>(k.D * H) ||
      h0.element_count() != static_cast<size_t>(k.B * H) ||
      (has(b) && b.element_count() != static_cast<size_t>(H)) ||
      (has(rm) && rm.element_count() != static_cast<size_t>(k.B * H)) ||
      (mask.element_count() && mask.element_count() != static_cast<size_t>(k.T * k.B)))
    return ffi::Error::InvalidArgument(
        "rnnkit_simple_rnn_bf16_forward: shapes do not match xs / U");
  if (hs->element_count() && hs->element_count() != static_cast<size_t>(k.T * k.B * H))
    return ffi::Error::InvalidArgument("rnnkit_simple_rnn_bf16_forward: hs must be (T, B, H)");
  k.Kp = round_up(k.D + H, kTileK);
  k.Np = round_up(H, kPanel);
  AlignedVector<BF16> packed(vnni_size(k.Kp, k.Np), 0);
  pack_vnni_rows(W.typed_data(), k.D, H, H, 0, k.Kp, packed.data());
  pack_vnni_rows(U.typed_data(), H, H, H, k.D, k.Kp, packed.data());
  Floats bias;
  if (has(b)) {
    bias.assign(k.Np, 0.0f);
    std::memcpy(bias.data(), b.typed_data(), H * sizeof(float));
  }
  k.WU = packed.data();
  k.bias = bias.empty() ? nullptr : bias.data();
  k.xs = xs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.hs = hs->element_count() ? hs->typed_data() : nullptr;
  k.hT = hT->typed_data();
  if (k.B)
    with_act_kinds(act, act, [&k, threads](auto A, auto) {
      for_row_blocks(k.B, threads, [&k](int64_t b0, int64_t b1) {
        k.rows<decltype(A)::value>(b0, b1);
      });
    });
  return ffi::Error::Success();
}

struct Bf16SrnnBwd {
  int64_t T, B, D, H, act;
  const float *xs, *hs, *h0, *rm, *d_hs, *d_hT;  // rm / d_hs may be nullptr
  const bool* mask;
  const BF16* UW;  // VNNI-packed [U^T | W^T] (Hk, NpHD): columns [0, H) -> dh, [H, H+D) -> dx
  int64_t Hk, NpHD, Np, Dp, Hp;
  float *dxs, *dh0, *drm;  // drm may be nullptr
  // per block: dW (Dp, Np), dU (Hp, Np), db (Np), summed after the join
  std::vector<Floats>* partial;

  void rows(int64_t b0, int64_t b1, int64_t block) const {
    TileScope tiles;
    const int64_t Bt = b1 - b0, Mp = round_up(Bt, kTileRows);
    const int64_t S = std::min(T, std::max<int64_t>(1, (kSrnnUpdateRows + Bt - 1) / Bt));
    const int64_t Nrp = round_up(S * Bt, kTileK);
    Floats dh(Bt * H), out(Mp * NpHD), acc(drm ? Bt * H : 0, 0.0f);
    // dzA: dz rows in bf16; xcT / hcT: x and h_{t-1} rm of the buffered rows, transposed;
    // dzV: the buffered dz packed (VNNI)
    AlignedVector<BF16> dzA(Mp * Hk, 0), xcT(Dp * Nrp, 0), hcT(Hp * Nrp, 0),
        dzV(vnni_size(Nrp, Np), 0);
    Floats& part = (*partial)[block];
    part.assign((Dp + Hp + 1) * Np, 0.0f);
    float *dW = part.data(), *dU = dW + Dp * Np, *db = dU + Hp * Np;
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    int64_t n = 0;  // steps buffered
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      const float* h_prev = t > 0 ? hs + (row0 - B) * H : h0 + b0 * H;
      for (int64_t r = 0; r < Bt; ++r) {
        float* dhr = &dh[r * H];
        const float* e = d_hs ? d_hs + (row0 + r) * H : nullptr;
        const bool step = !mask || mask[row0 + r];
        const float* y = hs + (row0 + r) * H;
        for (int64_t j = 0; j < H; j += 16) {
          const __mmask16 mk = tail_mask(j, H);
          __m512 g = load(dhr + j, mk);
          if (e) g = _mm512_add_ps(g, load(e + j, mk));
          // a skipped step passes dh through and has dz = 0
          const __m512 d = step ? _mm512_mul_ps(g, v_act_grad(act, load(y + j, mk)))
                                : _mm512_setzero_ps();
          if (!step) store(dhr + j, mk, g);
          _mm256_mask_storeu_epi16(&dzA[r * Hk + j], mk, (__m256i)_mm512_cvtneps_pbh(d));
          store(db + j, mk, _mm512_add_ps(load(db + j, mk), d));
        }
      }
      amx_gemm<false>(dzA.data(), Hk, Mp, Hk, UW, NpHD, out.data(), NpHD);
      pack_vnni_rows_bf16(dzA.data(), Bt, Np / 16, Hk, n * Bt, Nrp, dzV.data());
      for (int64_t r = 0; r < Bt; ++r) {
        const int64_t col = n * Bt + r;
        put_column_bf16(xs + (row0 + r) * D, nullptr, D, &xcT[col], Nrp);
        put_column_bf16(h_prev + r * H, rm ? rm + (b0 + r) * H : nullptr, H, &hcT[col], Nrp);
      }
      if (++n == S || t == 0) {
        const int64_t rows_used = n * Bt;
        if (rows_used < Nrp) {  // a partial buffer: clear what earlier updates left behind
          zero_vnni_rows(rows_used, Nrp, Np, Nrp, dzV.data());
          for (int64_t d = 0; d < Dp; ++d)
            std::fill(&xcT[d * Nrp + rows_used], &xcT[d * Nrp + Nrp], BF16{0});
          for (int64_t j = 0; j < Hp; ++j)
            std::fill(&hcT[j * Nrp + rows_used], &hcT[j * Nrp + Nrp], BF16{0});
        }
        amx_gemm<true>(xcT.data(), Nrp, Dp, Nrp, dzV.data(), Np, dW, Np);
        amx_gemm<true>(hcT.data(), Nrp, Hp, Nrp, dzV.data(), Np, dU, Np);
        n = 0;
      }
      for (int64_t r = 0; r < Bt; ++r)
        lstm_scatter_row(&out[r * NpHD], H, D, !mask || mask[row0 + r], dxs + (row0 + r) * D,
                         &dh[r * H], rm ? rm + (b0 + r) * H : nullptr, h_prev + r * H,
                         rm ? &acc[r * H] : nullptr);
    }
    std::memcpy(dh0 + b0 * H, dh.data(), Bt * H * sizeof(float));
    if (drm) std::memcpy(drm + b0 * H, acc.data(), Bt * H * sizeof(float));
  }
};

ffi::Error Bf16SrnnBackward(F32 xs, F32 W, F32 U, F32 hs, F32 h0, Mask mask, F32 rm, F32 d_hs,
                            F32 d_hT, F32Out dxs, F32Out dW, F32Out dU, F32Out db,
                            F32Out dh0, F32Out drm, int64_t act, int64_t threads) {
  if (!amx_permitted())
    return ffi::Error::Internal(
        "rnnkit_simple_rnn_bf16_backward: the OS refused the AMX tile state");
  int64_t dims[4];
  if (const char* err = srnn_backward_shape_error(xs, W, U, hs, h0, mask, rm, d_hs, d_hT, dims))
    return ffi::Error::InvalidArgument(std::string("rnnkit_simple_rnn_bf16_backward: ") + err);
  Bf16SrnnBwd k;
  k.T = dims[0], k.B = dims[1], k.D = dims[2], k.H = dims[3], k.act = act;
  const int64_t D = k.D, H = k.H;
  k.Hk = round_up(H, kTileK);
  k.NpHD = round_up(H + D, kPanel);
  k.Np = round_up(H, kPanel);
  k.Dp = round_up(D, kTileRows);
  k.Hp = round_up(H, kTileRows);
  Floats stacked((H + D) * H);
  std::memcpy(stacked.data(), U.typed_data(), H * H * sizeof(float));
  std::memcpy(stacked.data() + H * H, W.typed_data(), D * H * sizeof(float));
  AlignedVector<BF16> packed(vnni_size(k.Hk, k.NpHD), 0);
  pack_vnni_transposed(stacked.data(), H + D, H, H, k.Hk, packed.data());
  k.UW = packed.data();
  k.xs = xs.typed_data(), k.hs = hs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.d_hs = has(d_hs) ? d_hs.typed_data() : nullptr;
  k.d_hT = d_hT.typed_data();
  k.dxs = dxs->typed_data(), k.dh0 = dh0->typed_data();
  k.drm = has_out(drm) ? drm->typed_data() : nullptr;
  if (k.rm && !k.drm)
    return ffi::Error::InvalidArgument("rnnkit_simple_rnn_bf16_backward: rm needs a drm output");
  const int64_t blocks = k.B ? row_block_count(k.B, threads) : 0;
  std::vector<Floats> partial(blocks);
  k.partial = &partial;
  if (blocks)
    for_row_blocks_indexed(k.B, blocks,
                           [&k](int64_t b0, int64_t b1, int64_t i) { k.rows(b0, b1, i); });
  sum_weight_grad_shares(partial, dW->typed_data(), dU->typed_data(),
                         has_out(db) ? db->typed_data() : nullptr, D, H, k.Dp, k.Hp, H, k.Np);
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_simple_rnn_bf16_forward, rnnkit::Bf16SrnnForward, RNNKIT_SRNN_FORWARD_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_simple_rnn_bf16_backward, rnnkit::Bf16SrnnBackward, RNNKIT_SRNN_BACKWARD_BINDING);
