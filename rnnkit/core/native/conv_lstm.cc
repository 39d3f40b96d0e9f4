// ConvLSTM inference loop (Keras ConvLSTM1D/2D/3D, channels last, gates i, f, c, o).
//
// rnnkit_conv_lstm_forward: the whole time loop of
//     z = W * x_t + U * h_{t-1} + b,  c = σ(f) c + σ(i) act(g),  h = σ(o) act(c)
// (for training, also the c and z of every step, the residuals of the XLA backward)
// with both convolutions as one implicit GEMM per output row of pixels: for a block of up
// to 12 pixels of a row, z (pixels, 4F) = sum over the kernel taps of the shifted input
// rows (pixels, C or F) @ the tap's (C or F, 4F) slice of the packed [U; W], accumulated
// in registers (12 rows x 32 columns per tile), then the gate math of lstm_common.h on the
// row. The state h lives in two zero-bordered buffers (previous / next step), so the
// recurrent "same" convolution reads its taps without bounds checks; the input arrives
// padded by the caller (XLA), and strides / dilation of the input convolution are the
// row spacing of its taps.
//
// Threads: the output rows (batch x depth x height) of a step are split into contiguous
// blocks, one per thread. When the blocks end on frame boundaries (e.g. B8 on 2 threads)
// each thread owns whole frames and runs its loop without synchronisation; otherwise (batch
// 1, odd batch) the threads meet at a barrier after every step, because a row's recurrent
// taps read rows another thread wrote.
// Spatial ranks 1-3 are handled as 3-D with leading sizes of 1.
#include <atomic>

#include "lstm_common.h"

