// The LSTM reverse loop (lstm.cc `rnnkit_lstm_backward`), two ways of spreading it over
// the cores:
// - `rows`: a block of batch rows per thread for the whole loop, each with its own share of
//   the weight gradients, summed afterwards (no synchronisation);
// - `units`: a batch the row split leaves on one thread (B < 16 on two cores), or any batch
//   with weights of >= 2^21 floats, runs as one block on n threads that share its state. Per step, thread i computes dz for its units (the dh
//   columns of its panels of the product), then, after a barrier (all of dz_t written), its
//   panels of [dh_{t-1} | dx_t] = dz_t @ [U^T | W^T], its panels of the 4H columns of db,
//   and on update steps of dW and dU. The units a thread reads dh of in the next step are
//   those it wrote, so one barrier per step suffices, plus one after each weight update
//   (the next step overwrites the buffered dz and features it read). Every element is
//   computed by the same operations in the same order as by `rows` on one block:
//   bit-identical results (tests/core/test_native_lstm_bwd_units.py).
#pragma once

#include "lstm_common.h"

namespace rnnkit {

struct LstmBwd {
  int64_t T, B, D, H, act, ract;
  bool bm;  // xs, dxs, hs and d_hs are batch-major (B, T, .) instead of time-major
  const float *xs, *gates, *cs, *c0, *hs, *h0, *rm, *d_hs, *d_hT, *d_cT;
  const bool* mask;
  // packed [U^T | W^T]: (4H, NpHD), columns [0, H) -> dh, [H, H + D) -> dx; without dx
  // (dxs nullptr) U^T alone, NpHD = H rounded up to whole panels
  const float* UW;
  int64_t NpHD, Np;
  float *dxs, *dh0, *dc0, *drm;  // dxs, drm may be nullptr
  // per block: its share of [dW; dU] (panel-major, D + H rows per panel) and db (Np),
  // summed after the loop
  std::vector<Floats>* partial;

  void rows(int64_t b0, int64_t b1, int64_t block) const {
    const int64_t Bt = b1 - b0, G = 4 * H;
    // h_{t-1} of row r of this block: hs at step t - 1, or h0
    auto prev_h = [&](int64_t r, int64_t t) {
      return t > 0 ? hs + seq_row(bm, T, B, t - 1, b0 + r) * H : h0 + (b0 + r) * H;
    };
    // dW and dU are updated every S steps from the S * Bt rows buffered since the last
    // update (dz of those steps in dz, their [x | h_{t-1} rm] as micro-panels in xh; dzp:
    // dz packed)
    const int64_t S = std::min(T, std::max<int64_t>(1, (kUpdateRows + Bt - 1) / Bt)), N = S * Bt;
    const int64_t M = D + H;
    Floats dh(Bt * H), dc(Bt * H), out(Bt * NpHD), dz(N * G), dzp(N * Np),
        xh(round_up(M, kMicroRows) * N, 0.0f), row(M), acc(drm ? Bt * H : 0, 0.0f);
    int64_t n = 0;  // steps buffered
    Floats& part = (*partial)[block];
    part.assign((M + 1) * Np, 0.0f);
    float *dWU = part.data(), *db = dWU + M * Np;
    std::memcpy(dh.data(), d_hT + b0 * H, Bt * H * sizeof(float));
    std::memcpy(dc.data(), d_cT + b0 * H, Bt * H * sizeof(float));
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B + b0;
      float* dzt = &dz[n * Bt * G];
      for (int64_t r = 0; r < Bt; ++r) {
        float* dzr = dzt + r * G;
        float *dhp = &dh[r * H], *dcp = &dc[r * H];
        if (d_hs) {
          const float* e = d_hs + seq_row(bm, T, B, t, b0 + r) * H;
          for (int64_t j = 0; j < H; ++j) dhp[j] += e[j];
        }
        if (mask && !mask[row0 + r]) {  // a skipped step passes dh and dc through
          std::fill(dzr, dzr + G, 0.0f);
          continue;
        }
        const float* c_prev = t > 0 ? cs + (row0 - B + r) * H : c0 + (b0 + r) * H;
        lstm_dz_row(gates + (row0 + r) * G, cs + (row0 + r) * H, c_prev, dhp, dcp, dzr, H,
                    act, ract);
      }
      // [dh_{t-1} | dx_t] = dz_t @ [U^T | W^T]
      if (Bt == 1)
        gemv(dzt, G, UW, NpHD, nullptr, out.data(), t & 1);
      else
        gemm(dzt, G, Bt, G, UW, NpHD, nullptr, out.data(), NpHD);
      // dW += x^T dz, dU += (h_{t-1} rm)^T dz over the buffered steps; db += sum of dz
      for (int64_t r = 0; r < Bt; ++r)
        stage_features(xs + seq_row(bm, T, B, t, b0 + r) * D, D, prev_h(r, t),
                       rm ? rm + (b0 + r) * H : nullptr, H, n * Bt + r, N, row.data(),
                       xh.data());
      for (int64_t r = 0; r < Bt; ++r) {
        const float* dzr = dzt + r * G;
        for (int64_t j = 0; j < G; ++j) db[j] += dzr[j];
      }
      if (++n == S || t == 0) {
        pack_rows(dz.data(), n * Bt, G, n * Bt, 0, dzp.data());
        update_weight_grads_pm(xh.data(), N, n * Bt, dzp.data(), Np, M, dWU);
        n = 0;
      }
      for (int64_t r = 0; r < Bt; ++r)
        lstm_scatter_row(&out[r * NpHD], H, D, !mask || mask[row0 + r],
                         dxs ? dxs + seq_row(bm, T, B, t, b0 + r) * D : nullptr, &dh[r * H],
                         rm ? rm + (b0 + r) * H : nullptr, prev_h(r, t),
                         rm ? &acc[r * H] : nullptr);
    }
    std::memcpy(dh0 + b0 * H, dh.data(), Bt * H * sizeof(float));
    std::memcpy(dc0 + b0 * H, dc.data(), Bt * H * sizeof(float));
    if (drm) std::memcpy(drm + b0 * H, acc.data(), Bt * H * sizeof(float));
  }

