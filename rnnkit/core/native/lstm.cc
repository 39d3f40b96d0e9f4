// LSTM recurrence (gate order i, f, c, o; Keras layout W (D, 4H), U (H, 4H), b (4H)).
//
// rnnkit_lstm_forward: the whole time loop; optionally saves the gate activations and
//   the cell states for the backward.
// rnnkit_lstm_backward: the reverse loop: per step the elementwise gate gradients dz, one
//   GEMM dz @ [U^T | W^T] for dh_{t-1} and dx_t, and the weight-gradient updates
//   dW += x_t^T dz, dU += (h_{t-1} rm)^T dz, db += sum dz into per-thread sums (no (T, B, 4H)
//   gradient array is ever written); the loop itself is in lstm_bwd.h.
// rnnkit_lstm_bidirectional: the inference loops of both directions of a Bidirectional
//   layer in one call (one thread per direction), the backward one writing its outputs in
//   time order next to the forward ones: hs (B, T, 2H) = [forward | backward].
// Semantics: rnnkit.core.seq_lstm (mask keeps the previous state, rm multiplies h
// before h @ U).
#include "gemv_rows.h"
#include "lstm_bwd.h"
#include "lstm_tiles.h"

namespace rnnkit {
namespace {

struct LstmFwd {
  int64_t T, B, D, H, act, ract;
  bool bm;  // xs and hs are batch-major, (B, T, D) and (B, T, H), instead of time-major
  const float *xs, *h0, *c0, *rm, *bias;  // bias: padded to Np, or nullptr
  const bool* mask;
  const float* WU;  // packed (D + H, Np), for 1-row blocks
  const float *W = nullptr, *U = nullptr;  // row-major, read in place by 1-row blocks instead
  const float *WUi = nullptr, *biasi = nullptr;  // interleaved (pack_interleaved), >= 2 rows
  int64_t Np;
  float *hs, *hT, *cT, *gates, *cs;  // hs / gates / cs may be nullptr
  int64_t ldh = 0;  // hs rows are ldh apart (0: H)
  // processing step t reads x at time T - 1 - t and writes hs there (the backward direction
  // of a Bidirectional layer, outputs in time order); mask and gates are indexed by t
  bool rev = false;

  int64_t groups() const { return (H + kUnits - 1) / kUnits; }  // of 16 units (kUnits)

  void rows(int64_t b0, int64_t b1) const {
    if (b1 - b0 >= 2) return tiles(b0, b1);
    const int64_t hstride = ldh ? ldh : H;
    const int64_t Bt = b1 - b0, K = D + H, G = 4 * H;
    Floats xh(Bt * K), z(Bt * Np), h(Bt * H), c(Bt * H);
    for (int64_t r = 0; r < Bt; ++r) {
      std::memcpy(&h[r * H], h0 + (b0 + r) * H, H * sizeof(float));
      std::memcpy(&c[r * H], c0 + (b0 + r) * H, H * sizeof(float));
    }
    auto put_h = [&](int64_t r) {  // the recurrent input of the next step: h * rm
      float* dst = &xh[r * K + D];
      if (!rm) return (void)std::memcpy(dst, &h[r * H], H * sizeof(float));
      const float* m = rm + (b0 + r) * H;
      for (int64_t j = 0; j < H; ++j) dst[j] = h[r * H + j] * m[j];
    };
    for (int64_t r = 0; r < Bt; ++r) put_h(r);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row0 = t * B + b0, tx = rev ? T - 1 - t : t;
      for (int64_t r = 0; r < Bt; ++r)
        std::memcpy(&xh[r * K], xs + seq_row(bm, T, B, tx, b0 + r) * D, D * sizeof(float));
      // batch 1: the GEMV keeps more FMA chains in flight than a 1-row tile
      if (W)
        gemv_rows(xh.data(), D, W, xh.data() + D, H, U, G, G, bias, z.data(), t & 1);
      else
        gemv(xh.data(), K, WU, Np, bias, z.data(), t & 1);
      for (int64_t r = 0; r < Bt; ++r) {
        // one pass over the row: gate activations, the new c and h, and the next step's
        // recurrent input, without writing the gates out unless they are saved
        float* g = gates ? gates + (row0 + r) * G : nullptr;
        float *hr = &h[r * H], *cr = &c[r * H];
        lstm_cell_row(&z[r * Np], nullptr, H, act, ract, g, !mask || mask[row0 + r], cr, hr,
                      &xh[r * K + D], rm ? rm + (b0 + r) * H : nullptr);
        if (hs)
          std::memcpy(hs + seq_row(bm, T, B, tx, b0 + r) * hstride, hr, H * sizeof(float));
        if (cs) std::memcpy(cs + (row0 + r) * H, cr, H * sizeof(float));
      }
    }
    for (int64_t r = 0; r < Bt; ++r) {
      std::memcpy(hT + (b0 + r) * H, &h[r * H], H * sizeof(float));
      std::memcpy(cT + (b0 + r) * H, &c[r * H], H * sizeof(float));
    }
  }

