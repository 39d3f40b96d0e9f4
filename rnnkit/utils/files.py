"""Writing files atomically, and cleaning up what an interrupted write left behind.

`atomic_write(path, write)` calls `write(fileobj)` on a hidden temporary file next to the
target (`.<name>.<pid>.<random>.tmp`), flushes and fsyncs it, then renames it over the
target with `os.replace`: readers see the old file or the complete new one, never a partial
file. While it writes, the temporary file is locked (`flock`), and its name carries the
writer's process id.

A process killed while writing (`kill -9`, power loss) leaves its temporary file behind.
The next write of the same target deletes such leftovers: a temporary file of that target
whose lock can be taken (nobody holds it: its writer is gone) and whose writer process, when
its name has one, is no longer alive. A file another live process is writing is never
touched.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

try:  # POSIX advisory locks; without them only the process-id check guards live writers
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

TMP_SUFFIX = ".tmp"

# Test hook: called with the temporary file's path once it is created and locked.
_created_hook = None


def _umask():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def check_target(filepath, overwrite=True, default_name="model.rnnkit"):
    """`(path, directory)` for a file about to be written, with a clear error when the
    path is a directory, already exists (with overwrite=False) or its folder is missing."""
    filepath = os.fspath(filepath)
    if os.path.isdir(filepath):
        raise IsADirectoryError(
            f"Cannot save to '{filepath}': it is a directory. Give a file name, e.g. "
            f"'{os.path.join(filepath, default_name)}'.")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"Cannot save to '{filepath}': the file already exists and overwrite=False. "
            "Pass overwrite=True to replace it, or choose another file name.")
    directory = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Cannot save to '{filepath}': the directory '{directory}' does not exist. "
            "Create it first (os.makedirs(directory, exist_ok=True)).")
    return filepath, directory


def _pid_alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def _unlocked(path):
    """True when nobody holds the write lock of `path` (it is taken and released here)."""
    if fcntl is None:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # also releases the lock if it was taken
    return True


def stale_temporaries(filepath):
    """The temporary files that interrupted writes of `filepath` left behind (writer gone,
    file unlocked). Files of other targets, and ones being written now, are not listed."""
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    base = os.path.basename(filepath)
    pattern = re.compile(r"\." + re.escape(base) + r"\.(?:(\d+)\.)?[A-Za-z0-9_]+"
                         + re.escape(TMP_SUFFIX) + r"\Z")
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    out = []
    for name in names:
        m = pattern.match(name)
        if m is None:
            continue
        pid = int(m.group(1)) if m.group(1) else None
        if pid is not None and (pid == os.getpid() or _pid_alive(pid)):
            continue  # its writer still runs (this process included): leave it alone
        path = os.path.join(directory, name)
        if pid is None and fcntl is None:
            continue  # no way to know whether someone writes it
        if _unlocked(path):
            out.append(path)
    return out


def clean_stale_temporaries(filepath):
    """Deletes `stale_temporaries(filepath)`; returns the paths deleted."""
    removed = []
    for path in stale_temporaries(filepath):
        try:
            os.unlink(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def _permission_error(filepath, directory, err):
    return PermissionError(
        f"Cannot save to '{filepath}': permission denied ({err.strerror or err}). The "
        f"directory '{directory}' or the file must be writable by this user; choose "
        "another location or change the permissions.")


def atomic_write(filepath, write, overwrite=True):
    """Calls `write(fileobj)` on a temporary file next to `filepath`, fsyncs it and
    renames it to `filepath`. On any error the temporary file is removed and the existing
    file (if any) is left untouched. Leftovers of earlier interrupted writes of the same
    target are deleted first."""
    filepath, directory = check_target(filepath, overwrite)
    clean_stale_temporaries(filepath)
    base = os.path.basename(filepath)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=TMP_SUFFIX,
                                   dir=directory)
    except PermissionError as err:
        raise _permission_error(filepath, directory, err) from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pass
        if _created_hook is not None:
            _created_hook(tmp)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            try:
                os.chmod(tmp, 0o666 & ~_umask())
            except OSError:
                pass
            try:
                if overwrite:
                    os.replace(tmp, filepath)
                else:
                    _publish_exclusive(tmp, filepath)
            except PermissionError as err:
                raise _permission_error(filepath, directory, err) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_bytes(filepath, data: bytes, overwrite=True):
    """`atomic_write` of a bytes object."""
    atomic_write(filepath, lambda f: f.write(data), overwrite)


def _publish_exclusive(tmp, filepath):
    """Moves `tmp` to `filepath` only if nothing is there (atomically where hard links
    work), for overwrite=False."""
    try:
        os.link(tmp, filepath)
    except FileExistsError:
        raise FileExistsError(
            f"Cannot save to '{filepath}': the file appeared while saving and "
            "overwrite=False. Pass overwrite=True to replace it.") from None
    except PermissionError:
        raise
    except OSError:  # no hard links on this file system
        if os.path.exists(filepath):
            raise FileExistsError(
                f"Cannot save to '{filepath}': the file appeared while saving and "
                "overwrite=False. Pass overwrite=True to replace it.") from None
        os.replace(tmp, filepath)
        return
    os.unlink(tmp)


def atomic_write_text(filepath, text: str) -> Path:
    """`text` written to `filepath` as UTF-8 with `atomic_write_bytes`, creating the parent
    directories; returns the path."""
    path = Path(filepath)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(str(path), text.encode("utf-8"))
    return path
