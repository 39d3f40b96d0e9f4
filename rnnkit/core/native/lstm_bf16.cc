// LSTM recurrence for the mixed_bfloat16 policy: every matrix product on the AMX tile unit
// with bf16 operands and float32 accumulation; gates, states and their gradients stay
// float32. Same handlers, arguments and semantics as lstm.cc (gate order i, f, c, o; Keras
// layout W (D, 4H), U (H, 4H), b (4H)); only the rounding of the matmul operands differs,
// like torch.autocast's bf16 LSTM.
//
// rnnkit_lstm_bf16_forward: per step z = [x_t | h rm] @ [W; U] (one tile product), then the
//   gates in float32; optionally saves the gate activations and cell states.
// rnnkit_lstm_bf16x3_forward: the same loop for the float32 policy: the operands split
//   into bf16 hi and lo parts (put_split3, amx_common.h), each product within ~1.1e-5 of
//   the float32 one, and the float32 loops' activations (rnn_common.h).
// rnnkit_lstm_bf16_backward: the reverse loop: dz in float32, [dh_{t-1} | dx_t] =
//   dz @ [U^T | W^T] as one tile product, and dW += x^T dz, dU += (h rm)^T dz every few
//   steps from the buffered rows (tile products with K = the buffered rows).
#include "amx_common.h"
#include "lstm_common.h"

namespace rnnkit {
namespace {

struct Bf16LstmFwd {
  int64_t T, B, D, H, act, ract;
  int64_t S;  // K segments of the operands: 1 (bf16), or 3 (split float32: [hi | lo | hi])
  bool x_bm;
  const float *xs, *h0, *c0, *rm;
  const float* bias;  // gate-interleaved like WU: 64 values per block of 16 units, or nullptr
  const bool* mask;
  // VNNI-packed [W; U] (S Kp, Ng), gates interleaved per block of 16 units
  // (pack_vnni_rows_gated): product columns [64 u, 64 u + 64) are i, f, c, o of units
  // [16 u, 16 u + 16); with S = 3 the segments hold [W; U] in hi, hi and lo parts
  const BF16* WU;
  int64_t Kp, Ng;  // Kp: one segment's K
  float *hs, *hT, *cT, *gates, *cs;

  // The gates of units [16 u, 16 u + 16) of one row from their 64 pre-activations z (the
  // activations of amx_common.h, or with X3 those of rnn_common.h, fixed at compile time);
  // the new c and h where `step` (else the old ones stay), and h * rm (m; nullptr for none)
  // in bf16 (X3: split) into `next`, the next step's recurrent input.
  template <bool X3, int64_t KIND>
  static __m512 activate(__m512 x) {
    if constexpr (X3) return v_act(KIND, x);
    return fast_act<KIND>(x);
  }

  template <bool X3, int64_t ACT, int64_t RACT>
  void unit_block(const float* z, int64_t u, float* g, bool step, float* c, float* h,
                  BF16* next, const float* m) const {
    const int64_t j = 16 * u;
    const __mmask16 mk = tail_mask(j, H);
    auto pre = [&](int64_t q) {
      const __m512 v = _mm512_loadu_ps(z + 16 * q);
      return bias ? _mm512_add_ps(v, _mm512_loadu_ps(bias + 64 * u + 16 * q)) : v;
    };
    const __m512 i = activate<X3, RACT>(pre(0)), f = activate<X3, RACT>(pre(1)),
                 gg = activate<X3, ACT>(pre(2)), o = activate<X3, RACT>(pre(3));
    if (g) {
      store(g + j, mk, i);
      store(g + H + j, mk, f);
      store(g + 2 * H + j, mk, gg);
      store(g + 3 * H + j, mk, o);
    }
    __m512 hn;
    if (step) {
      const __m512 cn = _mm512_fmadd_ps(f, load(c + j, mk), _mm512_mul_ps(i, gg));
      hn = _mm512_mul_ps(o, activate<X3, ACT>(cn));
      store(c + j, mk, cn);
      store(h + j, mk, hn);
    } else {
      hn = load(h + j, mk);
    }
    if (m) hn = _mm512_mul_ps(hn, load(m + j, mk));
    if constexpr (X3)
      put_split3(hn, mk, next + j, Kp);
    else
      _mm256_mask_storeu_epi16(next + j, mk, (__m256i)_mm512_cvtneps_pbh(hn));
  }