  // Buffers shared by the threads of `units` (the one block of all B rows).
  struct Shared {
    int64_t S, N;  // steps buffered per weight update, and rows (S B)
    Floats dh, dc, out, dz, dzp, xh, acc;
    float *dWU, *db;
    StepBarrier barrier;
  };

  // The whole batch on n threads, each owning a contiguous range of the panels of the
  // product (and so of the units) and of the panels of the weight gradients; the weight
  // gradients go to (*partial)[0].
  void units(int64_t n) const {
    const int64_t G = 4 * H, M = D + H;
    Shared s;
    s.S = std::min(T, std::max<int64_t>(1, (kUpdateRows + B - 1) / B)), s.N = s.S * B;
    s.dh.assign(d_hT, d_hT + B * H), s.dc.assign(d_cT, d_cT + B * H);
    s.out.assign(B * NpHD, 0.0f), s.dz.assign(s.N * G, 0.0f), s.dzp.assign(s.N * Np, 0.0f);
    s.xh.assign(round_up(M, kMicroRows) * s.N, 0.0f), s.acc.assign(drm ? B * H : 0, 0.0f);
    Floats& part = (*partial)[0];
    part.assign((M + 1) * Np, 0.0f);
    s.dWU = part.data(), s.db = s.dWU + M * Np;
    s.barrier.n = n;
    for_row_blocks_indexed(n, n, [&](int64_t i, int64_t, int64_t) { unit_steps(s, i, n); });
    std::memcpy(dh0, s.dh.data(), B * H * sizeof(float));
    std::memcpy(dc0, s.dc.data(), B * H * sizeof(float));
    if (drm) std::memcpy(drm, s.acc.data(), B * H * sizeof(float));
  }

