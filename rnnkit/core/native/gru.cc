// GRU recurrence, both modes (gate order z, r, h; Keras layout W (D, 3H), U (H, 3H)).
//
// reset_after=True (kind "gru"; bias (2, 3H): input and recurrent biases):
//   xw = x W + b_in, hu = (h rm) U + b_rec, z = ract(xw_z + hu_z), r = ract(xw_r + hu_r),
//   hh = act(xw_h + r * hu_h)
// reset_after=False (kind "gru_v1"; bias (3H)):
//   xw = x W + b, z = ract(xw_z + (h rm) U_z), r = ract(xw_r + (h rm) U_r),
//   hh = act(xw_h + (r * h rm) U_h)
// and in both h' = z * h + (1 - z) * hh where the mask is set, h elsewhere.
//
// rnnkit_gru_forward: the whole time loop; optionally saves the gates for the backward:
//   [z, r, hh, hu_h] (T, B, 4H) with reset_after, [z, r, hh] (T, B, 3H) without.
// rnnkit_gru_backward: the reverse loop: per step the elementwise gate gradients and
//   dh_{t-1} through the two GEMMs  dh~' @ U_h^T  and  dzr @ U_zr^T  (dh~' = dh~ r with
//   reset_after; without it, r is applied after the first GEMM). It writes the per-step
//   gradients of the gate pre-activations, dZR (T, B, 2H) for z and r, dPH (T, B, H) for
//   the candidate and, with reset_after, dPHR = dPH r (T, B, H) for the candidate's
//   recurrent part, from which rnnkit.core.seq_gru.param_grads[_v1] compute dW, dU, db and
//   dx as single GEMMs over all T*B rows.
// Semantics: rnnkit.core.seq_gru (mask keeps the previous state, rm multiplies h before
// h @ U).
//
// Per step, the forward GEMM works on the row block [x_t | h rm] (Bt, D + H) against three
// packed column groups, each padded to whole 32-column panels:
//   zr: K = D + H, [[W_zr], [U_zr]]       -> x W_zr + h U_zr (+ both biases)
//   xh: K = D,     W_h                    -> x W_h (+ b_in_h)
//   uh: K = H,     U_h (reset_after only) -> h U_h (+ b_rec_h)
// so no multiply-by-zero blocks are computed. Without reset_after, (r h rm) U_h is then
// accumulated into the xh group once r is known.
#include "gru_common.h"

namespace rnnkit {
namespace {

// Only one-row blocks take the GEMV: at two rows the GEMM tile reads each panel once for
// both rows (T1000 D8 H64, primal: B1 0.43 vs 0.47 ms, gru_v1 0.52 vs 0.75 ms with the
// GEMV; B2 0.92 vs 0.87 ms, gru_v1 0.97 vs 0.84 ms without it).
constexpr int64_t kGemvRows = 1;

// C (M, Np) = init + A (M, K) @ packed (K, Np), packed holding exactly K rows
inline void mm(const float* A, int64_t lda, int64_t M, int64_t K, const float* packed,
               int64_t Np, const float* init, float* C, int64_t ldc) {
  if (M <= kGemvRows) {
    for (int64_t r = 0; r < M; ++r) gemv<false>(A + r * lda, K, packed, Np, init, C + r * ldc);
    return;
  }
  gemm(A, lda, M, K, packed, Np, init, C, ldc);
}

// C (M, Np) += A (M, K) @ packed (K, Np), packed holding exactly K rows
inline void mm_acc(const float* A, int64_t lda, int64_t M, int64_t K, const float* packed,
                   int64_t Np, float* C, int64_t ldc) {
  if (M <= kGemvRows) {
    for (int64_t r = 0; r < M; ++r) gemv<true>(A + r * lda, K, packed, Np, nullptr, C + r * ldc);
    return;
  }
  gemm_impl<false, true>(A, lda, M, K, packed, Np, nullptr, C, ldc);
}

struct GruFwd {
  int64_t T, B, D, H, act, ract;
  bool reset_after;
  const float *xs, *h0, *rm;
  const bool* mask;
  const float *Pzr, *Pxh, *Puh;     // packed groups (see the file comment)
  const float *bzr, *bxh, *buh;     // biases padded to the group widths, or nullptr
  int64_t Nzr, Nh, ldc;             // group widths (multiples of 32), row stride of C
  float *hs, *hT, *gates;           // hs / gates may be nullptr

