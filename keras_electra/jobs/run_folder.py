"""A run folder that belongs to its run.

- **A lock**: the process that runs a pre-training run (the chief) holds an
  OS lock on `RUN/.lock` for the run's life. The OS releases it when the
  process ends, however it ends, so a killed run never blocks its resume;
  a second process on the same folder is refused with the holder's pid and
  host.
- **A record of what the run wrote** (`RUN/.keras_electra_files`): the
  top-level files and folders the job created. `overwrite` removes only
  those, and refuses, listing them, when the folder holds anything else.
- **No partial writes left behind**: the temporary folders of checkpoint
  and preset writes that a killed process left are removed when the next
  process takes the lock.

A run folder behind a URL (`gs://bucket/run`, `ram://...`, through
`tf.io.gfile`) keeps the record and the clean-up, but its lock is
**advisory**: object stores have no OS lock and no exclusive create, so
the lock is a file checked and then written (two runs started at the
same instant can both pass the check), deleted when the run ends. A
start is refused while the file names a live process on this machine or
a process on another machine (which cannot be told from a killed run's
leftover: the message says to delete the file once that run is gone).
"""

import datetime
import errno
import json
import os
import shutil
import socket

from keras_electra.jobs.options import PretrainingError
from keras_electra.utils import file_system

LOCK_FILE = ".lock"
RECORD_FILE = ".keras_electra_files"
# What a run wrote before runs kept a record (folders of older versions).
LEGACY_ENTRIES = (
    "run.json",
    "vocab.txt",
    "log.csv",
    "tensorboard",
    "checkpoints",
    "preset",
    "training_curves.png",
    "replaced_tokens.png",
)
# Errors of a write that the user can fix: space, size limits, rights.
WRITE_ERRNOS = {
    errno.ENOSPC,
    errno.EFBIG,
    errno.EDQUOT,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
}


