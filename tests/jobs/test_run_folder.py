"""`jobs/run_folder.py` and the pre-training job's folder rules: a run
folder belongs to its run (overwrite removes only what a run wrote), one
process per folder, resume that checks its settings, one line for a write
that fails, no partial writes left behind."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import keras
import pytest
from helpers import VOCAB_FILE
from helpers import micro_run
from helpers import needs_shared

from keras_electra.jobs.options import PretrainingError
from keras_electra.jobs.pretrain import pretrain
from keras_electra.jobs.run_folder import RECORD_FILE
from keras_electra.jobs.run_folder import RunFolder

# The folder rules are backend-neutral: they run in one backend's suite
# (the fastest), to keep CI's time; the kills (test_fault_injection.py) and
# the bad inputs (tests/test_bad_inputs.py) run on every backend.
pytestmark = [
    needs_shared,
    pytest.mark.skipif(
        keras.config.backend() != "torch",
        reason="backend-neutral; runs in the torch suite",
    ),
]


def _run(preset, corpus, **settings):
    return micro_run(preset, corpus, **{"steps": 2, "verbose": 0, **settings})


def _tree(root):
    """Every file under `root` with its size and modification time."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            found[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime)
    return found


def test_overwrite_removes_only_what_a_run_wrote(
    micro_preset, corpus, tmp_path
):
    user = tmp_path / "userdir"
    (user / "sub").mkdir(parents=True)
    (user / "precious.txt").write_text("mine")
    (user / "sub" / "data.csv").write_text("a,b\n")
    before = _tree(user)
    # A folder of the user's: refused with or without overwrite, untouched.
    with pytest.raises(PretrainingError, match="not empty and holds no run"):
        pretrain(str(user), **_run(micro_preset, corpus))
    with pytest.raises(PretrainingError, match="precious.txt, sub") as error:
        pretrain(str(user), overwrite=True, **_run(micro_preset, corpus))
    assert "removes only what a run wrote" in str(error.value)
    assert _tree(user) == before
    # A run's folder: overwrite replaces the run, and only the run.
    out = tmp_path / "run"
    pretrain(str(out), **_run(micro_preset, corpus))
    recorded = json.loads((out / RECORD_FILE).read_text())
    assert {"run.json", "log.csv", "checkpoints", "preset"} <= set(recorded)
    (out / "notes.txt").write_text("the user's")
    with pytest.raises(PretrainingError, match="notes.txt"):
        pretrain(str(out), overwrite=True, **_run(micro_preset, corpus))
    assert (out / "preset").is_dir() and (out / "notes.txt").exists()
    (out / "notes.txt").unlink()
    first = (out / "run.json").stat().st_mtime_ns
    result = pretrain(str(out), overwrite=True, **_run(micro_preset, corpus))
    assert result["step"] == 2
    assert (out / "run.json").stat().st_mtime_ns != first
    # A refused start (a missing corpus) with overwrite removes nothing.
    kept = _tree(out)
    with pytest.raises(ValueError, match="does not exist"):
        pretrain(
            str(out),
            overwrite=True,
            **_run(micro_preset, str(tmp_path / "missing.txt")),
        )
    assert _tree(out) == kept


def test_one_process_per_run_folder(micro_preset, corpus, tmp_path):
    out = tmp_path / "run"
    holder = RunFolder(str(out))
    holder.acquire()
    try:
        with pytest.raises(PretrainingError, match="is in use by process"):
            pretrain(str(out), **_run(micro_preset, corpus))
        assert f"process {os.getpid()} on" in (out / ".lock").read_text()
    finally:
        holder.release()
    # A holder that was killed does not block the run: the OS let go.
    code = textwrap.dedent(
        f"""
        import os, signal
        from keras_electra.jobs.run_folder import RunFolder
        RunFolder({str(out)!r}).acquire()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", code])
    assert killed.returncode == -signal.SIGKILL
    assert pretrain(str(out), **_run(micro_preset, corpus))["step"] == 2


def test_resume_refuses_changed_settings_and_applies_changeable_ones(
    micro_preset, corpus, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    pretrain(str(out), **_run(micro_preset, corpus))
    stored = json.loads((out / "run.json").read_text())
    assert os.path.isabs(stored["corpus"][0])
    assert os.path.isabs(stored["vocabulary"])
    assert stored["backend"]
    for changed, shown in (
        ({"batch_size": 4}, "`batch_size` 2 (given 4)"),
        ({"sequence_length": 16, "seed": 5}, "`seed` 0 (given 5)"),
        ({"objective": "mlm"}, "`objective` 'rtd' (given 'mlm')"),
    ):
        with pytest.raises(PretrainingError, match="other settings") as e:
            pretrain(
                str(out), resume=True, **_run(micro_preset, corpus, **changed)
            )
        assert shown in str(e.value)
        assert "`steps`" in str(e.value)  # what may change
    # The run's length and logging may change, and are said.
    capsys.readouterr()
    result = pretrain(
        str(out),
        resume=True,
        **{**_run(micro_preset, corpus, steps=4, log_every=1), "verbose": 1},
    )
    assert result["step"] == 4
    assert "Resuming with changed settings: steps 2 -> 4" in (
        capsys.readouterr().out
    )
    # The stored paths are absolute: a resume from elsewhere finds them.
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert pretrain(str(out), resume=True, steps=6, verbose=0)["step"] == 6


def test_partial_writes_of_a_killed_save_are_removed(
    micro_preset, corpus, tmp_path
):
    out = tmp_path / "run"
    pretrain(str(out), **_run(micro_preset, corpus))
    leftovers = [
        out / "checkpoints" / ".ckpt-00000004.tmp-abc123",
        out / ".preset.tmp-def456",
        out / "run.json.tmp",
    ]
    for path in leftovers[:2]:
        path.mkdir()
        (path / "model.weights.h5").write_bytes(b"half")
    leftovers[2].write_text("{")
    pretrain(str(out), resume=True, steps=4, verbose=0)
    assert not any(path.exists() for path in leftovers)


def test_a_write_that_fails_ends_with_one_line(micro_preset, corpus, tmp_path):
    """A file-size limit stands in for a full disk: the run stops with one
    line naming the file, the free space, the last checkpoint and how to
    resume; no temporary is left."""
    out = tmp_path / "run"
    # 3 MB: room for the log and the vocabulary, not for a checkpoint.
    code = textwrap.dedent(
        f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))
        from keras_electra import cli
        sys.exit(cli.main([
            "pretrain", "--preset", {micro_preset!r},
            "--corpus", {corpus!r}, "--vocab", {str(VOCAB_FILE)!r},
            "--batch-size", "2", "--sequence-length", "32",
            "--checkpoint-every", "2", "--steps", "2",
            "--output", {str(out)!r},
        ]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr[-2000:]
    err = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    line = err[-1]
    assert "Could not write" in line and "File too large" in line, line
    assert "free on its disk" in line and "--resume" in line, line
    leftovers = [
        name
        for folder in (out, out / "checkpoints")
        if folder.is_dir()
        for name in os.listdir(folder)
        if ".tmp" in name
    ]
    assert leftovers == []
