// A stack of L >= 2 LSTM layers in one inference call, as a wavefront over the layers.
//
// rnnkit_lstm_stack: layer l + 1 runs its step t while layer l runs step t + 1, each layer
// (or group of consecutive layers) on its own thread over the whole batch. Against one call
// per layer, each splitting the batch over the cores, every step's GEMM gets all B rows
// (fuller 12-row micro tiles), each thread keeps only its own layers' packed weights in its
// L2, and no layer waits for the whole sequence of the one below. Layer l hands h_t to layer
// l + 1 through a small ring of (B, H) slots and a per-layer step counter (release / acquire,
// each on its own cache line). With more threads than layers the batch is also split into
// groups of rows, each a wavefront of its own.
//
// Where it pays (measured, benchmarks/PERF_NOTES.md lever 15): when each layer gets a core
// the batch split would leave idle (small batches). A thread running two layers step by
// step is slower than one running them one after the other (both layers' weights cycle
// through its L2 every step), and at B64 on two cores the full-batch tiles were no faster
// than the 32-row halves of the batch split.
//
// RNNKIT_STACK_MOVED=n (tests and tuning): move n panels at every boundary instead of the
// balanced count.
//
// Semantics: L consecutive rnnkit_lstm_forward calls (batch-major, no mask, no recurrent
// dropout), every layer but the last returning its sequence: the same GEMM and cell row,
// bit for bit, except at batch 1 with moved panels (the GEMV sums its products in another
// order there: float32 rounding).
#include <atomic>
#include <cstdlib>

#include "lstm_common.h"

namespace rnnkit {
namespace {

constexpr int64_t kRing = 16;  // h_t slots between two layers: the producer runs <= 16 steps ahead

// The cell math of one row costs about what this many K rows of its GEMM cost (the 64-row
// cell pass of H256 ~ 35 us against 407 us for the K512 GEMM): used to balance the threads.
constexpr int64_t kCellRows = 48;

struct alignas(64) Progress {  // steps finished by one layer of one row group
  std::atomic<int64_t> done{0};
};

// Waits until `p` reaches `want`: a short spin (the usual hand-off is a few microseconds),
// then yields, so a thread whose peer was descheduled on a busy machine gives its core away.
inline void wait_for(const Progress& p, int64_t want) {
  for (int spins = 0; p.done.load(std::memory_order_acquire) < want; ++spins) {
    if (spins < 64)
      _mm_pause();
    else
      sched_yield();
  }
}

struct Layer {
  int64_t D, H, Np;
  const float *W, *U, *b;  // Keras layout; b may be nullptr
  const float *h0, *c0;
  float *hT, *cT;
  // panels [0, moved) of x_t @ W (plus their bias) are computed by the thread of the layer
  // below, right after it has made x_t (h_t of that layer), to balance the threads; only for
  // the first layer of a thread other than the first
  int64_t moved = 0;
};

// Packs rows [r0, r0 + rows) x panels [p0, p1) of the (R, 4H) matrix M into a (rows,
// (p1 - p0) * 32) packed operand starting at row k0 of `packed` (K rows in all).
void pack_part(const float* M, int64_t G, int64_t r0, int64_t rows, int64_t p0, int64_t p1,
               int64_t K, int64_t k0, float* packed) {
  const int64_t n0 = p0 * kPanel, n1 = std::min(G, p1 * kPanel);
  pack_rows(M + r0 * G + n0, rows, n1 - n0, K, k0, packed, G);
}

struct Stack {
  int64_t T, B, L, act, ract;
  const float* xs;  // (B, T, D0)
  float* hs;        // the last layer's (B, T, H), or nullptr
  std::vector<Layer> layers;
  // per row group and layer l < L - 1: the step counter of l, the ring of its h_t slots
  // (kRing, rows, H_l) and the ring of layer l + 1's moved input panels (kRing, rows, 32 m)
  std::vector<Progress>* progress;
  std::vector<Floats>* rings;
  std::vector<Floats>* proj_rings;