  void rows(int64_t b0, int64_t b1) const {
    const int64_t Bt = b1 - b0, K = D + H, G = reset_after ? 4 * H : 3 * H;
    const int64_t oxh = Nzr, ouh = Nzr + Nh;
    Floats xh(Bt * K), c(Bt * ldc), h(Bt * H), rh(reset_after ? 0 : Bt * H);
    for (int64_t r = 0; r < Bt; ++r) {
      const float* src = h0 + (b0 + r) * H;
      std::memcpy(&h[r * H], src, H * sizeof(float));
      float* dst = &xh[r * K + D];
      const float* m = rm ? rm + (b0 + r) * H : nullptr;
      for (int64_t j = 0; j < H; ++j) dst[j] = m ? src[j] * m[j] : src[j];
    }
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row0 = t * B + b0;
      for (int64_t r = 0; r < Bt; ++r)
        std::memcpy(&xh[r * K], xs + (row0 + r) * D, D * sizeof(float));
      mm(xh.data(), K, Bt, K, Pzr, Nzr, bzr, c.data(), ldc);
      mm(xh.data(), K, Bt, D, Pxh, Nh, bxh, c.data() + oxh, ldc);
      if (reset_after) {
        mm(xh.data() + D, K, Bt, H, Puh, Nh, buh, c.data() + ouh, ldc);
      } else {
        // z and r in place, then (r * h rm) U_h into the xh group
        for (int64_t r = 0; r < Bt; ++r) {
          float* cr = &c[r * ldc];
          const float* hr = &xh[r * K + D];
          float* rhr = &rh[r * H];
          for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 mk = tail_mask(j, H);
            store(cr + j, mk, v_act(ract, load(cr + j, mk)));
            const __m512 rg = v_act(ract, load(cr + H + j, mk));
            store(cr + H + j, mk, rg);
            store(rhr + j, mk, _mm512_mul_ps(rg, load(hr + j, mk)));
          }
        }
        mm_acc(rh.data(), H, Bt, H, Puh, Nh, c.data() + oxh, ldc);
      }
      for (int64_t r = 0; r < Bt; ++r) {
        const float* cr = &c[r * ldc];
        float* g = gates ? gates + (row0 + r) * G : nullptr;
        const bool step = !mask || mask[row0 + r];
        if (!g && !step) continue;
        float *hr = &h[r * H], *next = &xh[r * K + D];
        const float* m = rm ? rm + (b0 + r) * H : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
          const __mmask16 mk = tail_mask(j, H);
          __m512 z, rg, hh;
          if (reset_after) {
            z = v_act(ract, load(cr + j, mk));
            rg = v_act(ract, load(cr + H + j, mk));
            const __m512 uh = load(cr + ouh + j, mk);
            hh = v_act(act, _mm512_fmadd_ps(rg, uh, load(cr + oxh + j, mk)));
            if (g) store(g + 3 * H + j, mk, uh);
          } else {
            z = load(cr + j, mk);
            rg = load(cr + H + j, mk);
            hh = v_act(act, load(cr + oxh + j, mk));
          }
          if (g) {
            store(g + j, mk, z);
            store(g + H + j, mk, rg);
            store(g + 2 * H + j, mk, hh);
          }
          if (!step) continue;
          const __m512 hn = _mm512_fmadd_ps(z, load(hr + j, mk),
                                            _mm512_mul_ps(_mm512_sub_ps(one_v(), z), hh));
          store(hr + j, mk, hn);
          store(next + j, mk, m ? _mm512_mul_ps(hn, load(m + j, mk)) : hn);
        }
      }
      if (hs)
        for (int64_t r = 0; r < Bt; ++r)
          std::memcpy(hs + (row0 + r) * H, &h[r * H], H * sizeof(float));
    }
    std::memcpy(hT + b0 * H, h.data(), Bt * H * sizeof(float));
  }
};

