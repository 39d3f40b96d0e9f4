"""README "More than one device / machine": the two-process script and commands, as written."""

import os
import re
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_two_process_commands(tmp_path):
    section = README.split("## More than one device / machine", 1)[1].split("\n## ", 1)[0]
    script = re.search(r"```python\n(# two_processes.py\n.*?)```", section, re.S).group(1)
    commands = re.search(r"Two processes on one machine.*?```bash\n(.*?)```", section,
                         re.S).group(1)
    assert "127.0.0.1:12355" in commands
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "two_processes.py").write_text(script)
    # JAX_PLATFORMS: the CPU devices, also on a machine with a GPU
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(["bash", "-c", commands.replace("12355", str(port))],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = dict(re.findall(r"process (\d): loss (\[[^]]*\])", proc.stdout))
    assert sorted(losses) == ["0", "1"] and losses["0"] == losses["1"], proc.stdout
    assert sorted(os.listdir(tmp_path)) == ["two_processes.py", "two_processes.rnnkit"]
