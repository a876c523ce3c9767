"""Files on local disk or behind a URL, through one small set of functions.

The data functions read and write corpora, vocabularies, shards and their
records through these functions, so each of them takes either:

- a local path (a string or `os.PathLike` without a `scheme://` in front):
  handled by Python's own `open`, `os` and `glob`, exactly as if they were
  called directly (same bytes, same errors, same speed; TensorFlow is not
  imported);
- a URL with a scheme (`gs://bucket/corpus`, `hdfs://...`, `ram://...`,
  and `s3://...` or others once a plugin such as `tensorflow-io` has
  registered them): handled by TensorFlow's filesystem layer,
  `tf.io.gfile`, imported the first time such a path is met. TensorFlow's
  errors are raised as the `OSError` Python would raise (a missing file is
  a `FileNotFoundError`), so code written for local files handles both.

Guarantees that a remote store does not give are weaker there, and the
functions say so: `replace` is atomic on a local disk (and on HDFS), but
on Google Cloud Storage and S3 it is a copy followed by a delete. Object
stores have no real folders: a folder "exists" when some object's name
starts with it (or `makedirs` wrote a marker).

`ram://` is TensorFlow's in-memory filesystem, private to one process (a
worker process does not see it), and it answers for prefixes as if they
were folders (`isdir("ram://a/b")` is true when `ram://a/bc.txt` exists):
it is meant for tests.

Example:
```python
from keras_electra.utils import file_system

file_system.makedirs("ram://corpus")
with file_system.open_file("ram://corpus/a.txt", "w", "utf-8") as f:
    f.write("one line\\n")
file_system.listdir("ram://corpus")  # ['a.txt']
file_system.getsize("ram://corpus/a.txt")  # 9
```
"""

import contextlib
import glob as _glob
import io
import os
import posixpath
import re
import shutil

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# The reads and writes of a remote file, in bytes.
BUFFER_BYTES = 1 << 18


def has_scheme(path):
    """Whether `path` is a URL (`scheme://...`) read through `tf.io.gfile`
    rather than a local path."""
    path = os.fspath(path)
    return isinstance(path, str) and _SCHEME.match(path) is not None


def is_in_memory(path):
    """Whether `path` is on TensorFlow's `ram://` filesystem, which only the
    process that wrote it sees."""
    path = os.fspath(path)
    return isinstance(path, str) and path.startswith("ram://")


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


@contextlib.contextmanager
def _translated(path):
    """TensorFlow's errors about `path` as the `OSError` Python raises."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.NotFoundError:
        raise FileNotFoundError(
            f"No such file or directory: '{path}'"
        ) from None
    except tf.errors.AlreadyExistsError:
        raise FileExistsError(f"File exists: '{path}'") from None
    except tf.errors.PermissionDeniedError as e:
        raise PermissionError(f"'{path}': {e.message}") from None
    except tf.errors.OpError as e:
        raise OSError(f"'{path}': {e.message}") from None


class _RemoteFile(io.RawIOBase):
    """A `tf.io.gfile.GFile` opened in binary mode as a raw Python stream
    (buffered and decoded by `io`, as Python's own files are)."""

    def __init__(self, path, mode):
        super().__init__()
        self.name = path
        self._mode = mode
        self._file = None
        with _translated(path):
            self._file = _gfile().GFile(path, mode)

    def readable(self):
        return self._mode == "rb"

    def writable(self):
        return self._mode != "rb"

    def seekable(self):
        return self._mode == "rb"

    def readinto(self, buffer):
        with _translated(self.name):
            data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data):
        with _translated(self.name):
            self._file.write(bytes(data))
        return len(data)

    def seek(self, offset, whence=io.SEEK_SET):
        with _translated(self.name):
            self._file.seek(offset, whence)
            return self._file.tell()

    def tell(self):
        with _translated(self.name):
            return self._file.tell()

    def flush(self):
        # (`_file` is None when opening failed: `__del__` still flushes.)
        if self._file is not None and not self.closed and self.writable():
            with _translated(self.name):
                self._file.flush()

    def close(self):
        if self.closed:
            return
        try:
            super().close()  # flushes
        finally:
            if self._file is not None:
                with _translated(self.name):
                    self._file.close()


