"""Several processes (one per machine, or several on one machine) over `jax.distributed`.

After `initialize(...)` every process sees every device (`list_devices()`), each process
feeds its own part of every global batch, and arrays split over processes are assembled with
`jax.make_array_from_process_local_data`. On CPU the collectives between processes go
through gloo (`jax_cpu_collectives_implementation`).
"""

from __future__ import annotations

import os
import socket
import time

import jax
import numpy as np
from jax.experimental import multihost_utils

from rnnkit import random as rk_random


def initialize(job_addresses=None, num_processes=None, process_id=None, *, timeout=300):
    """Starts this process's part of a multi-process run (Keras's `initialize`).

    Call it in every process, before anything else uses JAX. Arguments left None are read
    from `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES` and
    `KERAS_DISTRIBUTION_PROCESS_ID`; `jax.distributed` detects the rest on clusters it knows
    (Slurm, Cloud TPU, ...).

    Args:
        job_addresses: "host:port" of process 0 (the coordinator), or every process's
            address joined by commas (the first one is the coordinator).
        num_processes: how many processes take part.
        process_id: this process's index, 0 .. num_processes - 1.
        timeout: seconds to wait for the coordinator to answer (rnnkit's addition). A
            coordinator that cannot be reached raises `TimeoutError` after it; the
            coordinator itself waits as long for the other processes, then JAX ends it.
    """
    env = os.environ
    if job_addresses is None:
        job_addresses = env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in env:
        num_processes = _env_int("KERAS_DISTRIBUTION_NUM_PROCESSES")
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in env:
        process_id = _env_int("KERAS_DISTRIBUTION_PROCESS_ID")
    coordinator = job_addresses
    if job_addresses and "," in job_addresses:
        addresses = [a.strip() for a in job_addresses.split(",")]
        if num_processes is not None and num_processes != len(addresses):
            raise ValueError(f"job_addresses lists {len(addresses)} processes but "
                             f"num_processes={num_processes}. Make them agree.")
        coordinator = addresses[0]
    if num_processes is not None and process_id is not None and \
            not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}); received "
                         f"{process_id}.")
    if coordinator and process_id not in (None, 0):
        _wait_for(coordinator, timeout)
    if jax.config.values.get("jax_cpu_collectives_implementation") in (None, "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id, initialization_timeout=int(timeout))
    _agree_on_seed()


def _env_int(name):
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Environment variable {name} must be an integer; it is "
                         f"{value!r}.") from None


def _wait_for(address, timeout):
    """Returns once `host:port` accepts a TCP connection; TimeoutError after `timeout` s."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"The coordinator address must be 'host:port'; received "
                         f"{address!r}, e.g. '10.0.0.1:1234'.")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    last = None
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, int(port)), timeout=max(min(left, 2.0), 0.1)):
                return
        except OSError as err:
            last = err
        if time.monotonic() + 0.2 >= deadline:
            raise TimeoutError(
                f"initialize(): the coordinator (process 0) at {address} did not answer "
                f"within {timeout} s (last error: {last}). Start process 0 first with the "
                "same address, check host and port (and firewalls), or raise timeout=.")
        time.sleep(0.2)


def _agree_on_seed():
    """Every process draws the same initial weights: process 0's seed, unless the user
    already called `rnnkit.set_random_seed` (Keras does the same in `initialize`)."""
    if jax.process_count() == 1 or rk_random._global_seed is not None:
        return
    mine = np.int32(np.random.SeedSequence().entropy % (2**31 - 1))
    seed = multihost_utils.broadcast_one_to_all(mine)
    rk_random.set_random_seed(int(seed))


def is_multi_process():
    return jax.process_count() > 1


def to_numpy(array):
    """A NumPy copy of a (global) array in every process; a value split over processes is
    gathered (a collective: every process must call it)."""
    if isinstance(array, jax.Array) and not array.is_fully_addressable \
            and not array.is_fully_replicated:
        return np.asarray(multihost_utils.process_allgather(array, tiled=True))
    return np.asarray(array)


def local_rows(array):
    """This process's rows of a batch-split array, in order, as NumPy."""
    if not isinstance(array, jax.Array) or array.is_fully_addressable:
        return np.asarray(array)
    shards = {}
    for s in array.addressable_shards:
        start = (s.index[0].start or 0) if s.index else 0
        shards.setdefault(start, s.data)
    return np.concatenate([np.asarray(shards[k]) for k in sorted(shards)], axis=0)


def sync(name):
    """Barrier across processes (no-op with one process)."""
    if is_multi_process():
        multihost_utils.sync_global_devices(name)