  // One thread: layers [l0, l1) of the rows [b0, b1) (row group `grp`), step by step.
  void run(int64_t grp, int64_t b0, int64_t b1, int64_t l0, int64_t l1) const {
    const int64_t Bt = b1 - b0;
    struct State {
      Floats xh, z, h, c;
      Floats rest, moved_u, bias;  // packed: [W; U] panels [moved, Np), U panels [0, moved)
      Floats next_w;               // packed W panels [0, moved) of the layer above (if moved)
    };
    std::vector<State> st(l1 - l0);
    for (int64_t l = l0; l < l1; ++l) {  // each thread packs the weights it reads
      const Layer& ly = layers[l];
      const int64_t K = ly.D + ly.H, G = 4 * ly.H, P = ly.Np / kPanel, m = ly.moved;
      State& s = st[l - l0];
      s.rest.assign(K * (ly.Np - m * kPanel), 0.0f);
      pack_part(ly.W, G, 0, ly.D, m, P, K, 0, s.rest.data());
      pack_part(ly.U, G, 0, ly.H, m, P, K, ly.D, s.rest.data());
      if (m) {
        s.moved_u.assign(ly.H * m * kPanel, 0.0f);
        pack_part(ly.U, G, 0, ly.H, 0, m, ly.H, 0, s.moved_u.data());
      }
      s.bias.assign(ly.Np, 0.0f);
      if (ly.b) std::memcpy(s.bias.data(), ly.b, G * sizeof(float));
      if (l + 1 < L && l + 1 == l1 && layers[l + 1].moved) {
        const Layer& up = layers[l + 1];
        s.next_w.assign(up.D * up.moved * kPanel, 0.0f);
        pack_part(up.W, 4 * up.H, 0, up.D, 0, up.moved, up.D, 0, s.next_w.data());
      }
      s.xh.assign(Bt * K, 0.0f), s.z.assign(Bt * ly.Np, 0.0f);
      s.h.assign(Bt * ly.H, 0.0f), s.c.assign(Bt * ly.H, 0.0f);
      for (int64_t r = 0; r < Bt; ++r) {
        std::memcpy(&s.h[r * ly.H], ly.h0 + (b0 + r) * ly.H, ly.H * sizeof(float));
        std::memcpy(&s.c[r * ly.H], ly.c0 + (b0 + r) * ly.H, ly.H * sizeof(float));
        std::memcpy(&s.xh[r * K + ly.D], &s.h[r * ly.H], ly.H * sizeof(float));
      }
    }
    Progress* prog = progress->data() + grp * L;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t l = l0; l < l1; ++l) {
        const Layer& ly = layers[l];
        const int64_t K = ly.D + ly.H, H = ly.H, mc = ly.moved * kPanel;
        State& s = st[l - l0];
        if (l == 0) {
          for (int64_t r = 0; r < Bt; ++r)
            std::memcpy(&s.xh[r * K], xs + seq_row(true, T, B, t, b0 + r) * ly.D,
                        ly.D * sizeof(float));
        } else {
          if (l == l0) wait_for(prog[l - 1], t + 1);  // the layer below is on another thread
          const int64_t slot = t % kRing;
          const float* in = (*rings)[grp * L + l - 1].data() + slot * Bt * ly.D;
          for (int64_t r = 0; r < Bt; ++r)
            std::memcpy(&s.xh[r * K], in + r * ly.D, ly.D * sizeof(float));
          if (mc) {  // x_t @ W + b of panels [0, moved), from the thread below
            const float* pj = (*proj_rings)[grp * L + l - 1].data() + slot * Bt * mc;
            for (int64_t r = 0; r < Bt; ++r)
              std::memcpy(&s.z[r * ly.Np], pj + r * mc, mc * sizeof(float));
          }
        }
        const float* bias = ly.b ? s.bias.data() : nullptr;
        if (mc)  // panels [0, moved): += h_{t-1} @ U
          gemm_impl<false, true>(s.xh.data() + ly.D, K, Bt, H, s.moved_u.data(), mc,
                                 nullptr, s.z.data(), ly.Np);
        if (Bt == 1)
          gemv(s.xh.data(), K, s.rest.data(), ly.Np - mc, bias ? bias + mc : nullptr,
               s.z.data() + mc, t & 1);
        else
          gemm(s.xh.data(), K, Bt, K, s.rest.data(), ly.Np - mc, bias ? bias + mc : nullptr,
               s.z.data() + mc, ly.Np);
        const bool last = l == L - 1;
        float* out = nullptr;
        if (!last) {
          // the slot this step writes was read by the layer above at step t - kRing
          if (l + 1 == l1) wait_for(prog[l + 1], t - kRing + 1);
          out = (*rings)[grp * L + l].data() + (t % kRing) * Bt * H;
        }
        for (int64_t r = 0; r < Bt; ++r) {
          float *hr = &s.h[r * H], *cr = &s.c[r * H];
          lstm_cell_row(&s.z[r * ly.Np], nullptr, H, act, ract, nullptr, true, cr, hr,
                        &s.xh[r * K + ly.D], nullptr);
          if (out) std::memcpy(out + r * H, hr, H * sizeof(float));
          if (last && hs) std::memcpy(hs + seq_row(true, T, B, t, b0 + r) * H, hr,
                                      H * sizeof(float));
        }
        if (!s.next_w.empty()) {  // the layer above's moved panels of x_t @ W + b
          const Layer& up = layers[l + 1];
          const int64_t umc = up.moved * kPanel;
          gemm(out, H, Bt, H, s.next_w.data(), umc, up.b ? up.b : nullptr,
               (*proj_rings)[grp * L + l].data() + (t % kRing) * Bt * umc, umc);
        }
        prog[l].done.store(t + 1, std::memory_order_release);
      }
    }
    for (int64_t l = l0; l < l1; ++l) {
      const Layer& ly = layers[l];
      const State& s = st[l - l0];
      std::memcpy(ly.hT + b0 * ly.H, s.h.data(), Bt * ly.H * sizeof(float));
      std::memcpy(ly.cT + b0 * ly.H, s.c.data(), Bt * ly.H * sizeof(float));
    }
  }
};