def open_file(path, mode="r", encoding=None, newline=None):
    """Open a file for reading or writing, as Python's `open` does.

    Args:
        path: a local path or a URL (`gs://...`).
        mode: `"r"`, `"w"` or `"a"`, with `"b"` for bytes (else text).
        encoding: the text encoding (text mode; `None`: the locale's, as
            Python's `open`).
        newline: how lines end (text mode), as Python's `open` (`""` for
            the `csv` module).

    A remote file opened for writing appears only when it is closed (at
    the end of the `with` block), and whole: object stores upload it then.

    Example:
    ```python
    from keras_electra.utils.file_system import open_file

    with open_file("ram://notes.txt", "w", encoding="utf-8") as f:
        f.write("first\\nsecond\\n")
    with open_file("ram://notes.txt", "rb") as f:
        f.seek(6)
        f.readline()  # b'second\\n'
    ```
    """
    path = os.fspath(path)
    if not has_scheme(path):
        return open(path, mode, encoding=encoding, newline=newline)
    kind = mode.replace("b", "").replace("t", "")
    if kind not in ("r", "w", "a") or ("b" in mode and "t" in mode):
        raise ValueError(
            f"Mode {mode!r} is not supported for '{path}': use 'r', 'w' or "
            "'a', with 'b' for bytes."
        )
    if kind == "r":
        with _translated(path):
            if _gfile().stat(path).is_directory:
                raise IsADirectoryError(f"Is a directory: '{path}'")
    if kind == "w" and is_in_memory(path) and exists(path):
        # `ram://` appends to a file opened for writing rather than
        # replacing it (TensorFlow's in-memory filesystem): start anew.
        remove(path)
    raw = _RemoteFile(path, kind + "b")
    if kind == "r":
        stream = io.BufferedReader(raw, BUFFER_BYTES)
    else:
        stream = io.BufferedWriter(raw, BUFFER_BYTES)
    if "b" in mode:
        return stream
    return io.TextIOWrapper(stream, encoding=encoding, newline=newline)


