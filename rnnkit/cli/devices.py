"""`rnnkit train --devices N`: data-parallel training over N devices (rnnkit.distribution)."""

from __future__ import annotations

import contextlib

from rnnkit.cli._common import CLIError, say


def start(n):
    """Makes N devices available; on CPU, splits it into N host devices. Runs before JAX
    starts (before any model is loaded or built)."""
    if not n:
        return
    from rnnkit import config, distribution

    try:
        if config.cpu_devices() < n:
            config.set_cpu_devices(n)
    except RuntimeError as err:
        raise CLIError(str(err)) from None
    found = distribution.list_devices()
    if len(found) < n:
        raise CLIError(f"--devices {n}: this machine has {len(found)} device(s) "
                       f"({', '.join(found)}); pass --devices {len(found)} or fewer")


def check_batch_size(n, batch_size):
    """Returns `n` (--devices) once `batch_size` splits evenly over n devices."""
    if n and batch_size % n:
        raise CLIError(f"--batch-size {batch_size} is not a multiple of --devices {n}; each "
                       f"device takes an equal part of every batch (e.g. --batch-size "
                       f"{-(-batch_size // n) * n})")
    return n


def fit(model, n, x, y, validation_data, **kwargs):
    """`model.fit(...)`, data-parallel over the first n devices when n is set."""
    vx, vy = validation_data
    x, y, vx, vy = whole_device_batches(n, x, y, vx, vy)
    with data_parallel(n):
        return model.fit(x, y, validation_data=(vx, vy), **kwargs)


def data_parallel(n):
    """A `DataParallel` scope over the first N devices (a no-op scope without --devices)."""
    if not n:
        return contextlib.nullcontext()
    from rnnkit import distribution

    names = distribution.list_devices()[:n]
    say(f"devices: data-parallel over {', '.join(names)} (each takes 1/{n} of every batch)")
    return distribution.DataParallel(devices=names).scope()


def whole_device_batches(n, x, y, vx, vy):
    """Drops the last < N samples so that every batch (the last too) splits over N devices."""
    if not n or (len(x) % n == 0 and len(vx) % n == 0):
        return x, y, vx, vy
    cut, vcut = len(x) - len(x) % n, len(vx) - len(vx) % n
    say(f"--devices {n}: using {cut} of {len(x)} training and {vcut} of {len(vx)} "
        f"validation samples (multiples of {n})")
    return x[:cut], y[:cut], vx[:vcut], vy[:vcut]