ffi::Error GruForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, Mask mask, F32 rm, F32Out hs,
                      F32Out hT, F32Out gates, int64_t act, int64_t ract, int64_t reset_after,
                      int64_t threads) {
  auto xd = xs.dimensions();
  if (xd.size() != 3 || U.dimensions().size() != 2)
    return ffi::Error::InvalidArgument("rnnkit_gru_forward: xs must be (T, B, D), U (H, 3H)");
  GruFwd k;
  k.T = xd[0], k.B = xd[1], k.D = xd[2], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract, k.reset_after = reset_after != 0;
  const int64_t T = k.T, D = k.D, H = k.H, G3 = 3 * H;
  if (W.element_count() != static_cast<size_t>(D * G3) ||
      U.element_count() != static_cast<size_t>(H * G3) ||
      h0.element_count() != static_cast<size_t>(k.B * H))
    return ffi::Error::InvalidArgument("rnnkit_gru_forward: W / U / h0 shapes do not match xs");
  const size_t nb = has(b) ? b.element_count() : 0;
  if (nb && nb != static_cast<size_t>(k.reset_after ? 2 * G3 : G3))
    return ffi::Error::InvalidArgument("rnnkit_gru_forward: bias must be (2, 3H) / (3H)");
  const int64_t G = k.reset_after ? 4 * H : G3;
  if (gates->element_count() && gates->element_count() != static_cast<size_t>(T * k.B * G))
    return ffi::Error::InvalidArgument("rnnkit_gru_forward: gates has the wrong shape");
  k.Nzr = round_up(2 * H, kPanel), k.Nh = round_up(H, kPanel);
  k.ldc = k.Nzr + (k.reset_after ? 2 : 1) * k.Nh;
  const float *w = W.typed_data(), *u = U.typed_data();
  Floats pzr((D + H) * k.Nzr), pxh(D * k.Nh), puh(H * k.Nh);
  pack_rows(w, D, 2 * H, D + H, 0, pzr.data(), G3);
  pack_rows(u, H, 2 * H, D + H, D, pzr.data(), G3);
  pack_rows(w + 2 * H, D, H, D, 0, pxh.data(), G3);
  pack_rows(u + 2 * H, H, H, H, 0, puh.data(), G3);
  k.Pzr = pzr.data(), k.Pxh = pxh.data(), k.Puh = puh.data();
  Floats bias;
  k.bzr = k.bxh = k.buh = nullptr;
  if (nb) {
    // [b_zr (Nzr) | b_xh (Nh) | b_uh (Nh)], each zero-padded
    bias.assign(k.Nzr + 2 * k.Nh, 0.0f);
    const float* bi = b.typed_data();
    const float* br = k.reset_after ? bi + G3 : nullptr;
    for (int64_t j = 0; j < 2 * H; ++j) bias[j] = br ? bi[j] + br[j] : bi[j];
    std::memcpy(&bias[k.Nzr], bi + 2 * H, H * sizeof(float));
    if (br) std::memcpy(&bias[k.Nzr + k.Nh], br + 2 * H, H * sizeof(float));
    k.bzr = bias.data(), k.bxh = bias.data() + k.Nzr;
    k.buh = br ? bias.data() + k.Nzr + k.Nh : nullptr;
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

struct GruBwd {
  int64_t T, B, H, act, ract;
  bool reset_after;
  const float *gates, *hs, *h0, *rm, *d_hs, *d_hT;
  const bool* mask;
  const float *Uht, *Uzrt;  // packed U_h^T (H, Nh) and U_zr^T (2H, Nh)
  int64_t Nh;
  float *dzr, *dph, *dphr, *dh0, *drm;  // dphr: reset_after only; drm may be nullptr

  void rows(int64_t b0, int64_t b1) const {
    const int64_t Bt = b1 - b0, G = reset_after ? 4 * H : 3 * H, H2 = 2 * H;
    Floats dh(Bt * H), X(Bt * Nh), acc(drm ? Bt * H : 0, 0.0f);
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      const float* h_prev = t > 0 ? hs + (row0 - B) * H : h0 + b0 * H;
      float *zr0 = dzr + row0 * H2, *ph0 = dph + row0 * H;
      // elementwise: dz, dr (reset_after), dh~, and the part of dh_{t-1} through z (in dh)
      for (int64_t r = 0; r < Bt; ++r) {
        float* dhp = &dh[r * H];
        if (d_hs) {
          const float* e = d_hs + (row0 + r) * H;
          for (int64_t j = 0; j < H; ++j) dhp[j] += e[j];
        }
        float *zr = zr0 + r * H2, *ph = ph0 + r * H;
        float* phr = reset_after ? dphr + (row0 + r) * H : nullptr;
        if (mask && !mask[row0 + r]) {  // a skipped step passes dh through
          std::fill(zr, zr + H2, 0.0f);
          std::fill(ph, ph + H, 0.0f);
          if (phr) std::fill(phr, phr + H, 0.0f);
          continue;
        }
        gru_dgates_row(gates + (row0 + r) * G, h_prev + r * H, dhp, zr, ph, phr, H, act, ract,
                       reset_after);
      }
      if (reset_after) {
        // dh_r = [dzr | dh~ r] @ U^T
        mm(dphr + row0 * H, H, Bt, H, Uht, Nh, nullptr, X.data(), Nh);
      } else {
        // drh = dh~ @ U_h^T; dr = ract'(r) drh (h rm); dh_r = drh r + dzr @ U_zr^T
        mm(ph0, H, Bt, H, Uht, Nh, nullptr, X.data(), Nh);
        for (int64_t r = 0; r < Bt; ++r) {
          if (mask && !mask[row0 + r]) continue;
          const float* g = gates + (row0 + r) * G;
          const float* hp = h_prev + r * H;
          const float* rmr = rm ? rm + (b0 + r) * H : nullptr;
          float *x = &X[r * Nh], *zr = zr0 + r * H2;
          for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask(j, H);
            const __m512 rg = load(g + H + j, m), drh = load(x + j, m);
            __m512 hr = load(hp + j, m);
            if (rmr) hr = _mm512_mul_ps(hr, load(rmr + j, m));
            store(zr + H + j, m, _mm512_mul_ps(_mm512_mul_ps(drh, hr), v_act_grad(ract, rg)));
            store(x + j, m, _mm512_mul_ps(drh, rg));
          }
        }
      }
      mm_acc(zr0, H2, Bt, H2, Uzrt, Nh, X.data(), Nh);
      // dh_{t-1} = dh_r rm + dh z; drm += h_{t-1} dh_r
      for (int64_t r = 0; r < Bt; ++r)
        if (!mask || mask[row0 + r])
          gru_dh_row(&X[r * Nh], rm ? rm + (b0 + r) * H : nullptr, h_prev + r * H,
                     drm ? &acc[r * H] : nullptr, &dh[r * H], H);
    }
    std::memcpy(dh0 + b0 * H, dh.data(), Bt * H * sizeof(float));
    if (drm) std::memcpy(drm + b0 * H, acc.data(), Bt * H * sizeof(float));
  }
};