  // The states of a block of rows b0 .. b1 - 1 for `tiles`: c, and h_{t-1} and, with rm,
  // h_{t-1} * rm (the GEMM operand), two buffers each, read at step t and written for t + 1.
  struct State {
    Floats c, hb, rb;
  };

  State start(int64_t b0, int64_t b1) const {
    const int64_t Bt = b1 - b0;
    State st{Floats(Bt * H), Floats(2 * Bt * H), Floats(rm ? 2 * Bt * H : 0)};
    for (int64_t r = 0; r < Bt; ++r) {
      std::memcpy(&st.c[r * H], c0 + (b0 + r) * H, H * sizeof(float));
      std::memcpy(&st.hb[r * H], h0 + (b0 + r) * H, H * sizeof(float));
      if (rm) stage_recurrent_input(&st.hb[r * H], rm + (b0 + r) * H, H, &st.rb[r * H]);
    }
    return st;
  }

  void finish(int64_t b0, int64_t b1, const State& st) const {
    const int64_t Bt = b1 - b0;
    std::memcpy(hT + b0 * H, &st.hb[(T & 1) * Bt * H], Bt * H * sizeof(float));
    std::memcpy(cT + b0 * H, st.c.data(), Bt * H * sizeof(float));
  }

  // Blocks of >= 2 rows: per step and group of 16 units, both panels over all row tiles,
  // then the cell math of every row for those units (see the section comment).
  void tiles(int64_t b0, int64_t b1) const {
    State st = start(b0, b1);
    steps(b0, b1, 0, groups(), st, nullptr);
    finish(b0, b1, st);
  }

  // The time loop of `tiles` over the unit groups [q0, q1) only; the threads that share a
  // block's State (one per range of groups, splitting a batch too small to split by rows)
  // meet at `barrier` after every step, when all of h_t is written.
  void steps(int64_t b0, int64_t b1, int64_t q0, int64_t q1, State& st,
             StepBarrier* barrier) const {
    const int64_t hstride = ldh ? ldh : H;
    const int64_t Bt = b1 - b0, K = D + H;
    const int64_t ntiles = (Bt + kTileRows - 1) / kTileRows;
    const int64_t ldx = (bm ? T : 1) * D;  // consecutive batch rows of x_t
    float *c = st.c.data(), *hbuf = st.hb.data(), *rbuf = st.rb.data();
    Floats z(Bt * 2 * kPanel);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row0 = t * B + b0, tx = rev ? T - 1 - t : t;
      const float* hprev = hbuf + (t & 1) * Bt * H;
      float* hnext = hbuf + ((t + 1) & 1) * Bt * H;
      const float* op = rm ? rbuf + (t & 1) * Bt * H : hprev;
      float* rnext = rm ? rbuf + ((t + 1) & 1) * Bt * H : nullptr;
      const float* x0 = xs + seq_row(bm, T, B, tx, b0) * D;
      for (int64_t q = q0; q < q1; ++q) {
        for (int64_t p = 2 * q; p < 2 * q + 2; ++p)
          for (int64_t tile = 0, m0 = 0; tile < ntiles; ++tile) {
            const int64_t m1 = Bt * (tile + 1) / ntiles;  // balanced tile heights
            gate_tile_rows<kTileRows>(static_cast<int>(m1 - m0), x0 + m0 * ldx, ldx, D,
                                      op + m0 * H, H, H, WUi + p * K * kPanel,
                                      biasi ? biasi + p * kPanel : nullptr,
                                      &z[m0 * 2 * kPanel + (p - 2 * q) * kPanel], 2 * kPanel);
            m0 = m1;
          }
        int64_t r = 0;
        for (; r + 2 <= Bt; r += 2)
          cell<2>(&z[r * 2 * kPanel], r, q * kUnits, row0, tx, hstride, c, hprev, hnext,
                  rnext, b0);
        if (r < Bt)
          cell<1>(&z[r * 2 * kPanel], r, q * kUnits, row0, tx, hstride, c, hprev, hnext,
                  rnext, b0);
      }
      if (barrier) barrier->wait();
    }
  }