namespace rnnkit {
namespace {

constexpr int kTileRows = 12;  // output pixels per register tile (24 accumulators)

// One operand of the implicit GEMM for a row of pixels: pixel p's K values start at
// p + x * lda (lda: the pixel spacing, stride * channels for the input convolution).
struct Seg {
  const float* p;
  int64_t K, lda;
};

// C (MR, 32) = init + sum over segments of A_seg (MR, K_seg) @ panel rows of that segment.
// `panel`: this column panel of the packed [U; W] (K_total, 32), rows in segment order.
template <int MR>
inline void conv_tile(const Seg* segs, int nseg, int64_t x0, const float* panel,
                      const float* init, float* C, int64_t ldc) {
  __m512 a0[MR], a1[MR];
  const __m512 i0 = init ? _mm512_loadu_ps(init) : _mm512_setzero_ps();
  const __m512 i1 = init ? _mm512_loadu_ps(init + 16) : _mm512_setzero_ps();
  for (int r = 0; r < MR; ++r) { a0[r] = i0; a1[r] = i1; }
  const float* bp = panel;
  for (int s = 0; s < nseg; ++s) {
    const int64_t lda = segs[s].lda, K = segs[s].K;
    const float* A = segs[s].p + x0 * lda;
    for (int64_t k = 0; k < K; ++k, bp += kPanel) {
      const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(A[r * lda + k]);
        a0[r] = _mm512_fmadd_ps(a, b0, a0[r]);
        a1[r] = _mm512_fmadd_ps(a, b1, a1[r]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_ps(C + r * ldc, a0[r]);
    _mm512_storeu_ps(C + r * ldc + 16, a1[r]);
  }
}

template <int MR>
inline void conv_tile_rows(const Seg* segs, int nseg, int64_t x0, const float* panel,
                           const float* init, float* C, int64_t ldc, int64_t rows) {
  if constexpr (MR > 1) {
    if (rows < MR)
      return conv_tile_rows<MR - 1>(segs, nseg, x0, panel, init, C, ldc, rows);
  }
  conv_tile<MR>(segs, nseg, x0, panel, init, C, ldc);
}

struct ConvLstmFwd {
  int64_t T, B, C, F, act, ract;
  bool rev;
  int64_t out[3];   // output spatial sizes (D', H', W')
  int64_t xsz[3];   // padded input spatial sizes
  int64_t k[3];     // kernel sizes
  int64_t st[3];    // input strides
  int64_t dil[3];   // input dilation
  int64_t hp[3];    // zero-bordered state sizes (out + k - 1)
  int64_t pb[3];    // recurrent "same" padding before: (k - 1) / 2
  const float *xs, *bias, *packed;  // packed [U; W] (K_total, Np); bias padded or nullptr
  int64_t Np, Ktot;
  float *hbuf[2];   // zero-bordered h (B, hp..., F): previous / next step
  float *hs, *hT, *cT;  // hs (B, T, out..., F) or nullptr; cT holds c during the loop
  float *cs, *zs;  // training: c and z of every step, (T, B, out..., F / 4F), or nullptr
  bool hs_tm;      // hs is time-major, (T, B, out..., F)
  StepBarrier* barrier;
  bool sync;

  int64_t pixels() const { return out[0] * out[1] * out[2]; }
  int64_t rows_per_frame() const { return out[0] * out[1]; }
  int64_t hframe() const { return hp[0] * hp[1] * hp[2] * F; }

  // The operand segments of output row (b, d, y) at step t (x read at time tx): one per
  // (kd, kh) and per kw tap, or one per (kd, kh) covering all kw taps when they are
  // contiguous (recurrent taps always are; input taps when the W dilation is 1).
  int make_segs(const float* hprev, int64_t b, int64_t d, int64_t y, int64_t tx,
                Seg* segs) const {
    int n = 0;
    for (int64_t kd = 0; kd < k[0]; ++kd)
      for (int64_t kh = 0; kh < k[1]; ++kh) {
        const float* row = hprev + b * hframe() +
                           ((d + kd) * hp[1] + (y + kh)) * hp[2] * F;
        segs[n++] = Seg{row, k[2] * F, F};
      }
    const int64_t xframe = xsz[0] * xsz[1] * xsz[2] * C;
    const float* xf = xs + (b * T + tx) * xframe;
    for (int64_t kd = 0; kd < k[0]; ++kd)
      for (int64_t kh = 0; kh < k[1]; ++kh) {
        const float* row = xf + ((d * st[0] + kd * dil[0]) * xsz[1] +
                                 (y * st[1] + kh * dil[1])) * xsz[2] * C;
        if (dil[2] == 1) {
          segs[n++] = Seg{row, k[2] * C, st[2] * C};
        } else {
          for (int64_t kw = 0; kw < k[2]; ++kw)
            segs[n++] = Seg{row + kw * dil[2] * C, C, st[2] * C};
        }
      }
    return n;
  }

  // Output rows [u0, u1) of the B * D' * H' rows, for all steps.
  void rows(int64_t u0, int64_t u1) const {
    const int64_t W = out[2], R = rows_per_frame();
    const int nseg_max = static_cast<int>(k[0] * k[1] * (1 + k[2]));
    std::vector<Seg> segs(nseg_max);
    Floats z(W * Np);
    // the register tiles of a row: ceil(W / 12) tiles of near-equal size
    const int64_t tiles = (W + kTileRows - 1) / kTileRows;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t tx = rev ? T - 1 - t : t;
      const float* hprev = hbuf[t & 1];
      float* hnext = hbuf[(t + 1) & 1];
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t b = u / R, d = (u % R) / out[1], y = u % out[1];
        const int nseg = make_segs(hprev, b, d, y, tx, segs.data());
        for (int64_t p = 0; p < Np / kPanel; ++p) {
          const float* panel = packed + p * Ktot * kPanel;
          const float* init = bias ? bias + p * kPanel : nullptr;
          for (int64_t i = 0; i < tiles; ++i) {
            const int64_t x0 = W * i / tiles, x1 = W * (i + 1) / tiles;
            conv_tile_rows<kTileRows>(segs.data(), nseg, x0, panel, init,
                                      z.data() + x0 * Np + p * kPanel, Np, x1 - x0);
          }
        }
        float* hrow = hnext + b * hframe() +
                      ((d + pb[0]) * hp[1] + (y + pb[1])) * hp[2] * F + pb[2] * F;
        float* crow = cT + (b * R + d * out[1] + y) * W * F;
        const int64_t row_tm = (t * B + b) * R + d * out[1] + y;  // time-major row index
        float* hsrow = hs ? hs + (hs_tm ? row_tm : (b * T + t) * R + d * out[1] + y) * W * F
                          : nullptr;
        for (int64_t x = 0; x < W; ++x)
          lstm_cell_row(&z[x * Np], nullptr, F, act, ract, nullptr, true, crow + x * F,
                        hrow + x * F, hsrow ? hsrow + x * F : nullptr, nullptr);
        if (cs) std::memcpy(cs + row_tm * W * F, crow, W * F * sizeof(float));
        if (zs)
          for (int64_t x = 0; x < W; ++x)
            std::memcpy(zs + (row_tm * W + x) * 4 * F, &z[x * Np], 4 * F * sizeof(float));
      }
      if (sync) barrier->wait();
    }
  }
};

// Copies the interior of zero-bordered frames (B, hp..., F) to / from dense (B, out..., F).
void copy_interior(const ConvLstmFwd& k, float* padded, const float* dense, float* dense_out) {
  const int64_t W = k.out[2], F = k.F;
  for (int64_t b = 0; b < k.B; ++b)
    for (int64_t d = 0; d < k.out[0]; ++d)
      for (int64_t y = 0; y < k.out[1]; ++y) {
        float* prow = padded + b * k.hframe() +
                      ((d + k.pb[0]) * k.hp[1] + (y + k.pb[1])) * k.hp[2] * F + k.pb[2] * F;
        const int64_t off = ((b * k.out[0] + d) * k.out[1] + y) * W * F;
        if (dense) std::memcpy(prow, dense + off, W * F * sizeof(float));
        if (dense_out) std::memcpy(dense_out + off, prow, W * F * sizeof(float));
      }
}

ffi::Error ConvLstmForward(F32 xs, F32 Wk, F32 Uk, F32 b, F32 h0, F32 c0, F32Out hs,
                           F32Out hT, F32Out cT, F32Out cs, F32Out zs, int64_t act,
                           int64_t ract, int64_t threads, int64_t reverse, int64_t time_major,
                           int64_t sd, int64_t sh, int64_t sw, int64_t dd, int64_t dh,
                           int64_t dw) {
  auto xd = xs.dimensions(), hd = h0.dimensions(), ud = Uk.dimensions();
  const int64_t rank = static_cast<int64_t>(hd.size()) - 2;
  if (rank < 1 || rank > 3 || static_cast<int64_t>(xd.size()) != rank + 3 ||
      static_cast<int64_t>(ud.size()) != rank + 2)
    return ffi::Error::InvalidArgument(
        "rnnkit_conv_lstm_forward: xs must be (B, T, *S, C), h0 (B, *S', F), U (*k, F, 4F) "
        "with 1-3 spatial axes");
  ConvLstmFwd k;
  k.B = xd[0], k.T = xd[1], k.C = xd[rank + 2], k.F = hd[rank + 1];
  k.act = act, k.ract = ract, k.rev = reverse != 0;
  const int64_t lead = 3 - rank, strides[3] = {sd, sh, sw}, dils[3] = {dd, dh, dw};
  for (int i = 0; i < 3; ++i) {
    const bool real = i >= lead;
    k.out[i] = real ? hd[1 + i - lead] : 1;
    k.xsz[i] = real ? xd[2 + i - lead] : 1;
    k.k[i] = real ? ud[i - lead] : 1;
    k.st[i] = strides[i], k.dil[i] = dils[i];
    k.hp[i] = k.out[i] + k.k[i] - 1;
    k.pb[i] = (k.k[i] - 1) / 2;
    if (k.xsz[i] < (k.out[i] - 1) * k.st[i] + (k.k[i] - 1) * k.dil[i] + 1)
      return ffi::Error::InvalidArgument(
          "rnnkit_conv_lstm_forward: the padded input is too small for the output size");
  }
  const int64_t G = 4 * k.F, P = k.k[0] * k.k[1] * k.k[2];
  if (ud[rank] != k.F || ud[rank + 1] != G ||
      Wk.element_count() != static_cast<size_t>(P * k.C * G) || hd[0] != k.B)
    return ffi::Error::InvalidArgument(
        "rnnkit_conv_lstm_forward: W / U / h0 shapes do not match xs");
  k.Np = round_up(G, kPanel);
  k.Ktot = P * (k.F + k.C);
  Floats packed(k.Ktot * k.Np), bias;
  pack_rows(Uk.typed_data(), P * k.F, G, k.Ktot, 0, packed.data());
  pack_rows(Wk.typed_data(), P * k.C, G, k.Ktot, P * k.F, packed.data());
  if (has(b)) {
    bias.assign(k.Np, 0.0f);
    std::memcpy(bias.data(), b.typed_data(), G * sizeof(float));
  }
  k.packed = packed.data();
  k.bias = bias.empty() ? nullptr : bias.data();
  k.xs = xs.typed_data();
  Floats hb0(k.B * k.hframe(), 0.0f), hb1(k.B * k.hframe(), 0.0f);
  k.hbuf[0] = hb0.data(), k.hbuf[1] = hb1.data();
  copy_interior(k, k.hbuf[0], h0.typed_data(), nullptr);
  k.cT = cT->typed_data();
  std::memcpy(k.cT, c0.typed_data(), k.B * k.pixels() * k.F * sizeof(float));
  k.hs = hs->element_count() ? hs->typed_data() : nullptr;
  k.hT = hT->typed_data();
  k.hs_tm = time_major != 0;
  k.cs = has_out(cs) ? cs->typed_data() : nullptr;
  k.zs = has_out(zs) ? zs->typed_data() : nullptr;

  const int64_t R = k.rows_per_frame(), U = k.B * R;
  const int64_t n = std::max<int64_t>(1, std::min(threads > 0 ? threads : usable_cpus(), U));
  bool aligned = true;  // every block boundary on a frame boundary: no step barrier needed
  for (int64_t i = 1; i < n; ++i) aligned = aligned && (U * i / n) % R == 0;
  StepBarrier barrier;
  barrier.n = n;
  k.barrier = &barrier;
  k.sync = !aligned;
  for_row_blocks_indexed(U, n, [&k](int64_t u0, int64_t u1, int64_t) { k.rows(u0, u1); });
  copy_interior(k, k.hbuf[k.T & 1], nullptr, k.hT);
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_conv_lstm_forward, rnnkit::ConvLstmForward,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()  // xs (B, T, *S, C), padded
                                  .Arg<rnnkit::F32>()  // W (*k, C, 4F)
                                  .Arg<rnnkit::F32>()  // U (*k, F, 4F)
                                  .Arg<rnnkit::F32>()  // b (4F) or (0,)
                                  .Arg<rnnkit::F32>()  // h0 (B, *S', F)
                                  .Arg<rnnkit::F32>()  // c0 (B, *S', F)
                                  .Ret<rnnkit::F32>()  // hs (B, T, *S', F), (T, B, *S', F)
                                                       // with time_major, or (0,)
                                  .Ret<rnnkit::F32>()  // hT (B, *S', F)
                                  .Ret<rnnkit::F32>()  // cT (B, *S', F)
                                  .Ret<rnnkit::F32>()  // cs (T, B, *S', F) or (0,)
                                  .Ret<rnnkit::F32>()  // zs (T, B, *S', 4F) or (0,)
                                  .Attr<int64_t>("act")
                                  .Attr<int64_t>("ract")
                                  .Attr<int64_t>("threads")
                                  .Attr<int64_t>("reverse")
                                  .Attr<int64_t>("time_major")
                                  .Attr<int64_t>("sd")
                                  .Attr<int64_t>("sh")
                                  .Attr<int64_t>("sw")
                                  .Attr<int64_t>("dd")
                                  .Attr<int64_t>("dh")
                                  .Attr<int64_t>("dw"));