ffi::Error GruBackward(F32 U, F32 gates, F32 hs, F32 h0, Mask mask, F32 rm, F32 d_hs, F32 d_hT,
                       F32Out dzr, F32Out dph, F32Out dphr, F32Out dh0, F32Out drm,
                       int64_t act, int64_t ract, int64_t reset_after, int64_t threads) {
  auto gd = gates.dimensions();
  if (gd.size() != 3 || U.dimensions().size() != 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_gru_backward: gates must be (T, B, 4H | 3H), U (H, 3H)");
  GruBwd k;
  k.T = gd[0], k.B = gd[1], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract, k.reset_after = reset_after != 0;
  const int64_t H = k.H, G3 = 3 * H;
  const size_t rows = static_cast<size_t>(k.T * k.B);
  if (gd[2] != (k.reset_after ? 4 * H : G3) || U.dimensions()[1] != G3 ||
      hs.element_count() != rows * H || dzr->element_count() != rows * 2 * H ||
      dph->element_count() != rows * H ||
      dphr->element_count() != (k.reset_after ? rows * H : 0))
    return ffi::Error::InvalidArgument(
        "rnnkit_gru_backward: gates / U / hs / gradient output shapes differ");
  k.Nh = round_up(H, kPanel);
  const float* u = U.typed_data();
  Floats pht(H * k.Nh), pzrt(2 * H * k.Nh);
  pack_transposed(u + 2 * H, H, H, pht.data(), G3);
  pack_transposed(u, H, 2 * H, pzrt.data(), G3);
  k.Uht = pht.data(), k.Uzrt = pzrt.data();
  k.gates = gates.typed_data(), k.hs = hs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.d_hs = has(d_hs) ? d_hs.typed_data() : nullptr;
  k.d_hT = d_hT.typed_data();
  k.dzr = dzr->typed_data(), k.dph = dph->typed_data();
  k.dphr = k.reset_after ? dphr->typed_data() : nullptr;
  k.dh0 = dh0->typed_data();
  k.drm = drm->element_count() ? drm->typed_data() : nullptr;
  if (k.rm && !k.drm)
    return ffi::Error::InvalidArgument("rnnkit_gru_backward: rm needs a drm output");
  for_row_blocks(k.B, threads, [&k](int64_t b0, int64_t b1) { k.rows(b0, b1); });
  return ffi::Error::Success();
}

// reset_after=True: the reverse loop that also computes dx, dW, dU and db itself, as the
// LSTM's does, so that neither the (T, B, 4H) gate gradients nor XLA's GEMMs over them
// are needed. Per step and row: din = [dz, dr, dh~] (the gradient of x W + b_in) and
// drec = [dz, dr, dh~ r] (of (h rm) U + b_rec); then dh_r = drec @ U^T and dx = din @ W^T
// (one GEMM each), and every >= kUpdateRows buffered rows dW += x^T din, dU += (h rm)^T drec.
struct GruBwdGrads {
  int64_t T, B, D, H, act, ract;
  const float *xs, *gates, *hs, *h0, *rm, *d_hs, *d_hT;
  const bool* mask;
  const float *Ut, *Wt;  // packed U^T (3H, Nh) and W^T (3H, Nd)
  int64_t Nh, Nd, Np;    // Np: 3H padded to whole panels
  float *dxs, *dh0, *drm;  // drm may be nullptr
  bool bias;
  // per block: its share of dW (D, Np), dU (H, Np), db_in and db_rec (Np each)
  std::vector<Floats>* partial;

  void rows(int64_t b0, int64_t b1, int64_t block) const {
    const int64_t Bt = b1 - b0, G = 4 * H, G3 = 3 * H;
    const int64_t S = std::min(T, std::max<int64_t>(1, (kUpdateRows + Bt - 1) / Bt)), N = S * Bt;
    Floats dh(Bt * H), X(Bt * Nh), dx(Bt * Nd), din(N * G3), drec(N * G3),
        packed(N * Np), xc(N * D), hc(N * H), acc(drm ? Bt * H : 0, 0.0f);
    Floats& part = (*partial)[block];
    part.assign((D + H + 2) * Np, 0.0f);
    float *dW = part.data(), *dU = dW + D * Np, *db_in = dU + H * Np, *db_rec = db_in + Np;
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    int64_t n = 0;  // steps buffered
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      const float* h_prev = t > 0 ? hs + (row0 - B) * H : h0 + b0 * H;
      float *in0 = &din[n * Bt * G3], *rec0 = &drec[n * Bt * G3];
      for (int64_t r = 0; r < Bt; ++r) {
        float* dhp = &dh[r * H];
        if (d_hs) {
          const float* e = d_hs + (row0 + r) * H;
          for (int64_t j = 0; j < H; ++j) dhp[j] += e[j];
        }
        float *in = in0 + r * G3, *rec = rec0 + r * G3;
        if (mask && !mask[row0 + r]) {  // a skipped step passes dh through
          std::fill(in, in + G3, 0.0f);
          std::fill(rec, rec + G3, 0.0f);
          continue;
        }
        gru_dgates_row(gates + (row0 + r) * G, h_prev + r * H, dhp, in, in + 2 * H,
                       rec + 2 * H, H, act, ract, true);
        std::memcpy(rec, in, 2 * H * sizeof(float));
      }
      mm(rec0, G3, Bt, G3, Ut, Nh, nullptr, X.data(), Nh);  // dh_r
      mm(in0, G3, Bt, G3, Wt, Nd, nullptr, dx.data(), Nd);  // dx_t
      for (int64_t r = 0; r < Bt; ++r) {
        std::memcpy(dxs + (row0 + r) * D, &dx[r * Nd], D * sizeof(float));
        std::memcpy(&xc[(n * Bt + r) * D], xs + (row0 + r) * D, D * sizeof(float));
        if (bias) {
          const float *in = in0 + r * G3, *rec = rec0 + r * G3;
          for (int64_t j = 0; j < G3; ++j) db_in[j] += in[j];
          for (int64_t j = 2 * H; j < G3; ++j) db_rec[j] += rec[j];
        }
      }
      stage_recurrent_input(h_prev, rm ? rm + b0 * H : nullptr, Bt * H, &hc[n * Bt * H]);
      if (++n == S || t == 0) {
        const int64_t K = n * Bt;
        pack_rows(din.data(), K, G3, K, 0, packed.data());
        gemm_tn_acc(xc.data(), D, D, K, packed.data(), Np, dW, Np);
        pack_rows(drec.data(), K, G3, K, 0, packed.data());
        gemm_tn_acc(hc.data(), H, H, K, packed.data(), Np, dU, Np);
        n = 0;
      }
      // dh_{t-1} = dh_r rm + dh z; drm += h_{t-1} dh_r
      for (int64_t r = 0; r < Bt; ++r)
        if (!mask || mask[row0 + r])
          gru_dh_row(&X[r * Nh], rm ? rm + (b0 + r) * H : nullptr, h_prev + r * H,
                     drm ? &acc[r * H] : nullptr, &dh[r * H], H);
    }
    std::memcpy(dh0 + b0 * H, dh.data(), Bt * H * sizeof(float));
    if (drm) std::memcpy(drm + b0 * H, acc.data(), Bt * H * sizeof(float));
  }
};

