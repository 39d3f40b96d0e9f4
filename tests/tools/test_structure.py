"""tools/check_structure.py finds what it counts (on a small made-up package), and rnnkit
has no import cycles and no cell-kind branches outside rnnkit/core/kernels."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools import check_structure  # noqa: E402


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def _fake_package(tmp_path: Path) -> Path:
    pkg = tmp_path / "rnnkit"
    _write(pkg, "__init__.py", "")
    _write(pkg, "core/__init__.py", "")
    _write(pkg, "core/kernels/__init__.py", "")
    _write(pkg, "core/kernels/lstm.py", """
        KERNEL = CellKernel(kind="lstm", gates=4)
        GATES = {"lstm": 4}  # a kind's own module may name itself
        """)
    _write(pkg, "core/kernels/gru.py", 'KERNEL = CellKernel(kind="gru", gates=3)\n')
    # a cycle through a function-level import, and a relative import
    _write(pkg, "layers/__init__.py", "")
    _write(pkg, "layers/a.py", """
        from rnnkit.layers import b

        def f(kind):
            if kind == "lstm":
                return 1
            return {"gru": 3}.get(kind)
        """)
    _write(pkg, "layers/b.py", """
        def g(kind):
            from . import a

            return kind in ("gru", "other") or TABLE["lstm"]
        """)
    _write(pkg, "models/__init__.py", "from rnnkit.layers import a\n")
    _write(pkg, "models/long.py", "x = 1\n" * 501)
    _write(pkg, "models/fine.py", "x = 1\n" * 499 + "label = 'lstm'  # not a branch\n")
    return pkg


def test_counts_on_a_made_up_package(tmp_path, capsys):
    pkg = _fake_package(tmp_path)
    r = check_structure.report(pkg)
    assert r["kinds"] == ["gru", "lstm"]
    assert r["cycles"] == [["rnnkit.layers.a", "rnnkit.layers.b"]]
    assert r["long_files"] == [("rnnkit/models/long.py", 501)]
    assert [p.split(":")[0:2] for p in r["kind_branches"]] == [
        ["rnnkit/layers/a.py", "5"], ["rnnkit/layers/a.py", "7"], ["rnnkit/layers/b.py", "5"]]
    assert check_structure.main([str(pkg)]) == 1
    out = capsys.readouterr().out
    assert "import cycles: 1" in out and "files over 500 lines: 1" in out
    assert "by string (gru, lstm): 3" in out


def test_clean_package_exits_zero(tmp_path, capsys):
    pkg = tmp_path / "rnnkit"
    _write(pkg, "__init__.py", "from rnnkit import a\n")
    _write(pkg, "a.py", "import os\n")
    assert check_structure.main([str(pkg)]) == 0
    assert "import cycles: 0" in capsys.readouterr().out



def test_rnnkit_has_no_import_cycles_no_long_files_and_no_kind_branches():
    r = check_structure.report(ROOT / "rnnkit")
    assert set(r["kinds"]) >= {"simple_rnn", "lstm", "gru", "gru_v1"}
    assert r["cycles"] == [], "\n".join(" <-> ".join(c) for c in r["cycles"])
    assert r["long_files"] == [], r["long_files"]
    assert r["kind_branches"] == [], "\n".join(r["kind_branches"])
