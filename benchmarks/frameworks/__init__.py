"""One adapter per framework process. Each adapter module defines:

- `VARIANTS`: the table rows it produces (e.g. ["tf-keras", "tf-keras (jit_compile=True)"]);
- `setup() -> str`: imports the framework, returns its version string (raise to mark it unavailable);
- `make(variant, workload, data) -> fn`: builds the model and returns a zero-argument callable that
  runs one timed step and blocks until its result is ready. Raise `NotSupported` for "n/a".
"""


class NotSupported(Exception):
    """The framework has no equivalent of this workload (reported as "n/a", not as an error)."""


# process name -> adapter module (under benchmarks.frameworks) and the rows it produces
ADAPTERS = {
    "rnnkit": ("rnnkit_fw", ["rnnkit", "rnnkit-core"]),
    "torch": ("torch_fw", ["torch"]),
    "keras-jax": ("keras_jax_fw", ["keras-jax"]),
    "tf-keras": ("tf_keras_fw", ["tf-keras", "tf-keras (jit_compile=True)"]),
    "jax-scan": ("jax_scan_fw", ["jax-scan"]),
}
# Peers are what the ratio column compares against; rnnkit and the jax-scan floor are not peers.
PEERS = {"torch", "keras-jax", "tf-keras", "tf-keras (jit_compile=True)"}
# Top-level module whose presence means the framework is installed (checked without importing).
REQUIRES = {"rnnkit": "rnnkit", "torch": "torch", "keras-jax": "keras", "tf-keras": "tensorflow",
            "jax-scan": "jax"}
# Extra environment for the worker process.
ENV = {"keras-jax": {"KERAS_BACKEND": "jax"},
       "tf-keras": {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}}
