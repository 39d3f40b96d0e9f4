"""`rnnkit train --cell mingru|minlstm|lru` trains the character model with that layer."""

from __future__ import annotations

import json

import pytest

from rnnkit.cli import main


@pytest.mark.parametrize("cell, arch", [("mingru", "MinGRU(16)"), ("minlstm", "MinLSTM(16)"),
                                        ("lru", "Dense(16) -> LRU(16)")])
def test_train_with_parallel_cell(tmp_path, capsys, cell, arch):
    text = tmp_path / "poem.txt"
    text.write_text("the quick brown fox jumps over the lazy dog.\n" * 300)
    out_dir = tmp_path / "run"
    code = main(["train", "--text", str(text), "--cell", cell, "--units", "16", "--embed", "8",
                 "--seq-len", "20", "--batch-size", "16", "--epochs", "2", "--out",
                 str(out_dir), "--no-plot", "--sample-length", "10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert arch in out
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["epochs_done"] == 2
    val = meta["history"]["val_loss"]
    assert len(val) == 2 and val[1] < val[0]