// The cost of one step of a layer, in K rows x panels of its GEMM (plus the cell math).
int64_t step_cost(const Layer& ly) { return (ly.D + ly.H + kCellRows) * (ly.Np / kPanel); }

// Splits the L layers into `parts` contiguous groups of near-equal cost: the first layer of
// each group, and L at the end.
std::vector<int64_t> layer_groups(const std::vector<Layer>& layers, int64_t parts) {
  const int64_t L = static_cast<int64_t>(layers.size());
  std::vector<int64_t> start{0};
  int64_t total = 0, acc = 0;
  for (const Layer& ly : layers) total += step_cost(ly);
  for (int64_t l = 0; l < L && static_cast<int64_t>(start.size()) < parts; ++l) {
    acc += step_cost(layers[l]);
    const int64_t g = static_cast<int64_t>(start.size());
    // cut after layer l once this group holds its share (or when each later group needs
    // one of the layers left), never leaving a later group without one
    const int64_t left = L - (l + 1), groups_left = parts - g;
    if (left >= groups_left && (acc * parts >= total * g || left == groups_left))
      start.push_back(l + 1);
  }
  start.push_back(L);
  return start;
}

// Moves input panels of each group's first layer down to the group below until the
// groups' step costs are as even as whole panels allow (`force` >= 0: that many panels at
// every boundary instead).
void balance(std::vector<Layer>& layers, const std::vector<int64_t>& start, int64_t force) {
  const int64_t n = static_cast<int64_t>(start.size()) - 1;
  int64_t total = 0;
  for (const Layer& ly : layers) total += step_cost(ly);
  for (int64_t g = 0; g + 1 < n; ++g) {
    int64_t cost = 0;  // this group's step, less what it moved to the group below
    for (int64_t l = start[g]; l < start[g + 1]; ++l)
      cost += step_cost(layers[l]) - layers[l].moved * layers[l].D;
    Layer& up = layers[start[g + 1]];
    int64_t m = force >= 0 ? force : (total / n - cost + up.D / 2) / std::max<int64_t>(1, up.D);
    up.moved = std::clamp<int64_t>(m, 0, up.Np / kPanel - 1);
  }
}