  // Thread i of n of `units`: the same steps as `rows` on rows [0, B), restricted to its
  // columns.
  void unit_steps(Shared& s, int64_t i, int64_t n) const {
    const int64_t G = 4 * H, M = D + H, P = NpHD / kPanel, Q = Np / kPanel;
    const int64_t p0 = P * i / n, p1 = P * (i + 1) / n;  // panels of the product
    const int64_t k0 = p0 * kPanel, k1 = p1 * kPanel;     // its columns
    const int64_t u0 = std::min(H, k0), u1 = std::min(H, k1);  // its units
    const int64_t w0 = Q * i / n, w1 = Q * (i + 1) / n;  // panels of dz and the gradients
    const int64_t g0 = w0 * kPanel, g1 = std::min(G, w1 * kPanel);
    const bool stage_x = i == n - 1;  // the thread that stages x for the weight update
    auto prev_h = [&](int64_t r, int64_t t) {
      return t > 0 ? hs + seq_row(bm, T, B, t - 1, r) * H : h0 + r * H;
    };
    float *dh = s.dh.data(), *dc = s.dc.data(), *out = s.out.data();
    int64_t nb = 0;  // steps buffered
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t row0 = t * B;
      float* dzt = &s.dz[nb * B * G];
      for (int64_t r = 0; r < B; ++r) {
        float *dzr = dzt + r * G, *dhp = dh + r * H, *dcp = dc + r * H;
        const int64_t k = nb * B + r;
        if (stage_x) stage_feature_range(xs + seq_row(bm, T, B, t, r) * D, nullptr, 0, D, k, s.N,
                                         s.xh.data());
        stage_feature_range(prev_h(r, t) + u0, rm ? rm + r * H + u0 : nullptr, D + u0, D + u1,
                            k, s.N, s.xh.data());
        if (d_hs) {
          const float* e = d_hs + seq_row(bm, T, B, t, r) * H;
          for (int64_t j = u0; j < u1; ++j) dhp[j] += e[j];
        }
        if (mask && !mask[row0 + r]) {  // a skipped step passes dh and dc through
          for (int64_t q = 0; q < 4; ++q) std::fill(dzr + q * H + u0, dzr + q * H + u1, 0.0f);
          continue;
        }
        const float* c_prev = t > 0 ? cs + (row0 - B + r) * H : c0 + r * H;
        if (u1 > u0)
          lstm_dz_row(gates + (row0 + r) * G, cs + (row0 + r) * H, c_prev, dhp, dcp, dzr, H,
                      act, ract, u0, u1);
      }
      s.barrier.wait();  // all of dz_t (and the features of step t) written
      if (p1 > p0)
        gemm(dzt, G, B, G, UW + p0 * G * kPanel, k1 - k0, nullptr, out + k0, NpHD);
      for (int64_t r = 0; r < B; ++r) {
        const float* dzr = dzt + r * G;
        for (int64_t j = g0; j < g1; ++j) s.db[j] += dzr[j];
      }
      const bool update = ++nb == s.S || t == 0;
      if (update && w1 > w0) {
        const int64_t K = nb * B;
        pack_rows(s.dz.data() + g0, K, g1 - g0, K, 0, s.dzp.data() + w0 * K * kPanel, G);
        update_weight_grads_pm(s.xh.data(), s.N, K, s.dzp.data() + w0 * K * kPanel,
                               (w1 - w0) * kPanel, M, s.dWU + w0 * M * kPanel);
      }
      for (int64_t r = 0; r < B; ++r)
        lstm_scatter_row(out + r * NpHD, H, D, !mask || mask[row0 + r],
                         dxs ? dxs + seq_row(bm, T, B, t, r) * D : nullptr, dh + r * H,
                         rm ? rm + r * H : nullptr, prev_h(r, t), rm ? &s.acc[r * H] : nullptr,
                         k0, k1);
      if (update) {
        nb = 0;
        s.barrier.wait();  // the next step overwrites the buffered dz and features
      }
    }
  }
};

// A batch the row split leaves on one thread is split by units in the reverse loop when a
// step has at least this many multiply-adds (B (H [+ D]) 4H, the product; the weight update
// has as many). T100 D64 without dx, one block vs two unit threads (a quiet window): B8 H256
// 8.36 vs 5.70 ms, B4 H256 4.92 vs 3.58, B2 H256 3.26 vs 2.61, B8 H128 2.30 vs 2.07; under
// the threshold B4 H128 1.30 vs 1.30, B2 H128 0.86 vs 0.93, B8 D8 H64 0.64 vs 0.83.
constexpr int64_t kBwdUnitSplitMinMacs = int64_t{1} << 19;

// Weights of at least this many floats ((H + D) 4H, 8 MiB) split by units at any batch, as
// in the forward (lever 20): each thread then streams half of U and W per step instead of
// all of them. B32 T100 D64 H1024 train step, 1 round each, twice (quiet): rows 435 / 444 ms,
// units 414 / 396.
constexpr int64_t kBwdUnitSplitMinWeights = int64_t{1} << 21;

// Threads over units for the reverse loop (1: the row split runs). `threads` < 0 asks for
// -threads of them (tests); 0 decides from the shape and the cores; > 0 means rows.
inline int64_t bwd_unit_threads(const LstmBwd& k, int64_t threads) {
  const int64_t panels = k.NpHD / kPanel;
  if (k.B < 2) return 1;  // batch 1 runs the GEMV
  if (threads < 0) return std::max<int64_t>(1, std::min(-threads, panels));
  if (threads > 0 || panels < 4) return 1;
  const bool large = (k.H + k.D) * 4 * k.H >= kBwdUnitSplitMinWeights;
  const bool enough =
      row_block_count(k.B, 0) == 1 && k.B * k.NpHD * 4 * k.H >= kBwdUnitSplitMinMacs;
  return large || enough ? std::min(usable_cpus(), panels / 2) : 1;  // >= 2 panels a thread
}

}  // namespace rnnkit
