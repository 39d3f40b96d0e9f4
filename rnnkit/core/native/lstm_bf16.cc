// LSTM recurrence for the mixed_bfloat16 policy: every matrix product on the AMX tile unit
// with bf16 operands and float32 accumulation; gates, states and their gradients stay
// float32. Same handlers, arguments and semantics as lstm.cc (gate order i, f, c, o; Keras
// layout W (D, 4H), U (H, 4H), b (4H)); only the rounding of the matmul operands differs,
// like torch.autocast's bf16 LSTM.
//
// rnnkit_lstm_bf16_forward: per step z = [x_t | h rm] @ [W; U] (one tile product), then the
//   gates in float32; optionally saves the gate activations and cell states.
// rnnkit_lstm_bf16_backward: the reverse loop: dz in float32, [dh_{t-1} | dx_t] =
//   dz @ [U^T | W^T] as one tile product, and dW += x^T dz, dU += (h rm)^T dz every few
//   steps from the buffered rows (tile products with K = the buffered rows).
#include "amx_common.h"
#include "lstm_common.h"

namespace rnnkit {
namespace {

// One row of a forward step: lstm_cell_row (lstm_common.h) with the activations of
// amx_common.h fixed at compile time, and the next step's recurrent input h * rm (m;
// nullptr for none) written straight into its bf16 slot of the next product's A operand.
template <int64_t ACT, int64_t RACT>
void cell_row(const float* z, const float* bias, int64_t H, float* g, bool step, float* c,
              float* h, BF16* next, const float* m) {
  for (int64_t j = 0; j < H; j += 16) {
    const __mmask16 mk = tail_mask(j, H);
    auto pre = [&](int64_t q) {
      const __m512 v = load(z + q * H + j, mk);
      return bias ? _mm512_add_ps(v, load(bias + q * H + j, mk)) : v;
    };
    const __m512 i = fast_act<RACT>(pre(0)), f = fast_act<RACT>(pre(1)),
                 gg = fast_act<ACT>(pre(2)), o = fast_act<RACT>(pre(3));
    if (g) {
      store(g + j, mk, i);
      store(g + H + j, mk, f);
      store(g + 2 * H + j, mk, gg);
      store(g + 3 * H + j, mk, o);
    }
    if (!step) continue;
    const __m512 cn = _mm512_fmadd_ps(f, load(c + j, mk), _mm512_mul_ps(i, gg));
    const __m512 hn = _mm512_mul_ps(o, fast_act<ACT>(cn));
    store(c + j, mk, cn);
    store(h + j, mk, hn);
    const __m512 hr = m ? _mm512_mul_ps(hn, load(m + j, mk)) : hn;
    _mm256_mask_storeu_epi16(next + j, mk, (__m256i)_mm512_cvtneps_pbh(hr));
  }
}

struct Bf16LstmFwd {
  int64_t T, B, D, H, act, ract;
  bool x_bm;
  const float *xs, *h0, *c0, *rm, *bias;  // bias: padded to Np, or nullptr
  const bool* mask;
  const BF16* WU;  // VNNI-packed [W; U] (Kp, Np)
  int64_t Kp, Np;
  float *hs, *hT, *cT, *gates, *cs;