ffi::Error GruBackwardGrads(F32 xs, F32 W, F32 U, F32 gates, F32 hs, F32 h0, Mask mask, F32 rm,
                            F32 d_hs, F32 d_hT, F32Out dxs, F32Out dW, F32Out dU, F32Out db,
                            F32Out dh0, F32Out drm, int64_t act, int64_t ract,
                            int64_t threads) {
  auto xd = xs.dimensions(), gd = gates.dimensions();
  if (xd.size() != 3 || gd.size() != 3 || U.dimensions().size() != 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_gru_backward_grads: xs must be (T, B, D), gates (T, B, 4H), U (H, 3H)");
  GruBwdGrads k;
  k.T = xd[0], k.B = xd[1], k.D = xd[2], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract;
  const int64_t H = k.H, G3 = 3 * H;
  if (gd[0] != k.T || gd[1] != k.B || gd[2] != 4 * H || U.dimensions()[1] != G3 ||
      W.element_count() != static_cast<size_t>(k.D * G3) ||
      hs.element_count() != static_cast<size_t>(k.T * k.B * H))
    return ffi::Error::InvalidArgument(
        "rnnkit_gru_backward_grads: xs / W / U / gates / hs shapes differ");
  k.Nh = round_up(H, kPanel), k.Nd = round_up(k.D, kPanel), k.Np = round_up(G3, kPanel);
  Floats ut(G3 * k.Nh), wt(G3 * k.Nd);
  pack_transposed(U.typed_data(), H, G3, ut.data());
  pack_transposed(W.typed_data(), k.D, G3, wt.data());
  k.Ut = ut.data(), k.Wt = wt.data();
  k.xs = xs.typed_data(), k.gates = gates.typed_data(), k.hs = hs.typed_data();
  k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.d_hs = has(d_hs) ? d_hs.typed_data() : nullptr;
  k.d_hT = d_hT.typed_data();
  k.dxs = dxs->typed_data(), k.dh0 = dh0->typed_data();
  k.drm = drm->element_count() ? drm->typed_data() : nullptr;
  k.bias = has_out(db);
  if (k.rm && !k.drm)
    return ffi::Error::InvalidArgument("rnnkit_gru_backward_grads: rm needs a drm output");
  const int64_t blocks = row_block_count(k.B, threads);
  std::vector<Floats> partial(blocks);
  k.partial = &partial;
  for_row_blocks_indexed(k.B, blocks,
                         [&k](int64_t b0, int64_t b1, int64_t i) { k.rows(b0, b1, i); });
  // the blocks' shares summed into dW (D, 3H), dU (H, 3H) and db (2, 3H): [db_in, db_rec],
  // whose z and r columns are the same sums
  float* out_db = k.bias ? db->typed_data() : nullptr;
  for (int64_t row = 0; row < k.D + H + 2; ++row) {
    float* dst = row < k.D ? dW->typed_data() + row * G3
                 : row < k.D + H ? dU->typed_data() + (row - k.D) * G3
                 : out_db ? out_db + (row - k.D - H) * G3 : nullptr;
    if (!dst) continue;
    std::fill(dst, dst + G3, 0.0f);
    for (const auto& share : partial) {
      const float* src = share.data() + row * k.Np;
      for (int64_t j = 0; j < G3; ++j) dst[j] += src[j];
    }
  }
  if (out_db) std::memcpy(out_db + G3, out_db, 2 * H * sizeof(float));
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_gru_forward, rnnkit::GruForward, RNNKIT_GRU_FORWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_gru_backward, rnnkit::GruBackward, RNNKIT_GRU_BACKWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_gru_backward_grads, rnnkit::GruBackwardGrads,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()  // xs (T, B, D)
                                  .Arg<rnnkit::F32>()  // W (D, 3H)
                                  .Arg<rnnkit::F32>()  // U (H, 3H)
                                  .Arg<rnnkit::F32>()  // gates (T, B, 4H)
                                  .Arg<rnnkit::F32>()  // hs (T, B, H)
                                  .Arg<rnnkit::F32>()  // h0 (B, H)
                                  .Arg<rnnkit::Mask>()  // mask (T, B) or (0,)
                                  .Arg<rnnkit::F32>()  // rm (B, H) or (0,)
                                  .Arg<rnnkit::F32>()  // d_hs (T, B, H) or (0,)
                                  .Arg<rnnkit::F32>()  // d_hT (B, H)
                                  .Ret<rnnkit::F32>()  // dxs (T, B, D)
                                  .Ret<rnnkit::F32>()  // dW (D, 3H)
                                  .Ret<rnnkit::F32>()  // dU (H, 3H)
                                  .Ret<rnnkit::F32>()  // db (2, 3H) or (0,)
                                  .Ret<rnnkit::F32>()  // dh0 (B, H)
                                  .Ret<rnnkit::F32>()  // drm (B, H) or (0,)
                                  .Attr<int64_t>("act")
                                  .Attr<int64_t>("ract")
                                  .Attr<int64_t>("threads"));