  // The whole batch as one block of rows on n threads, each running a contiguous range of
  // the unit groups (for batches the row split would leave on one core).
  void units_split(int64_t n) const {
    State st = start(0, B);
    StepBarrier barrier;
    barrier.n = n;
    for_row_blocks_indexed(groups(), n, [&](int64_t q0, int64_t q1, int64_t) {
      steps(0, B, q0, q1, st, &barrier);
    });
    finish(0, B, st);
  }

  // The cell math of local rows r .. r + NR - 1 (tile rows z, 64 apart: 16 pre-activations
  // each of i, f, g, o) for units [u0, u0 + 16): the same operations per element as
  // lstm_cell_row, and like it, each activation for both rows before the next one, so that
  // their dependency chains overlap.
  template <int NR>
  __attribute__((always_inline)) inline void cell(const float* z, int64_t r, int64_t u0,
                                                  int64_t row0, int64_t tx, int64_t hstride,
                                                  float* c, const float* hprev, float* hnext,
                                                  float* rnext, int64_t b0) const {
    const __mmask16 mk = tail_mask(u0, H);
    __m512 i[NR], f[NR], g[NR], o[NR], cn[NR], hn[NR];
    for (int u = 0; u < NR; ++u) i[u] = v_act(ract, _mm512_load_ps(z + u * 2 * kPanel));
    for (int u = 0; u < NR; ++u) f[u] = v_act(ract, _mm512_load_ps(z + u * 2 * kPanel + 16));
    for (int u = 0; u < NR; ++u) g[u] = v_act(act, _mm512_load_ps(z + u * 2 * kPanel + 32));
    for (int u = 0; u < NR; ++u) o[u] = v_act(ract, _mm512_load_ps(z + u * 2 * kPanel + 48));
    bool step[NR];
    for (int u = 0; u < NR; ++u) {
      if (gates) {
        float* gr = gates + (row0 + r + u) * 4 * H + u0;
        store(gr, mk, i[u]), store(gr + H, mk, f[u]), store(gr + 2 * H, mk, g[u]);
        store(gr + 3 * H, mk, o[u]);
      }
      step[u] = !mask || mask[row0 + r + u];
      const __m512 c_old = load(c + (r + u) * H + u0, mk);
      cn[u] = step[u] ? _mm512_fmadd_ps(f[u], c_old, _mm512_mul_ps(i[u], g[u])) : c_old;
    }
    for (int u = 0; u < NR; ++u)  // a masked row keeps its state
      hn[u] = step[u] ? _mm512_mul_ps(o[u], v_act(act, cn[u]))
                      : load(hprev + (r + u) * H + u0, mk);
    for (int u = 0; u < NR; ++u) {
      const int64_t rr = r + u;
      store(c + rr * H + u0, mk, cn[u]);
      store(hnext + rr * H + u0, mk, hn[u]);
      if (rnext)
        store(rnext + rr * H + u0, mk, _mm512_mul_ps(hn[u], load(rm + (b0 + rr) * H + u0, mk)));
      if (cs) store(cs + (row0 + rr) * H + u0, mk, cn[u]);
      if (hs) store(hs + seq_row(bm, T, B, tx, b0 + rr) * hstride + u0, mk, hn[u]);
    }
  }
};

