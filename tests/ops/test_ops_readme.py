"""README's `rnnkit.ops` section stays true: its example runs and prints what it says."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_custom_cell_example_runs(capsys):
    block = re.search(r"## Custom cells with `rnnkit.ops`.*?```python\n(.*?)```", README,
                      re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own documentation
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "(2, 4)"
    assert "[10,  6]" in out[1] and "[4, 3]" in out[1]


def test_numbers_quoted_in_readme_match_the_fixtures():
    import json

    from keras_ops_cases import FIXTURE_DIR

    doc = json.loads((FIXTURE_DIR / "keras_ops.json").read_text())
    text = " ".join(README.split())
    assert f"{len(doc['cases']):,} cases recorded" in text
    assert f"checks all {len(doc['names']) + 4} names" in text
