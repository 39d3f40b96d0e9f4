"""PyTorch peer: nn.RNN(tanh) / nn.LSTM / nn.GRU (batch_first) + nn.Linear, threads at defaults.

train: zero_grad, forward, MSELoss, backward, SGD.step, loss.item().
infer: eval() + no_grad(). bf16 rows use torch.autocast("cpu", bfloat16) (f32 weights and loss).
masked rows use pack_padded_sequence(enforce_sorted=False), the idiomatic torch form.
charlm (the main job): nn.Embedding -> nn.GRU -> nn.Linear, CrossEntropyLoss, Adam(lr 3e-3,
eps 1e-7 as Keras) with clip_grad_norm_(1.0) (Keras's global_clipnorm).
"""

from __future__ import annotations

import contextlib

from benchmarks.frameworks import NotSupported

VARIANTS = ["torch"]
torch = None


def setup() -> str:
    global torch
    import torch as _torch

    torch = _torch
    return f"torch {torch.__version__} ({torch.get_num_threads()} threads)"


def _model(wl):
    rnn_cls = {"simple_rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[wl.cell]
    kw = {"nonlinearity": "tanh"} if wl.cell == "simple_rnn" else {}
    num_layers = 2 if wl.arch == "stacked2" else 1
    bidir = wl.arch == "bidirectional"

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn_cls(wl.D, wl.H, num_layers=num_layers, batch_first=True,
                               bidirectional=bidir, **kw)
            self.head = torch.nn.Linear(wl.H * (2 if bidir else 1), 1)

        def forward(self, x, lengths=None):
            if lengths is not None:
                x = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                            enforce_sorted=False)
            _, state = self.rnn(x)
            h_n = state[0] if isinstance(state, tuple) else state  # (layers*dirs, B, H)
            last = torch.cat([h_n[-2], h_n[-1]], dim=-1) if bidir else h_n[-1]
            return self.head(last)

    return Net()


def _charlm(wl):
    rnn_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[wl.cell]

    class CharLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(wl.vocab, wl.D)
            self.rnn = rnn_cls(wl.D, wl.H, batch_first=True)
            self.head = torch.nn.Linear(wl.H, wl.vocab)

        def forward(self, ids):
            seq, _ = self.rnn(self.embed(ids))
            return self.head(seq)

    return CharLM()


def _charlm_step(wl, data):
    model = _charlm(wl)
    model.train()
    x = torch.from_numpy(data["x"]).long()
    y = torch.from_numpy(data["y"]).long().reshape(-1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step():
        opt.zero_grad()
        loss = loss_fn(model(x).reshape(-1, wl.vocab), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    return train_step


def make(variant, wl, data):
    if variant != "torch":
        raise NotSupported(variant)
    torch.manual_seed(0)
    if wl.arch == "charlm":
        return _charlm_step(wl, data)
    model = _model(wl)
    x = torch.from_numpy(data["x"])
    y = torch.from_numpy(data["y"])
    lengths = torch.from_numpy(data["lengths"]) if wl.masked else None
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if wl.bf16 \
        else contextlib.nullcontext

    if wl.mode == "infer":
        model.eval()

        def infer():
            with torch.no_grad(), autocast():
                return model(x, lengths)

        return infer

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.MSELoss()

    def train_step():
        opt.zero_grad()
        with autocast():
            pred = model(x, lengths)
        loss = loss_fn(pred.float(), y)
        loss.backward()
        opt.step()
        return loss.item()

    return train_step