// Packs [[W], [U]] into k.WU (panels of `packed`) and the bias padded to k.Np into k.bias
// (nullptr without one) for 1-row blocks, or points k.W, k.U and k.bias at the arguments
// themselves where those blocks read them in place (use_rowmajor_gemv); and interleaved
// into k.WUi / k.biasi for blocks of >= 2 rows (whichever of the two the row blocks of
// `threads` need); k.B, k.T, k.D and k.H must be set.
void pack_forward_weights(F32& W, F32& U, F32& b, LstmFwd& k, int64_t blocks, Floats& packed,
                          Floats& bias) {
  const int64_t G = 4 * k.H, panels = 2 * k.groups();
  k.Np = round_up(G, kPanel);
  const bool one_row = k.B / blocks < 2, tiles = (k.B + blocks - 1) / blocks >= 2;
  const bool in_place = one_row && use_rowmajor_gemv(k.T, k.D, k.H, G);
  const int64_t plain = one_row && !in_place ? (k.D + k.H) * k.Np : 0;
  const int64_t inter = tiles ? panels * (k.D + k.H) * kPanel : 0;
  const bool hb = has(b);
  packed.assign(plain + inter, 0.0f);
  bias.assign(hb ? (plain ? k.Np : 0) + (tiles ? panels * kPanel : 0) : 0, 0.0f);
  k.WU = k.bias = k.WUi = k.biasi = nullptr;
  if (in_place) {  // 1-row blocks read W and U where they are (gemv_rows.h)
    k.W = W.typed_data(), k.U = U.typed_data();
    k.bias = hb ? b.typed_data() : nullptr;
  } else if (plain) {
    pack_rows(W.typed_data(), k.D, G, k.D + k.H, 0, packed.data());
    pack_rows(U.typed_data(), k.H, G, k.D + k.H, k.D, packed.data());
    if (hb) std::memcpy(bias.data(), b.typed_data(), G * sizeof(float));
    k.WU = packed.data();
    k.bias = hb ? bias.data() : nullptr;
  }
  if (tiles) {
    float* bi = hb ? bias.data() + (plain ? k.Np : 0) : nullptr;
    pack_interleaved(W.typed_data(), U.typed_data(), hb ? b.typed_data() : nullptr, k.D, k.H,
                     packed.data() + plain, bi);
    k.WUi = packed.data() + plain;
    k.biasi = bi;
  }
}

// A batch the row split leaves on one thread (under 2 kMinRowsPerThread rows) is split by
// unit groups instead when a step has at least this many multiply-adds (B (D + H) 4H): the
// threads then meet at a barrier after every step. Forward with saves, T100 D64, 2 cores,
// one thread vs two by units (quiet): B2 H256 1.89 vs 1.23 ms, B4 2.53 vs 1.71, B5 2.94 vs
// 1.90, B8 4.38 vs 2.90, B8 H128 1.33 vs 1.01; B8 D8 H64 (147k multiply-adds) 0.39 vs 0.44.
constexpr int64_t kUnitSplitMinMacs = int64_t{1} << 19;
// Any batch splits by unit groups when the weights have at least this many elements
// ((D + H) 4H; 8 MiB of float32): each thread then streams half of them per step instead of
// all. B32 T30 D64 H1024, rows vs units (quiet): 44.4 vs 37.8 ms; B64 H512 (1.2M) 18.9 vs
// 18.4 (no gain below this size).
constexpr int64_t kUnitSplitMinWeights = int64_t{1} << 21;

// Threads over unit groups for LstmForward (1: the row split runs). `threads` < 0 asks for
// -threads of them (tests); 0 decides from the shape and the cores; > 0 means rows.
int64_t unit_split_threads(const LstmFwd& k, int64_t threads) {
  if (k.B < 2) return 1;  // batch 1 runs the GEMV
  if (threads < 0) return std::max<int64_t>(1, std::min(-threads, k.groups()));
  if (threads > 0 || k.groups() < 4) return 1;
  const int64_t weights = (k.D + k.H) * 4 * k.H;
  const bool large = weights >= kUnitSplitMinWeights;
  const bool idle_cores = row_block_count(k.B, 0) == 1 && k.B * weights >= kUnitSplitMinMacs;
  return large || idle_cores ? std::min(usable_cpus(), k.groups() / 2) : 1;
}