def exists(path):
    """Whether a file or folder is at `path`."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.path.exists(path)
    with _translated(path):
        return _gfile().exists(path)


def isdir(path):
    """Whether `path` is a folder (on an object store: a prefix of some
    object's name, or a folder `makedirs` made)."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.path.isdir(path)
    with _translated(path):
        return _gfile().isdir(path)


def isfile(path):
    """Whether `path` is a file."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.path.isfile(path)
    try:
        with _translated(path):
            return not _gfile().stat(path).is_directory
    except FileNotFoundError:
        return False


def getsize(path):
    """The size of a file, in bytes."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.path.getsize(path)
    with _translated(path):
        return int(_gfile().stat(path).length)


def getmtime(path):
    """When a file was last written, in seconds since the epoch (0 where
    the filesystem does not say, as `ram://`)."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.path.getmtime(path)
    with _translated(path):
        return _gfile().stat(path).mtime_nsec / 1e9


def listdir(path):
    """The names in a folder (in no particular order)."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.listdir(path)
    with _translated(path):
        return [name.rstrip("/") for name in _gfile().listdir(path)]


def walk(top):
    """Yield `(folder, subfolder names, file names)` for `top` and every
    folder below it, as `os.walk` does."""
    top = os.fspath(top)
    if not has_scheme(top):
        yield from os.walk(top)
        return
    with _translated(top):
        entries = list(_gfile().walk(top))
    for folder, names, files in entries:
        yield folder, [name.rstrip("/") for name in names], files


def glob(pattern):
    """The paths matching a pattern (`*`, `?`, `[...]`), as `glob.glob`
    does; a remote pattern matches no name that begins with a dot unless
    its last part does (as a local one)."""
    pattern = os.fspath(pattern)
    if not has_scheme(pattern):
        return _glob.glob(pattern)
    try:
        with _translated(pattern):
            matches = _gfile().glob(pattern)
    except FileNotFoundError:
        return []
    if posixpath.basename(pattern).startswith("."):
        return matches
    return [p for p in matches if not posixpath.basename(p).startswith(".")]


def makedirs(path, exist_ok=True):
    """Create a folder and the folders above it (on an object store: a
    marker object)."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.makedirs(path, exist_ok=exist_ok)
    if not exist_ok and exists(path):
        raise FileExistsError(f"File exists: '{path}'")
    with _translated(path):
        _gfile().makedirs(path)


def remove(path):
    """Delete a file."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.remove(path)
    with _translated(path):
        _gfile().remove(path)


def replace(source, destination):
    """Move a file over `destination` (replacing it), as `os.replace`.

    Atomic on a local disk (within one filesystem) and on HDFS: a reader
    sees the old file or the new one. On Google Cloud Storage and S3,
    `tf.io.gfile.rename` copies the object and then deletes the source: the
    destination still appears whole (an object is written at once), but a
    process killed in between leaves both, and a large file takes the time
    of a copy.
    """
    source, destination = os.fspath(source), os.fspath(destination)
    if not (has_scheme(source) or has_scheme(destination)):
        return os.replace(source, destination)
    with _translated(source):
        _gfile().rename(source, destination, overwrite=True)


def join(path, *paths):
    """`os.path.join` for local paths; URLs are joined with `/`."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.path.join(path, *paths)
    return posixpath.join(path, *map(os.fspath, paths))


def abspath(path):
    """A local path made absolute; a URL as it is."""
    path = os.fspath(path)
    if not has_scheme(path):
        return os.path.abspath(path)
    return path


def rmtree(path, ignore_errors=False):
    """Delete a folder and everything in it, as `shutil.rmtree`.

    On an object store this deletes object after object: a process killed
    meanwhile leaves part of the folder.
    """
    path = os.fspath(path)
    if not has_scheme(path):
        return shutil.rmtree(path, ignore_errors=ignore_errors)
    try:
        with _translated(path):
            _gfile().rmtree(path)
    except OSError:
        if not ignore_errors:
            raise


def copy(source, destination):
    """Copy a file (over `destination`) between any two places, local or
    remote, as `shutil.copyfile`."""
    source, destination = os.fspath(source), os.fspath(destination)
    if not (has_scheme(source) or has_scheme(destination)):
        return shutil.copyfile(source, destination)
    with _translated(source):
        _gfile().copy(source, destination, overwrite=True)


def copytree(source, destination, last=()):
    """Copy the files of folder `source` into folder `destination` (made
    if needed; files already there are replaced), between any two places,
    local or remote.

    Args:
        source: the folder to copy.
        destination: where its files go (same names below it).
        last: names relative to `source` (`"state.json"`) copied after
            every other file: whoever sees them sees the whole copy. A
            copy to an object store is not atomic (each file appears on
            its own); writing a marker file last is how a reader tells a
            finished copy from a partial one.

    Example:
    ```python
    from keras_electra.utils import file_system

    file_system.makedirs("ram://a")
    with file_system.open_file("ram://a/x.txt", "w") as f:
        f.write("x")
    file_system.copytree("ram://a", "ram://b")
    file_system.listdir("ram://b")  # ['x.txt']
    ```
    """
    source, destination = os.fspath(source), os.fspath(destination)
    last = {os.path.normpath(name) for name in last}
    files, delayed = [], []
    for folder, _, names in walk(source):
        relative = os.path.relpath(folder, source)
        if has_scheme(source):
            relative = posixpath.relpath(folder, source)
        for name in sorted(names):
            name = os.path.normpath(os.path.join(relative, name))
            (delayed if name in last else files).append(name)
    for name in files + sorted(delayed):
        parts = name.split(os.sep)
        target = join(destination, *parts)
        makedirs(join(destination, *parts[:-1]))
        copy(join(source, *parts), target)
