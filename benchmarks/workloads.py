"""The benchmark workloads: sizes, FLOP counts and input data (NumPy only, no framework imports).

Every workload is the model `RNN(H) -> Dense(1)` (or a Bidirectional / stacked / masked variant),
float32, batch-first inputs of shape (B, T, D), MSE loss, SGD(lr=0.01), as in
shared/perf/peer_bench.md -- except `charlm_train`, the model of `rnnkit train` (the main job):
Embedding(V, D) -> GRU(H, return_sequences=True) -> Dense(V) logits, sparse categorical
crossentropy from logits, Adam(3e-3, global_clipnorm=1.0), int32 windows of shape (B, T).
"""

from __future__ import annotations

import dataclasses

import numpy as np

CELLS = ("simple_rnn", "lstm", "gru")
CELL_LABEL = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}  # width of the fused matmul, in units of H


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str  # e.g. "lstm_train"; what --workloads filters on
    cell: str  # "simple_rnn" | "lstm" | "gru"
    mode: str  # "train" (one full step) | "infer" (forward only)
    B: int
    T: int
    D: int
    H: int
    arch: str = "single"  # "single" | "bidirectional" | "stacked2" | "charlm"
    masked: bool = False  # right-padded random lengths, passed as a (B, T) bool mask
    min_len: float = 0.5  # masked: lengths uniform in [min_len * T, T]
    vocab: int = 0  # charlm: vocabulary size V (D is the embedding width)
    bf16: bool = False  # mixed precision: bf16 compute, f32 weights and loss

    @property
    def label(self) -> str:
        if self.arch == "charlm":
            return f"Main job: Embedding -> {CELL_LABEL[self.cell]} -> Dense(V) / {self.config}"
        prefix = {"single": "", "bidirectional": "Bidirectional ", "stacked2": "2-layer "}[self.arch]
        lengths = "masked" if self.min_len == 0.5 else f"masked, lengths {self.min_len:g}T..T"
        tags = [lengths] * self.masked + ["bf16"] * self.bf16
        suffix = f" ({', '.join(tags)})" if tags else ""
        return f"{prefix}{CELL_LABEL[self.cell]} / {self.config}{suffix}"

    @property
    def config(self) -> str:
        return self.name.split("_")[-1] if not self.bf16 else self.name.split("_")[-2]

    @property
    def sizes(self) -> str:
        vocab = f" V{self.vocab}" if self.vocab else ""
        return f"B{self.B} T{self.T} D{self.D} H{self.H}{vocab}"

    def flops(self) -> float:
        """Matmul FLOPs of the recurrence (x_t@W + h@U per step, all T steps; train = 3x forward).

        Masked workloads count all T steps. The Dense head and gate math are not counted.
        """
        g = GATES[self.cell] * self.H
        per_layer_in = [self.D] if self.arch != "stacked2" else [self.D, self.H]
        fwd = sum(2.0 * self.B * self.T * (d + self.H) * g for d in per_layer_in)
        if self.arch == "bidirectional":
            fwd *= 2
        return fwd * (3.0 if self.mode == "train" else 1.0)


_TRAIN = dict(B=64, T=100, D=64, H=256)
_LATENCY = dict(B=1, T=100, D=8, H=64)
_LONG = dict(B=16, T=1000, D=32, H=128)


_BIG_H = dict(B=32, T=100, D=64, H=1024)
_SMALL_B = dict(B=8, T=100, D=64, H=256)
# `rnnkit train`'s defaults: 32 windows of 64 characters, Embedding(V, 48), GRU(256). V = 102 is
# the vocabulary the default corpus (Python 3.11's standard-library sources) gives.
_MAIN_JOB = dict(B=32, T=64, D=48, H=256, vocab=102)


def _all_workloads() -> list[Workload]:
    wls = [Workload("charlm_train", "gru", "train", arch="charlm", **_MAIN_JOB)]
    for mode, sizes, suffix in (("train", _TRAIN, "train"), ("infer", _TRAIN, "infer"),
                                ("infer", _LATENCY, "latency")):
        for cell in CELLS:
            wls.append(Workload(f"{cell}_{suffix}", cell, mode, **sizes))
    wls += [
        Workload("lstm_long", "lstm", "infer", **_LONG),
        Workload("bilstm_infer", "lstm", "infer", arch="bidirectional", **_TRAIN),
        Workload("lstm2_infer", "lstm", "infer", arch="stacked2", **_TRAIN),
        Workload("lstm_masked_infer", "lstm", "infer", masked=True, **_TRAIN),
        Workload("lstm_infer_bf16", "lstm", "infer", bf16=True, **_TRAIN),
        Workload("lstm_train_bf16", "lstm", "train", bf16=True, **_TRAIN),
        # issue 15's extra rows: variable lengths, a large hidden size, a small batch
        Workload("lstm_varlen_infer", "lstm", "infer", masked=True, min_len=0.25, **_TRAIN),
        Workload("lstm_varlen_train", "lstm", "train", masked=True, min_len=0.25, **_TRAIN),
        Workload("lstm_h1024_infer", "lstm", "infer", **_BIG_H),
        Workload("lstm_h1024_train", "lstm", "train", **_BIG_H),
        Workload("lstm_b8_infer", "lstm", "infer", **_SMALL_B),
        Workload("lstm_b8_train", "lstm", "train", **_SMALL_B),
    ]
    return wls


WORKLOADS: dict[str, Workload] = {w.name: w for w in _all_workloads()}


def smoke_sized(w: Workload) -> Workload:
    """The same workload at tiny sizes, for the CI smoke run."""
    return dataclasses.replace(w, B=1 if w.B == 1 else 4, T=16 if w.T > 100 else 8, D=4, H=8,
                               vocab=min(w.vocab, 11))


def make_data(w: Workload, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs shared by every framework: x (B,T,D) f32, y (B,1) f32, and for masked workloads
    mask (B,T) bool plus lengths (B,) int64 (right padding, padded steps of x set to 0).
    charlm: x and y int32 (B,T) token ids in [0, V), y = the next id of each position."""
    rng = np.random.default_rng(seed)
    if w.arch == "charlm":  # next-character ids: y is x shifted by one step
        ids = rng.integers(0, w.vocab, size=(w.B, w.T + 1)).astype(np.int32)
        return {"x": ids[:, :-1], "y": ids[:, 1:]}
    x = (0.5 * rng.standard_normal((w.B, w.T, w.D))).astype(np.float32)
    y = rng.standard_normal((w.B, 1)).astype(np.float32)
    data = {"x": x, "y": y}
    if w.masked:
        lengths = rng.integers(max(1, int(w.T * w.min_len)), w.T + 1, size=w.B)
        lengths[0] = w.T  # at least one full-length sequence, so every framework runs T steps
        mask = np.arange(w.T)[None, :] < lengths[:, None]
        data["x"] = np.where(mask[:, :, None], x, 0.0).astype(np.float32)
        data["mask"] = mask
        data["lengths"] = lengths.astype(np.int64)
    return data