ffi::Error LstmForward(F32 xs, F32 W, F32 U, F32 b, F32 h0, F32 c0, Mask mask, F32 rm,
                       F32Out hs, F32Out hT, F32Out cT, F32Out gates, F32Out cs,
                       int64_t act, int64_t ract, int64_t threads, int64_t batch_major) {
  auto xd = xs.dimensions();
  if (xd.size() != 3 || U.dimensions().size() != 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_lstm_forward: xs must be (T, B, D) or (B, T, D), U (H, 4H)");
  LstmFwd k;
  k.bm = batch_major != 0;
  k.T = xd[k.bm ? 1 : 0], k.B = xd[k.bm ? 0 : 1], k.D = xd[2], k.H = U.dimensions()[0];
  k.act = act, k.ract = ract;
  const int64_t G = 4 * k.H;
  if (W.element_count() != static_cast<size_t>(k.D * G) ||
      U.element_count() != static_cast<size_t>(k.H * G))
    return ffi::Error::InvalidArgument("rnnkit_lstm_forward: W / U shapes do not match xs");
  const int64_t by_units = unit_split_threads(k, threads);
  Floats packed, bias;
  pack_forward_weights(W, U, b, k, by_units > 1 ? 1 : row_block_count(k.B, threads), packed,
                       bias);
  k.xs = xs.typed_data(), k.h0 = h0.typed_data(), k.c0 = c0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.hs = hs->element_count() ? hs->typed_data() : nullptr;
  k.gates = gates->element_count() ? gates->typed_data() : nullptr;
  k.cs = cs->element_count() ? cs->typed_data() : nullptr;
  k.hT = hT->typed_data(), k.cT = cT->typed_data();
  if (by_units > 1)
    k.units_split(by_units);
  else
    for_row_blocks(k.B, threads, [&k](int64_t b0, int64_t b1) { k.rows(b0, b1); });
  return ffi::Error::Success();
}

ffi::Error LstmBidirectional(F32 xs, F32 Wf, F32 Uf, F32 bf, F32 Wb, F32 Ub, F32 bb, F32 h0,
                             F32 c0, F32Out hs, F32Out hT, F32Out cT, int64_t act,
                             int64_t ract, int64_t threads) {
  auto xd = xs.dimensions();
  if (xd.size() != 3 || Uf.dimensions().size() != 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_lstm_bidirectional: xs must be (B, T, D), U (H, 4H)");
  LstmFwd dir[2];
  Floats packed[2], bias[2];
  F32* weights[2][3] = {{&Wf, &Uf, &bf}, {&Wb, &Ub, &bb}};
  const int64_t B = xd[0], H = Uf.dimensions()[0];
  // the threads go half to each direction (one each on two cores; both on one thread when
  // there is only one)
  const int64_t per_dir = std::max<int64_t>(1, row_block_count(B, threads) / 2);
  for (int d = 0; d < 2; ++d) {
    LstmFwd& k = dir[d];
    k.bm = true, k.rev = d == 1;
    k.T = xd[1], k.B = B, k.D = xd[2], k.H = H, k.act = act, k.ract = ract;
    F32 &W = *weights[d][0], &U = *weights[d][1], &b = *weights[d][2];
    if (W.element_count() != static_cast<size_t>(k.D * 4 * H) ||
        U.element_count() != static_cast<size_t>(H * 4 * H))
      return ffi::Error::InvalidArgument(
          "rnnkit_lstm_bidirectional: W / U shapes do not match xs");
    pack_forward_weights(W, U, b, k, row_block_count(B, per_dir), packed[d], bias[d]);
    k.xs = xs.typed_data(), k.rm = nullptr, k.mask = nullptr;
    k.h0 = h0.typed_data() + d * B * H, k.c0 = c0.typed_data() + d * B * H;
    k.hT = hT->typed_data() + d * B * H, k.cT = cT->typed_data() + d * B * H;
    k.hs = hs->element_count() ? hs->typed_data() + d * H : nullptr;
    k.ldh = 2 * H, k.gates = nullptr, k.cs = nullptr;
  }
  auto run = [&](int d) {
    for_row_blocks(B, per_dir, [&k = dir[d]](int64_t b0, int64_t b1) { k.rows(b0, b1); });
  };
  if (row_block_count(B, threads) >= 2) {
    std::thread backward(run, 1);
    run(0);
    backward.join();
  } else {
    run(0);
    run(1);
  }
  return ffi::Error::Success();
}

ffi::Error LstmBackward(F32 xs, F32 W, F32 U, F32 gates, F32 cs, F32 c0, F32 hs, F32 h0,
                        Mask mask, F32 rm, F32 d_hs, F32 d_hT, F32 d_cT, F32Out dxs,
                        F32Out dW, F32Out dU, F32Out db, F32Out dh0, F32Out dc0, F32Out drm,
                        int64_t act, int64_t ract, int64_t threads, int64_t batch_major) {
  auto xd = xs.dimensions(), gd = gates.dimensions();
  if (xd.size() != 3 || gd.size() != 3 || U.dimensions().size() != 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_lstm_backward: xs must be (T, B, D) or (B, T, D), gates (T, B, 4H), U (H, 4H)");
  LstmBwd k;
  k.bm = batch_major != 0;
  k.T = gd[0], k.B = gd[1], k.D = xd[2], k.H = U.dimensions()[0];
  const int64_t G = 4 * k.H;
  if (gd[2] != G || W.element_count() != static_cast<size_t>(k.D * G))
    return ffi::Error::InvalidArgument("rnnkit_lstm_backward: gates / W / U shapes differ");
  k.act = act, k.ract = ract;
  // dx is skipped when its output is empty (nothing differentiated reaches xs)
  const bool want_dx = dxs->element_count() > 0;
  if (want_dx && dxs->element_count() != xs.element_count())
    return ffi::Error::InvalidArgument("rnnkit_lstm_backward: dxs must be shaped as xs or (0,)");
  const int64_t Dx = want_dx ? k.D : 0;  // the dx columns of the per-step product
  k.NpHD = round_up(k.H + Dx, kPanel);
  k.Np = round_up(G, kPanel);
  Floats stacked((k.H + Dx) * G), packed(G * k.NpHD);
  std::memcpy(stacked.data(), U.typed_data(), k.H * G * sizeof(float));
  if (want_dx) std::memcpy(stacked.data() + k.H * G, W.typed_data(), k.D * G * sizeof(float));
  pack_transposed(stacked.data(), k.H + Dx, G, packed.data());
  k.UW = packed.data();
  k.xs = xs.typed_data();
  k.gates = gates.typed_data(), k.cs = cs.typed_data(), k.c0 = c0.typed_data();
  k.hs = hs.typed_data(), k.h0 = h0.typed_data();
  k.rm = has(rm) ? rm.typed_data() : nullptr;
  k.mask = mask.element_count() ? mask.typed_data() : nullptr;
  k.d_hs = has(d_hs) ? d_hs.typed_data() : nullptr;
  k.d_hT = d_hT.typed_data(), k.d_cT = d_cT.typed_data();
  k.dxs = want_dx ? dxs->typed_data() : nullptr;
  k.dh0 = dh0->typed_data(), k.dc0 = dc0->typed_data();
  k.drm = drm->element_count() ? drm->typed_data() : nullptr;
  if (k.rm && !k.drm)
    return ffi::Error::InvalidArgument("rnnkit_lstm_backward: rm needs a drm output");
  const int64_t by_units = bwd_unit_threads(k, threads);
  const int64_t blocks = by_units > 1 ? 1 : row_block_count(k.B, threads);
  std::vector<Floats> partial(blocks);
  k.partial = &partial;
  if (by_units > 1)
    k.units(by_units);
  else
    for_row_blocks_indexed(k.B, blocks,
                           [&k](int64_t b0, int64_t b1, int64_t i) { k.rows(b0, b1, i); });
  sum_weight_grads_pm(partial, k.D, k.H, G, k.Np, dW->typed_data(), dU->typed_data(),
                   has_out(db) ? db->typed_data() : nullptr);
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_forward, rnnkit::LstmForward, RNNKIT_LSTM_FORWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_backward, rnnkit::LstmBackward, RNNKIT_LSTM_BACKWARD_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_bidirectional, rnnkit::LstmBidirectional,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()  // xs (B, T, D)
                                  .Arg<rnnkit::F32>()  // forward W (D, 4H)
                                  .Arg<rnnkit::F32>()  // forward U (H, 4H)
                                  .Arg<rnnkit::F32>()  // forward b (4H) or (0,)
                                  .Arg<rnnkit::F32>()  // backward W
                                  .Arg<rnnkit::F32>()  // backward U
                                  .Arg<rnnkit::F32>()  // backward b
                                  .Arg<rnnkit::F32>()  // h0 (2, B, H): forward, backward
                                  .Arg<rnnkit::F32>()  // c0 (2, B, H)
                                  .Ret<rnnkit::F32>()  // hs (B, T, 2H) or (0,)
                                  .Ret<rnnkit::F32>()  // hT (2, B, H)
                                  .Ret<rnnkit::F32>()  // cT (2, B, H)
                                  .Attr<int64_t>("act")
                                  .Attr<int64_t>("ract")
                                  .Attr<int64_t>("threads"));