ffi::Error LstmStack(F32 xs, ffi::RemainingArgs weights, F32Out hs, F32Out finals,
                     int64_t act, int64_t ract, int64_t threads) {
  auto xd = xs.dimensions();
  if (xd.size() != 3 || weights.size() % 5 != 0 || weights.size() < 10)
    return ffi::Error::InvalidArgument(
        "rnnkit_lstm_stack: xs must be (B, T, D), then W, U, b, h0, c0 for each of >= 2 "
        "layers");
  Stack k;
  k.B = xd[0], k.T = xd[1], k.L = static_cast<int64_t>(weights.size() / 5);
  k.act = act, k.ract = ract;
  k.xs = xs.typed_data();
  k.layers.resize(k.L);
  float* fin = finals->typed_data();
  int64_t D = xd[2];
  for (int64_t l = 0; l < k.L; ++l) {
    F32 W = *weights.get<F32>(5 * l), U = *weights.get<F32>(5 * l + 1),
        b = *weights.get<F32>(5 * l + 2), h0 = *weights.get<F32>(5 * l + 3),
        c0 = *weights.get<F32>(5 * l + 4);
    Layer& ly = k.layers[l];
    ly.D = D, ly.H = U.dimensions().size() == 2 ? U.dimensions()[0] : 0;
    const int64_t G = 4 * ly.H;
    if (ly.H == 0 || W.element_count() != static_cast<size_t>(D * G) ||
        U.element_count() != static_cast<size_t>(ly.H * G) ||
        (has(b) && b.element_count() != static_cast<size_t>(G)) ||
        h0.element_count() != static_cast<size_t>(k.B * ly.H) ||
        c0.element_count() != static_cast<size_t>(k.B * ly.H))
      return ffi::Error::InvalidArgument(
          "rnnkit_lstm_stack: layer W / U / b / h0 / c0 shapes do not chain from xs");
    ly.Np = round_up(G, kPanel);
    ly.W = W.typed_data(), ly.U = U.typed_data(), ly.b = has(b) ? b.typed_data() : nullptr;
    ly.h0 = h0.typed_data(), ly.c0 = c0.typed_data();
    ly.hT = fin, ly.cT = fin + k.B * ly.H;
    fin += 2 * k.B * ly.H;
    D = ly.H;
  }
  k.hs = hs->element_count() ? hs->typed_data() : nullptr;
  // threads: `threads` when given; else as many as a batch split would use, and at least
  // one per layer while there are cores for it. One per layer group, and with threads to
  // spare for every layer, groups of rows as well
  const int64_t P = threads > 0 ? row_block_count(k.B, threads)
                                : std::max(row_block_count(k.B, 0),
                                           std::min<int64_t>(k.L, usable_cpus()));
  const int64_t row_groups = std::max<int64_t>(1, std::min(P / k.L, k.B));
  const int64_t parts = std::min(k.L, std::max<int64_t>(1, P / row_groups));
  const std::vector<int64_t> start = layer_groups(k.layers, parts);
  const char* force = std::getenv("RNNKIT_STACK_MOVED");
  balance(k.layers, start, force ? std::atoll(force) : -1);
  std::vector<Progress> progress(row_groups * k.L);
  std::vector<Floats> rings(row_groups * k.L), proj_rings(row_groups * k.L);
  auto rows = [&](int64_t g) { return k.B * g / row_groups; };
  for (int64_t g = 0; g < row_groups; ++g)
    for (int64_t l = 0; l + 1 < k.L; ++l) {
      const int64_t n = rows(g + 1) - rows(g);
      rings[g * k.L + l].assign(kRing * n * k.layers[l].H, 0.0f);
      proj_rings[g * k.L + l].assign(kRing * n * k.layers[l + 1].moved * kPanel, 0.0f);
    }
  k.progress = &progress, k.rings = &rings, k.proj_rings = &proj_rings;
  std::vector<std::thread> pool;
  const int64_t n_parts = static_cast<int64_t>(start.size()) - 1;
  for (int64_t g = 0; g < row_groups; ++g)
    for (int64_t p = 0; p < n_parts; ++p) {
      if (g == 0 && p == 0) continue;  // the calling thread's share, below
      pool.emplace_back([&k, g, p, &start, &rows] {
        k.run(g, rows(g), rows(g + 1), start[p], start[p + 1]);
      });
    }
  k.run(0, rows(0), rows(1), start[0], start[1]);
  for (auto& th : pool) th.join();
  return ffi::Error::Success();
}

}  // namespace
}  // namespace rnnkit

XLA_FFI_DEFINE_HANDLER_SYMBOL(rnnkit_lstm_stack, rnnkit::LstmStack,
                              xla::ffi::Ffi::Bind()
                                  .Arg<rnnkit::F32>()  // xs (B, T, D)
                                  .RemainingArgs()     // per layer: W, U, b or (0,), h0, c0
                                  .Ret<rnnkit::F32>()  // last layer's hs (B, T, H) or (0,)
                                  .Ret<rnnkit::F32>()  // per layer hT (B, H), cT (B, H), flat
                                  .Attr<int64_t>("act")
                                  .Attr<int64_t>("ract")
                                  .Attr<int64_t>("threads"));