  void rows(int64_t b0, int64_t b1) const {
    TileScope tiles;
    const int64_t Bt = b1 - b0, Mp = round_up(Bt, kTileRows), G = 4 * H;
    AlignedVector<BF16> xh(Mp * Kp, 0);  // [x_t | h rm] rows in bf16, zero padded
    Floats z(Mp * Np), h(Bt * H), c(Bt * H), hm(H);
    for (int64_t r = 0; r < Bt; ++r) {
      std::memcpy(&h[r * H], h0 + (b0 + r) * H, H * sizeof(float));
      std::memcpy(&c[r * H], c0 + (b0 + r) * H, H * sizeof(float));
    }
    auto put_h = [&](int64_t r) {  // the recurrent input of the next step: h * rm, in bf16
      const float* src = &h[r * H];
      if (rm) {
        const float* m = rm + (b0 + r) * H;
        for (int64_t j = 0; j < H; ++j) hm[j] = src[j] * m[j];
        src = hm.data();
      }
      to_bf16(src, &xh[r * Kp + D], H);
    };
    for (int64_t r = 0; r < Bt; ++r) put_h(r);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row0 = t * B + b0;
      for (int64_t r = 0; r < Bt; ++r)
        to_bf16(xs + seq_row(x_bm, T, B, t, b0 + r) * D, &xh[r * Kp], D);
      amx_gemm<false>(xh.data(), Kp, Mp, Kp, WU, Np, z.data(), Np);
      with_act_kinds(act, ract, [&](auto A, auto R) {
        for (int64_t r = 0; r < Bt; ++r) {
          const bool step = !mask || mask[row0 + r];
          float *hr = &h[r * H], *cr = &c[r * H];
          cell_row<A(), R()>(&z[r * Np], bias, H, gates ? gates + (row0 + r) * G : nullptr,
                             step, cr, hr, &xh[r * Kp + D], rm ? rm + (b0 + r) * H : nullptr);
          if (hs) std::memcpy(hs + seq_row(x_bm, T, B, t, b0 + r) * H, hr, H * sizeof(float));
          if (cs) std::memcpy(cs + (row0 + r) * H, cr, H * sizeof(float));
        }
      });
    }
    for (int64_t r = 0; r < Bt; ++r) {
      std::memcpy(hT + (b0 + r) * H, &h[r * H], H * sizeof(float));
      std::memcpy(cT + (b0 + r) * H, &c[r * H], H * sizeof(float));
    }
  }
};

ffi::Error Bf16LstmForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, F32 c0, Mask mask, F32 rm,
                           F32Out hs, F32Out hT, F32Out cT, F32Out gates, F32Out cs,
                           int64_t act, int64_t ract, int64_t threads, int64_t x_batch_major) {
  if (!amx_permitted())
    return ffi::Error::Internal("rnnkit_lstm_bf16_forward: the OS refused the AMX tile state");
  auto xd = xs.dimensions();
  if (xd.size() != 3 || U.dimensions().size() != 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_lstm_bf16_forward: xs must be (T, B, D) or (B, T, D), U (H, 4H)");
  Bf16LstmFwd k;
  k.x_bm = x_batch_major != 0;
  k.T = xd[k.x_bm ? 1 : 0], k.B = xd[k.x_bm ? 0 : 1], k.D = xd[2], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract;
  const int64_t G = 4 * k.H;
  if (W.element_count() != static_cast<size_t>(k.D * G) ||
      U.element_count() != static_cast<size_t>(k.H * G))
    return ffi::Error::InvalidArgument("rnnkit_lstm_bf16_forward: W / U shapes do not match xs");
  k.Kp = round_up(k.D + k.H, kTileK);
  k.Np = round_up(G, kPanel);
  AlignedVector<BF16> packed(vnni_size(k.Kp, k.Np), 0);
  pack_vnni_rows(W.typed_data(), k.D, G, G, 0, k.Kp, packed.data());
  pack_vnni_rows(U.typed_data(), k.H, G, G, k.D, k.Kp, packed.data());
  Floats bias;
  if (has(b)) {
    bias.assign(k.Np, 0.0f);
    std::memcpy(bias.data(), b.typed_data(), G * sizeof(float));
  }
  k.WU = packed.data();
  k.bias = bias.empty() ? nullptr : bias.data();
  k.xs = xs.typed_data(), k.h0 = h0.typed_data(), k.c0 = c0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.hs = hs->element_count() ? hs->typed_data() : nullptr;
  k.gates = gates->element_count() ? gates->typed_data() : nullptr;
  k.cs = cs->element_count() ? cs->typed_data() : nullptr;
  k.hT = hT->typed_data(), k.cT = cT->typed_data();
  for_row_blocks(k.B, threads, [&k](int64_t b0, int64_t b1) { k.rows(b0, b1); });
  return ffi::Error::Success();
}

struct Bf16LstmBwd {
  int64_t T, B, D, H, act, ract;
  bool x_bm;
  const float *xs, *gates, *cs, *c0, *hs, *h0, *rm, *d_hs, *d_hT, *d_cT;
  const bool* mask;
  const BF16* UW;  // VNNI-packed [U^T | W^T] (Gp, NpHD): columns [0, H) -> dh, [H, H+D) -> dx
  int64_t Gp, NpHD, Np, Dp, Hp;
  float *dxs, *dh0, *dc0, *drm;
  // per block: dW (Dp, Np), dU (Hp, Np), db (Np), summed after the loop
  std::vector<Floats>* partial;

  void rows(int64_t b0, int64_t b1, int64_t block) const {
    TileScope tiles;
    const int64_t Bt = b1 - b0, Mp = round_up(Bt, kTileRows), G = 4 * H;
    // the weight gradients are updated every S steps from the S * Bt buffered rows: x and
    // h_{t-1} rm transposed in bf16 (A operands, columns = rows of the buffer), dz packed
    const int64_t S = std::min(T, std::max<int64_t>(1, (kUpdateRows + Bt - 1) / Bt));
    const int64_t Nrp = round_up(S * Bt, kTileK);
    Floats dh(Bt * H), dc(Bt * H), out(Mp * NpHD), dz(S * Bt * G),
        acc(drm ? Bt * H : 0, 0.0f);
    AlignedVector<BF16> dzA(Mp * Gp, 0), xcT(Dp * Nrp, 0), hcT(Hp * Nrp, 0),
        dzV(vnni_size(Nrp, Np), 0);
    int64_t n = 0;
    Floats& part = (*partial)[block];
    part.assign((Dp + Hp + 1) * Np, 0.0f);
    float *dW = part.data(), *dU = dW + Dp * Np, *db = dU + Hp * Np;
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    std::memcpy(dc.data(), d_cT + b0 * H, Bt * H * sizeof(float));
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      // h_{t-1} of row r: hs at step t - 1 (laid out as xs), or h0
      auto h_prev = [&](int64_t r) {
        return t > 0 ? hs + seq_row(x_bm, T, B, t - 1, b0 + r) * H : h0 + (b0 + r) * H;
      };
      float* dzt = &dz[n * Bt * G];
      for (int64_t r = 0; r < Bt; ++r) {
        float* dzr = dzt + r * G;
        float *dhp = &dh[r * H], *dcp = &dc[r * H];
        if (d_hs) {
          const float* e = d_hs + seq_row(x_bm, T, B, t, b0 + r) * H;
          for (int64_t j = 0; j < H; ++j) dhp[j] += e[j];
        }
        if (mask && !mask[row0 + r]) {
          std::fill(dzr, dzr + G, 0.0f);
        } else {
          const float* c_prev = t > 0 ? cs + (row0 - B + r) * H : c0 + (b0 + r) * H;
          lstm_dz_row(gates + (row0 + r) * G, cs + (row0 + r) * H, c_prev, dhp, dcp, dzr, H,
                      act, ract);
        }
        to_bf16(dzr, &dzA[r * Gp], G);
      }
      amx_gemm<false>(dzA.data(), Gp, Mp, Gp, UW, NpHD, out.data(), NpHD);
      // buffer x_t and h_{t-1} rm (transposed, bf16) for the weight update; db in float32
      for (int64_t r = 0; r < Bt; ++r) {
        const int64_t col = n * Bt + r;
        put_column_bf16(xs + seq_row(x_bm, T, B, t, b0 + r) * D, nullptr, D, &xcT[col], Nrp);
        put_column_bf16(h_prev(r), rm ? rm + (b0 + r) * H : nullptr, H, &hcT[col], Nrp);
        const float* dzr = dzt + r * G;
        for (int64_t j = 0; j < G; ++j) db[j] += dzr[j];
      }
      if (++n == S || t == 0) {
        const int64_t rows_used = n * Bt;
        if (rows_used < Nrp) {  // a partial buffer: clear what earlier updates left behind
          std::fill(dzV.begin(), dzV.end(), BF16{0});
          for (int64_t d = 0; d < Dp; ++d)
            std::fill(&xcT[d * Nrp + rows_used], &xcT[d * Nrp + Nrp], BF16{0});
          for (int64_t j = 0; j < Hp; ++j)
            std::fill(&hcT[j * Nrp + rows_used], &hcT[j * Nrp + Nrp], BF16{0});
        }
        pack_vnni_rows(dz.data(), rows_used, G, G, 0, Nrp, dzV.data());
        amx_gemm<true>(xcT.data(), Nrp, Dp, Nrp, dzV.data(), Np, dW, Np);
        amx_gemm<true>(hcT.data(), Nrp, Hp, Nrp, dzV.data(), Np, dU, Np);
        n = 0;
      }
      for (int64_t r = 0; r < Bt; ++r)
        lstm_scatter_row(&out[r * NpHD], H, D, !mask || mask[row0 + r],
                         dxs + seq_row(x_bm, T, B, t, b0 + r) * D, &dh[r * H],
                         rm ? rm + (b0 + r) * H : nullptr, h_prev(r),
                         rm ? &acc[r * H] : nullptr);
    }
    std::memcpy(dh0 + b0 * H, dh.data(), Bt * H * sizeof(float));
    std::memcpy(dc0 + b0 * H, dc.data(), Bt * H * sizeof(float));
    if (drm) std::memcpy(drm + b0 * H, acc.data(), Bt * H * sizeof(float));
  }
};

