"""Fault injection: a pre-training run killed (SIGKILL, no chance to save)
at chosen moments, inside a checkpoint write included, resumes to the very
weights of a run that was never interrupted.

The default suite kills twice, in the torch suite (the fastest to start a
process: each kill costs a process start, which CI's time cannot pay on
every backend); the loop over many kill points runs on any backend and is
marked slow: `KERAS_BACKEND=jax pytest -m slow
tests/jobs/test_fault_injection.py`."""

import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import once_per_suite
from helpers import to_numpy

import keras_electra

pytestmark = needs_shared
STEPS = 8


def _options(preset, corpus):
    return [
        "--preset",
        preset,
        "--corpus",
        corpus,
        "--vocab",
        str(VOCAB_FILE),
        "--batch-size",
        "2",
        "--sequence-length",
        "32",
        "--checkpoint-every",
        "2",
        "--log-every",
        "1",
        "--steps",
        str(STEPS),
    ]


def _start(output, preset, corpus):
    """The command line's pretrain in a process of its own."""
    argv = ["pretrain", *_options(preset, corpus), "--output", str(output)]
    if (output / "run.json").exists():
        argv.append("--resume")
    env = dict(os.environ, KERAS_BACKEND=keras.config.backend())
    return subprocess.Popen(
        [sys.executable, "-m", "keras_electra.cli", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(process, ready, timeout=300):
    """SIGKILL `process` as soon as `ready()` holds (polled every 2 ms);
    False if it ended first."""
    deadline = time.time() + timeout
    while process.poll() is None and time.time() < deadline:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait()
    return False


def _writing_a_checkpoint(output):
    def ready():
        folder = output / "checkpoints"
        return folder.is_dir() and any(
            name.startswith(".ckpt-") for name in os.listdir(folder)
        )

    return ready


def _after_checkpoint(output, step, delay):
    start = []

    def ready():
        done = (output / "checkpoints" / f"ckpt-{step:08d}").is_dir()
        if done and not start:
            start.append(time.time())
        return bool(start) and time.time() - start[0] >= delay

    return ready


def _weights(preset):
    model = keras_electra.ElectraPretrainer.from_preset(preset)
    return [to_numpy(w) for w in model.weights]


def _finish(output, preset, corpus):
    """Resume (in a process of its own) until the run is done."""
    for _ in range(3):
        process = _start(output, preset, corpus)
        _, err = process.communicate(timeout=600)
        if process.returncode == 0:
            return
    raise AssertionError(f"resume failed: {err[-2000:]}")


def _reference(tmp_path, micro_preset, corpus):
    out = tmp_path / "whole"
    process = _start(out, micro_preset, corpus)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    return _weights(str(out / "preset"))


def _assert_same(reference, preset):
    for expected, found in zip(reference, _weights(preset), strict=True):
        np.testing.assert_array_equal(found, expected)


@pytest.mark.skipif(
    keras.config.backend() != "torch",
    reason="the default kills run in the torch suite; -m slow on any",
)
def test_killed_inside_a_checkpoint_write_and_mid_step_resumes_exactly(
    micro_preset, corpus, tmp_path
):
    reference = _reference(tmp_path, micro_preset, corpus)
    out = tmp_path / "killed"
    # 1. While a checkpoint is being written (its temporary folder exists).
    first = _start(out, micro_preset, corpus)
    assert _kill_when(first, _writing_a_checkpoint(out))
    # 2. Between checkpoints, a little after the first one.
    second = _start(out, micro_preset, corpus)
    _kill_when(second, _after_checkpoint(out, 2, delay=0.3))
    _finish(out, micro_preset, corpus)
    _assert_same(reference, str(out / "preset"))
    leftovers = [n for n in os.listdir(out / "checkpoints") if ".tmp" in n]
    assert leftovers == []


@pytest.mark.slow
def test_many_kills_resume_exactly(micro_preset, corpus, tmp_path):
    reference = _reference(tmp_path, micro_preset, corpus)
    rng = random.Random(0)
    survived = 0
    for trial in range(4):
        out = tmp_path / f"trial{trial}"
        for _ in range(4):
            process = _start(out, micro_preset, corpus)
            delay = rng.uniform(0.0, 1.5)
            point = rng.choice(["write", "after"])
            ready = (
                _writing_a_checkpoint(out)
                if point == "write"
                else _after_checkpoint(out, 2, delay)
            )
            survived += _kill_when(process, ready)
        _finish(out, micro_preset, corpus)
        _assert_same(reference, str(out / "preset"))
    print(f"{survived} kills survived on {keras.config.backend()}")
    assert survived >= 8


# The folder's atomicity is the filesystem's; the writer's copy of each
# backend's state is tested on every backend in test_checkpoint_writer.py.
@once_per_suite
def test_killed_while_a_background_checkpoint_is_written_keeps_whole_ones(
    micro_preset, corpus, tmp_path
):
    # Checkpoints are written by a thread while training goes on (the
    # default) and JAX and TensorFlow run 2 steps per call (rows every 2
    # steps): a kill while the thread writes leaves only whole checkpoints,
    # and a temporary that the resumed run ignores.
    out = tmp_path / "killed"
    argv = ["pretrain", *_options(micro_preset, corpus), "--output", str(out)]
    argv[argv.index("--log-every") + 1] = "2"
    env = dict(os.environ, KERAS_BACKEND=keras.config.backend())
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_electra.cli", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = out / "checkpoints" / "ckpt-00000002"
    writing = _writing_a_checkpoint(out)
    assert _kill_when(process, lambda: first.is_dir() and writing())
    names = os.listdir(out / "checkpoints")
    whole = [name for name in names if name.startswith("ckpt-")]
    assert "ckpt-00000002" in whole
    for name in whole:
        folder = out / "checkpoints" / name
        assert (folder / "state.json").exists(), folder
        assert len(_weights(str(folder / "preset"))) > 0
    # What the kill cut short is a hidden temporary, never a checkpoint.
    assert all(n.startswith(("ckpt-", ".ckpt-")) for n in names), names