  // One step: the product of unit block u + 1 (64 columns) runs on the tile unit while the
  // gates of block u are computed on the vector units, a few rows after every K block. The
  // step reads [x_t | h rm] from `cur` and writes the next h rm into `nxt` (two buffers: the
  // products of later blocks still read this step's h).
  template <bool X3, int64_t ACT, int64_t RACT>
  void step(int64_t t, int64_t b0, int64_t Bt, int64_t Mp, const BF16* cur, BF16* nxt,
            float* zb, float* h, float* c) const {
    const int64_t row0 = t * B + b0, G = 4 * H, blocks = Ng / 64, lda = S * Kp,
                  KB = lda / kTileK;
    const int64_t iters = (Mp + 31) / 32 * 2 * KB;  // K blocks of one block's product
    auto gate_rows = [&](int64_t u, int64_t from, int64_t to) {
      const float* z = zb + (u % 2) * Mp * 64;
      for (int64_t r = from; r < to; ++r)
        unit_block<X3, ACT, RACT>(z + r * 64, u, gates ? gates + (row0 + r) * G : nullptr,
                                  !mask || mask[row0 + r], c + r * H, h + r * H,
                                  nxt + r * lda + D, rm ? rm + (b0 + r) * H : nullptr);
    };
    for (int64_t u = 0; u < blocks; ++u) {
      int64_t it = 0, done = 0;
      amx_gemm<false>(cur, lda, Mp, lda, WU + u * 4 * KB * 512, 64, zb + (u % 2) * Mp * 64, 64,
                      [&] {
                        if (u == 0) return;
                        const int64_t until = ++it * Bt / iters;
                        gate_rows(u - 1, done, until);
                        done = until;
                      });
      if (u > 0) gate_rows(u - 1, done, Bt);
    }
    gate_rows(blocks - 1, 0, Bt);
  }

  template <bool X3>
  void run(int64_t b0, int64_t b1) const {
    TileScope tiles;
    const int64_t Bt = b1 - b0, Mp = round_up(Bt, kTileRows), lda = S * Kp;
    // two [x_t | h rm] operands, zero padded: step t reads one, writes the other
    AlignedVector<BF16> xh(2 * Mp * lda, 0);
    Floats zb(2 * Mp * 64), h(Bt * H), c(Bt * H);
    // n floats (times m where not null) into an operand row at `at`: bf16, or split
    auto put = [&](const float* src, const float* m, int64_t n, BF16* at) {
      if constexpr (X3)
        put_split3(src, m, n, at, Kp);
      else
        put_column_bf16(src, m, n, at, 1);
    };
    for (int64_t r = 0; r < Bt; ++r) {
      std::memcpy(&h[r * H], h0 + (b0 + r) * H, H * sizeof(float));
      std::memcpy(&c[r * H], c0 + (b0 + r) * H, H * sizeof(float));
      put(&h[r * H], rm ? rm + (b0 + r) * H : nullptr, H, &xh[r * lda + D]);
    }
    with_act_kinds(act, ract, [&](auto A, auto R) {
      for (int64_t t = 0; t < T; ++t) {
        BF16* cur = &xh[(t % 2) * Mp * lda];
        BF16* nxt = &xh[((t + 1) % 2) * Mp * lda];
        for (int64_t r = 0; r < Bt; ++r) {
          const float* x = xs + seq_row(x_bm, T, B, t, b0 + r) * D;
          if constexpr (X3)
            put_split3(x, nullptr, D, cur + r * lda, Kp);
          else
            to_bf16(x, cur + r * lda, D);
        }
        step<X3, A(), R()>(t, b0, Bt, Mp, cur, nxt, zb.data(), h.data(), c.data());
        const int64_t row0 = t * B + b0;
        if (hs)  // laid out as xs
          for (int64_t r = 0; r < Bt; ++r)
            std::memcpy(hs + seq_row(x_bm, T, B, t, b0 + r) * H, &h[r * H], H * sizeof(float));
        if (cs) std::memcpy(cs + row0 * H, c.data(), Bt * H * sizeof(float));
      }
    });
    std::memcpy(hT + b0 * H, h.data(), Bt * H * sizeof(float));
    std::memcpy(cT + b0 * H, c.data(), Bt * H * sizeof(float));
  }

