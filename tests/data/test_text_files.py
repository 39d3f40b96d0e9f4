"""Hardening (issue 12, defect 12): what `rnnkit train --text` reports about its files."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.data import read_text_files


def test_one_character_file_is_one_character(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("a")
    corpus = read_text_files([path])
    assert corpus.text == "a"
    assert corpus.description.endswith(", 1 character")
    assert corpus.note is None


def test_files_are_joined_with_one_newline_between_them(tmp_path):
    (tmp_path / "a.txt").write_text("ab")
    (tmp_path / "b.txt").write_text("cd\n")
    corpus = read_text_files([tmp_path / "a.txt", tmp_path / "b.txt"])
    assert corpus.text == "ab\ncd\n"
    assert corpus.description.endswith("6 characters")


def test_cli_reports_a_one_character_file_right(capsys, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("a")
    code = main(["train", "--text", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "the text has 1 character:" in err and "2 characters" not in err


@pytest.mark.parametrize("payload", [
    bytes(range(256)) * 40,                                            # every byte value
    b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(5000),       # an image
])
def test_binary_file_is_warned_about(tmp_path, payload):
    path = tmp_path / "data.bin"
    path.write_bytes(payload)
    corpus = read_text_files([path])
    assert corpus.note is not None
    assert "data.bin" in corpus.note and "binary" in corpus.note


def test_text_with_a_few_odd_bytes_is_not_warned_about(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 na\u00efve r\u00e9sum\u00e9\n".encode("latin-1") * 3
                     + b"plain ascii text\n" * 200)
    assert read_text_files([path]).note is None


def test_cli_warns_about_a_binary_file(capsys, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(np.random.default_rng(1).bytes(30000))
    main(["train", "--text", str(path), "--out", str(tmp_path / "o"), "--epochs", "1",
          "--units", "8", "--embed", "4", "--seq-len", "16", "--batch-size", "64",
          "--no-plot", "--sample-length", "0"])
    err = capsys.readouterr().err
    assert "rnnkit: note:" in err and "data.bin" in err and "binary" in err