class RunFolder:
    """The run folder `path`: its lock, its record, its clean-up.

    Example:
    ```python
    folder = RunFolder("electra_run")
    folder.foreign_entries()  # what no run wrote: [] for a new folder
    with folder.locked():
        folder.record("run.json")
        ...
    ```
    """

    def __init__(self, path, verbose=0):
        self.path = os.fspath(path)
        self.verbose = verbose
        self._lock = None

    # === What the run wrote ===

    def recorded(self):
        """The top-level names the run recorded (an older run's standard
        names where it kept no record)."""
        record = file_system.join(self.path, RECORD_FILE)
        if file_system.isfile(record):
            with file_system.open_file(record, encoding="utf-8") as f:
                return set(json.load(f))
        if file_system.isfile(file_system.join(self.path, "run.json")):
            return set(LEGACY_ENTRIES)
        return set()

    def record(self, *names):
        """Add top-level `names` to the record (before writing them)."""
        names = set(self.recorded()) | set(names)
        file_system.makedirs(self.path, exist_ok=True)
        record = file_system.join(self.path, RECORD_FILE)
        tmp = f"{record}.tmp"
        with file_system.open_file(tmp, "w", encoding="utf-8") as f:
            json.dump(sorted(names), f, indent=1)
        file_system.replace(tmp, record)

    def foreign_entries(self):
        """Top-level names in the folder that no run recorded."""
        if not file_system.isdir(self.path):
            return []
        ours = self.recorded() | {LOCK_FILE, RECORD_FILE}
        return sorted(
            name
            for name in file_system.listdir(self.path)
            if name not in ours and not _is_partial_write(name)
        )

    def remove_recorded(self):
        """Delete what the run recorded (`overwrite`); keep the lock."""
        remote = file_system.has_scheme(self.path)
        for name in self.recorded():
            path = file_system.join(self.path, name)
            if remote:
                if file_system.isdir(path):
                    file_system.rmtree(path)
                elif file_system.exists(path):
                    file_system.remove(path)
            elif os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
        record = file_system.join(self.path, RECORD_FILE)
        if file_system.exists(record):
            file_system.remove(record)

    def remove_partial_writes(self):
        """Delete the temporaries of interrupted atomic writes (a killed
        checkpoint or preset save). Only while holding the lock: no other
        process is writing them. Behind a URL: the checkpoint folders whose
        copy did not finish (no `state.json`) too."""
        from keras_electra.jobs.checkpoints import partial_checkpoint_dirs

        removed = []
        for folder in (self.path, file_system.join(self.path, "checkpoints")):
            for path in file_system.glob(file_system.join(folder, ".*")):
                if _is_partial_write(os.path.basename(path.rstrip("/"))):
                    if file_system.isdir(path):
                        file_system.rmtree(path, ignore_errors=True)
                    else:
                        file_system.remove(path)
                    removed.append(path)
        for path in partial_checkpoint_dirs(self.path):
            file_system.rmtree(path, ignore_errors=True)
            removed.append(path)
        return removed

    # === One process per folder ===

    def acquire(self):
        """Take the folder's lock, or raise a `PretrainingError` naming the
        process that holds it. Creates the folder if needed. Behind a URL
        the lock is advisory (see the module's docstring)."""
        if file_system.has_scheme(self.path):
            return self._acquire_advisory()
        os.makedirs(self.path, exist_ok=True)
        lock_path = os.path.join(self.path, LOCK_FILE)
        self.created_lock = not os.path.exists(lock_path)
        handle = open(lock_path, "a+", encoding="utf-8")
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise PretrainingError(
                "'{output}' is in use by {holder}: one process per run "
                "folder. Wait for it to finish (or stop it; its checkpoints "
                "resume with {o.resume}), or choose another {o.output}.",
                output=self.path,
                holder=holder,
            )
        handle.seek(0)
        handle.truncate()
        handle.write(_holder_line())
        handle.flush()
        self._lock = handle

    def _acquire_advisory(self):
        """The lock of a folder behind a URL: a file that names its holder,
        checked, then written; deleted by `release`."""
        file_system.makedirs(self.path, exist_ok=True)
        lock_path = file_system.join(self.path, LOCK_FILE)
        self.created_lock = not file_system.exists(lock_path)
        if not self.created_lock:
            with file_system.open_file(lock_path, encoding="utf-8") as f:
                holder = f.read().strip()
            if _holder_may_live(holder):
                raise PretrainingError(
                    "'{output}' is in use by {holder}: one process per run "
                    "folder (an advisory lock there: '{lock}'). Wait for it "
                    "to finish or stop it; if that process is gone (killed, "
                    "its machine lost), delete '{lock}' and run again.",
                    output=self.path,
                    holder=holder or "another process",
                    lock=lock_path,
                )
        if self.verbose:
            print(
                f"Note: '{self.path}' is behind a URL: its lock is advisory (a "
                "file checked, then written), so two runs started at the same "
                "instant on it are not told apart."
            )
        with file_system.open_file(lock_path, "w", encoding="utf-8") as f:
            f.write(_holder_line())
        self._lock = lock_path

    def remove_lock_file(self):
        """Delete the lock file this process created (a refused start
        leaves the folder as it found it); the lock itself is still held
        until `release`."""
        path = file_system.join(self.path, LOCK_FILE)
        if getattr(self, "created_lock", False) and file_system.exists(path):
            file_system.remove(path)

    def release(self):
        if isinstance(self._lock, str):  # an advisory lock file
            try:
                file_system.remove(self._lock)
            except FileNotFoundError:
                pass
            self._lock = None
        if self._lock is not None:
            _unlock(self._lock)
            self._lock.close()
            self._lock = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def _holder_line():
    started = datetime.datetime.now().isoformat(timespec="seconds")
    return (
        f"process {os.getpid()} on {socket.gethostname()} (since {started})\n"
    )


def _holder_may_live(holder):
    """Whether the process a lock file names may still run: false only for
    a process of this machine that is gone."""
    words = holder.split()
    if len(words) < 4 or words[0] != "process" or words[2] != "on":
        return True
    if words[3] != socket.gethostname():
        return True
    try:
        pid = int(words[1])
    except ValueError:
        return True
    if pid == os.getpid():
        # Our own number, before we wrote the lock: a restarted container
        # (the same host name and PID 1) whose last run left the file.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, another user's
        return True
    return True


def _is_partial_write(name):
    """A temporary of `atomic_directory` or of an atomic file write."""
    return (
        name.startswith(".") and (".tmp-" in name or ".old-" in name)
    ) or name.endswith(".tmp")


def _try_lock(handle):
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): no lock taken
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock(handle):
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_failure(error, output, latest_checkpoint):
    """The one-line `PretrainingError` for a write that failed (no space,
    a size limit, rights, a read-only disk)."""
    where = error.filename or output
    try:
        if file_system.has_scheme(output):
            raise OSError("a remote store: no disk to ask")
        free = shutil.disk_usage(output if os.path.isdir(output) else ".").free
        space = f"{_size(free)} free on its disk"
    except OSError:
        space = "free space unknown"
    return PretrainingError(
        "Could not write '{where}': {reason} ({space}). The last good "
        "checkpoint is {latest}. Free space (or fix the rights), then run "
        "again with {o.output} {output} {o.resume}.",
        where=where,
        reason=error.strerror or str(error),
        space=space,
        latest=latest_checkpoint or "(none yet)",
        output=output,
    )


def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