ffi::Error Bf16LstmBackward(F32 xs, F32 W, F32 U, F32 gates, F32 cs, F32 c0, F32 hs, F32 h0,
                            Mask mask, F32 rm, F32 d_hs, F32 d_hT, F32 d_cT, F32Out dxs,
                            F32Out dW, F32Out dU, F32Out db, F32Out dh0, F32Out dc0,
                            F32Out drm, int64_t act, int64_t ract, int64_t threads,
                            int64_t x_batch_major) {
  if (!amx_permitted())
    return ffi::Error::Internal("rnnkit_lstm_bf16_backward: the OS refused the AMX tile state");
  auto xd = xs.dimensions(), gd = gates.dimensions();
  if (xd.size() != 3 || gd.size() != 3 || U.dimensions().size() != 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_lstm_bf16_backward: xs must be (T, B, D) or (B, T, D), gates (T, B, 4H)");
  Bf16LstmBwd k;
  k.x_bm = x_batch_major != 0;
  k.T = gd[0], k.B = gd[1], k.D = xd[2], k.H = U.dimensions()[0];
  const int64_t G = 4 * k.H, D = k.D, H = k.H;
  if (gd[2] != G || W.element_count() != static_cast<size_t>(D * G))
    return ffi::Error::InvalidArgument("rnnkit_lstm_bf16_backward: gates / W / U shapes differ");
  k.act = act, k.ract = ract;
  k.Gp = round_up(G, kTileK);
  k.NpHD = round_up(H + D, kPanel);
  k.Np = round_up(G, kPanel);
  k.Dp = round_up(D, kTileRows);
  k.Hp = round_up(H, kTileRows);
  Floats stacked((H + D) * G);
  std::memcpy(stacked.data(), U.typed_data(), H * G * sizeof(float));
  std::memcpy(stacked.data() + H * G, W.typed_data(), D * G * sizeof(float));
  AlignedVector<BF16> packed(vnni_size(k.Gp, k.NpHD), 0);
  pack_vnni_transposed(stacked.data(), H + D, G, G, k.Gp, packed.data());
  k.UW = packed.data();
  k.xs = xs.typed_data();
  k.gates = gates.typed_data(), k.cs = cs.typed_data(), k.c0 = c0.typed_data();
  k.hs = hs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.d_hs = has(d_hs) ? d_hs.typed_data() : nullptr;
  k.d_hT = d_hT.typed_data(), k.d_cT = d_cT.typed_data();
  k.dxs = dxs->typed_data(), k.dh0 = dh0->typed_data(), k.dc0 = dc0->typed_data();
  k.drm = drm->element_count() ? drm->typed_data() : nullptr;
  if (k.rm && !k.drm)
    return ffi::Error::InvalidArgument("rnnkit_lstm_bf16_backward: rm needs a drm output");
  const int64_t blocks = row_block_count(k.B, threads);
  std::vector<Floats> partial(blocks);
  k.partial = &partial;
  for_row_blocks_indexed(k.B, blocks,
                         [&k](int64_t b0, int64_t b1, int64_t i) { k.rows(b0, b1, i); });
  // sum the blocks' shares into the unpadded outputs
  float* outs[3] = {dW->typed_data(), dU->typed_data(), has_out(db) ? db->typed_data() : nullptr};
  const int64_t offsets[3] = {0, k.Dp, k.Dp + k.Hp}, counts[3] = {D, H, 1};
  for (int q = 0; q < 3; ++q) {
    if (!outs[q]) continue;
    for (int64_t row = 0; row < counts[q]; ++row) {
      float* dst = outs[q] + row * G;
      std::fill(dst, dst + G, 0.0f);
      for (const auto& share : partial) {
        const float* src = share.data() + (offsets[q] + row) * k.Np;
        for (int64_t j = 0; j < G; ++j) dst[j] += src[j];
      }
    }
  }
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_bf16_forward, rnnkit::Bf16LstmForward, RNNKIT_LSTM_FORWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_bf16_backward, rnnkit::Bf16LstmBackward, RNNKIT_LSTM_BACKWARD_BINDING);
