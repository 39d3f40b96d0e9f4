"""rnnkit benchmark suite: `python3 -m benchmarks.run` (see benchmarks/README.md)."""