  void rows(int64_t b0, int64_t b1) const {
    if (S == 3)
      run<true>(b0, b1);
    else
      run<false>(b0, b1);
  }
};

// The forward handlers' body; S = 1 (bf16 operands) or 3 (split float32), `name` for errors.
template <int64_t S>
ffi::Error lstm_amx_forward(const char* name, F32 xs, F32 W, F32 U, F32 b, F32 h0, F32 c0,
                            Mask mask, F32 rm, F32Out hs, F32Out hT, F32Out cT, F32Out gates,
                            F32Out cs, int64_t act, int64_t ract, int64_t threads,
                            int64_t x_batch_major) {
  if (!amx_permitted())
    return ffi::Error::Internal(std::string(name) + ": the OS refused the AMX tile state");
  auto xd = xs.dimensions();
  if (xd.size() != 3 || U.dimensions().size() != 2)
    return invalid_argument(name, "xs must be (T, B, D) or (B, T, D), U (H, 4H)");
  Bf16LstmFwd k;
  k.S = S;
  k.x_bm = x_batch_major != 0;
  k.T = xd[k.x_bm ? 1 : 0], k.B = xd[k.x_bm ? 0 : 1], k.D = xd[2], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract;
  const int64_t G = 4 * k.H;
  if (W.element_count() != static_cast<size_t>(k.D * G) ||
      U.element_count() != static_cast<size_t>(k.H * G))
    return invalid_argument(name, "W / U shapes do not match xs");
  k.Kp = round_up(k.D + k.H, kTileK);
  k.Ng = 64 * ((k.H + 15) / 16);
  const int64_t K = S * k.Kp;
  AlignedVector<BF16> packed(vnni_size(K, k.Ng), 0);
  // each segment holds [W; U]: rows [0, D) W, [D, D + H) U
  pack_split_segments(W.typed_data(), k.D * G, S, k.Kp, [&](const float* v, int64_t k0) {
    pack_vnni_rows_gated(v, k.D, k.H, 4, k0, K, packed.data());
  });
  pack_split_segments(U.typed_data(), k.H * G, S, k.Kp, [&](const float* v, int64_t k0) {
    pack_vnni_rows_gated(v, k.H, k.H, 4, k0 + k.D, K, packed.data());
  });
  Floats bias;
  if (has(b)) {  // in the gate-interleaved column order of `packed`
    bias.assign(k.Ng, 0.0f);
    for (int64_t q = 0; q < 4; ++q)
      for (int64_t j = 0; j < k.H; ++j)
        bias[64 * (j / 16) + 16 * q + j % 16] = b.typed_data()[q * k.H + j];
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

ffi::Error Bf16LstmForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, F32 c0, Mask mask, F32 rm,
                           F32Out hs, F32Out hT, F32Out cT, F32Out gates, F32Out cs,
                           int64_t act, int64_t ract, int64_t threads, int64_t x_batch_major) {
  return lstm_amx_forward<1>("rnnkit_lstm_bf16_forward", xs, W, U, b, h0, c0, mask, rm, hs,
                             hT, cT, gates, cs, act, ract, threads, x_batch_major);
}

ffi::Error Bf16x3LstmForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, F32 c0, Mask mask, F32 rm,
                             F32Out hs, F32Out hT, F32Out cT, F32Out gates, F32Out cs,
                             int64_t act, int64_t ract, int64_t threads, int64_t x_batch_major) {
  return lstm_amx_forward<3>("rnnkit_lstm_bf16x3_forward", xs, W, U, b, h0, c0, mask, rm, hs,
                             hT, cT, gates, cs, act, ract, threads, x_batch_major);
}

// The reverse loop updates dW / dU from at least this many buffered rows at once (the K of
// the update products). Each update loads and stores every float32 tile of dW and dU
// (1.25 MiB at H256), which favours a large K; the transposed x / h buffers grow with it
// and leave L1. One thread's reverse loop over 32 rows (T100 D64 H256), CPU time: 64 rows
// 11.7-11.9 ms, 128 rows 10.8-11.2, 256 rows 11.2-11.6 (measured under load).
constexpr int64_t kAmxUpdateRows = 128;

// One row of a reverse step: lstm_dz_row (lstm_common.h) with the activation kinds fixed
// at compile time, writing dz rounded to bf16 (the A operand of dz @ [U^T | W^T]) and
// adding it, in float32, to db.
template <int64_t ACT, int64_t RACT>
void dz_row(const float* g, const float* c_t, const float* c_prev, const float* d_h, float* d_c,
            BF16* dz, float* db, int64_t H) {
  for (int64_t j = 0; j < H; j += 16) {
    const __mmask16 m = tail_mask(j, H);
    const __m512 i = load(g + j, m), f = load(g + H + j, m), gg = load(g + 2 * H + j, m),
                 o = load(g + 3 * H + j, m);
    const __m512 dhv = load(d_h + j, m);
    const __m512 tc = fast_act<ACT>(load(c_t + j, m));  // as the forward computed it
    const __m512 dct = _mm512_fmadd_ps(_mm512_mul_ps(dhv, o), v_act_grad(ACT, tc),
                                       load(d_c + j, m));
    const __m512 dzs[4] = {
        _mm512_mul_ps(v_act_grad(RACT, i), _mm512_mul_ps(dct, gg)),
        _mm512_mul_ps(v_act_grad(RACT, f), _mm512_mul_ps(dct, load(c_prev + j, m))),
        _mm512_mul_ps(v_act_grad(ACT, gg), _mm512_mul_ps(dct, i)),
        _mm512_mul_ps(v_act_grad(RACT, o), _mm512_mul_ps(dhv, tc))};
    for (int q = 0; q < 4; ++q) {
      _mm256_mask_storeu_epi16(dz + q * H + j, m, (__m256i)_mm512_cvtneps_pbh(dzs[q]));
      store(db + q * H + j, m, _mm512_add_ps(load(db + q * H + j, m), dzs[q]));
    }
    store(d_c + j, m, _mm512_mul_ps(dct, f));
  }
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
    // (the B operand, VNNI rows = rows of the buffer) as each step computes it
    const int64_t S = std::min(T, std::max<int64_t>(1, (kAmxUpdateRows + Bt - 1) / Bt));
    const int64_t Nrp = round_up(S * Bt, kTileK);
    Floats dh(Bt * H), dc(Bt * H), out(Mp * NpHD), acc(drm ? Bt * H : 0, 0.0f);
    AlignedVector<BF16> dzA(Mp * Gp, 0), xcT(Dp * Nrp, 0), hcT(Hp * Nrp, 0),
        dzV(vnni_size(Nrp, Np), 0);
    int64_t n = 0;
    Floats& part = (*partial)[block];
    part.assign((Dp + Hp + 1) * Np, 0.0f);
    float *dW = part.data(), *dU = dW + Dp * Np, *db = dU + Hp * Np;
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    std::memcpy(dc.data(), d_cT + b0 * H, Bt * H * sizeof(float));
    // the K blocks of one step's dz @ [U^T | W^T] (amx_gemm's work() calls)
    const int64_t iters = (Mp + 31) / 32 * (NpHD / 32) * (Gp / kTileK);
    with_act_kinds(act, ract, [&](auto A, auto R) {
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      // h_{t-1} of row r: hs at step t - 1 (laid out as xs), or h0
      auto h_prev = [&](int64_t r) {
        return t > 0 ? hs + seq_row(x_bm, T, B, t - 1, b0 + r) * H : h0 + (b0 + r) * H;
      };
      for (int64_t r = 0; r < Bt; ++r) {
        float *dhp = &dh[r * H], *dcp = &dc[r * H];
        if (d_hs) {
          const float* e = d_hs + seq_row(x_bm, T, B, t, b0 + r) * H;
          for (int64_t j = 0; j < H; ++j) dhp[j] += e[j];
        }
        if (mask && !mask[row0 + r]) {
          std::fill(&dzA[r * Gp], &dzA[r * Gp + G], BF16{0});
        } else {
          const float* c_prev = t > 0 ? cs + (row0 - B + r) * H : c0 + (b0 + r) * H;
          dz_row<A(), R()>(gates + (row0 + r) * G, cs + (row0 + r) * H, c_prev, dhp, dcp,
                           &dzA[r * Gp], db, H);
        }
      }
      // While the tile unit computes dz @ [U^T | W^T], the vector units buffer the rows of
      // the weight update: dz packed (VNNI), x_t and h_{t-1} rm transposed, all bf16.
      int64_t it = 0, staged = 0;
      auto stage = [&](int64_t until) {
        if (until <= staged) return;
        pack_vnni_rows_bf16(&dzA[staged * Gp], until - staged, Np / 16, Gp, n * Bt + staged,
                            Nrp, dzV.data());
        for (int64_t r = staged; r < until; ++r) {
          const int64_t col = n * Bt + r;
          put_column_bf16(xs + seq_row(x_bm, T, B, t, b0 + r) * D, nullptr, D, &xcT[col], Nrp);
          put_column_bf16(h_prev(r), rm ? rm + (b0 + r) * H : nullptr, H, &hcT[col],
                          Nrp);
        }
        staged = until;
      };
      amx_gemm<false>(dzA.data(), Gp, Mp, Gp, UW, NpHD, out.data(), NpHD,
                      [&] { stage((++it * Bt / iters) & ~int64_t{1}); });  // row pairs
      stage(Bt);
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
        lstm_scatter_row(&out[r * NpHD], H, D, !mask || mask[row0 + r],
                         dxs + seq_row(x_bm, T, B, t, b0 + r) * D, &dh[r * H],
                         rm ? rm + (b0 + r) * H : nullptr, h_prev(r),
                         rm ? &acc[r * H] : nullptr);
    }
    });
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
  sum_weight_grad_shares(partial, dW->typed_data(), dU->typed_data(),
                         has_out(db) ? db->typed_data() : nullptr, D, H, k.Dp, k.Hp, G, k.Np);
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_bf16_forward, rnnkit::Bf16LstmForward, RNNKIT_LSTM_FORWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_bf16x3_forward, rnnkit::Bf16x3LstmForward, RNNKIT_LSTM_FORWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_bf16_backward, rnnkit::Bf16LstmBackward, RNNKIT_LSTM_BACKWARD_BINDING);
