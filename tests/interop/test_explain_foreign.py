"""`rnnkit explain` works on Keras .keras / .h5 files."""

from __future__ import annotations

import pytest

import rnnkit
from interop_cases import FIXTURES

pytest.importorskip("h5py")


@pytest.mark.parametrize("name", ["k2h5_bilstm_concat_dense.h5", "k3_gru_v1_dense.keras"])
def test_explain_foreign_file(name, capsys):
    from rnnkit.cli import main

    text = rnnkit.explain(str(FIXTURES / name)).to_text()
    assert ("Bidirectional" in text) if "bilstm" in name else ("GRU" in text)
    assert main(["explain", str(FIXTURES / name), "--plain"]) == 0
    assert "Dense" in capsys.readouterr().out


def test_missing_h5_is_file_not_found(tmp_path):
    from rnnkit.explain import SpecError

    with pytest.raises(SpecError, match="file not found"):
        rnnkit.explain("model.h5")
