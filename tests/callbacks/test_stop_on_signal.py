"""`StopOnSignal`: Ctrl-C and SIGTERM sent to a real `keras-electra pretrain`.

Each test starts the command line in its own process on the suite's
backend, waits until it has trained a few steps, and signals it.
"""

import os
import signal
import subprocess
import sys
import time

import keras
import pytest
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import once_per_suite

pytestmark = [
    needs_shared,
    pytest.mark.skipif(os.name != "posix", reason="POSIX signals"),
]


def _start(
    output, corpus, preset, tmp_path, resume=False, steps=100_000, log_every=1
):
    command = [
        sys.executable,
        "-m",
        "keras_electra.cli",
        "pretrain",
        "--backend",
        keras.config.backend(),
        "--output",
        str(output),
    ]
    if resume:
        command += ["--resume", "--steps", str(steps)]
    else:
        command += [
            "--preset",
            preset,
            "--corpus",
            corpus,
            "--vocab",
            str(VOCAB_FILE),
            "--steps",
            str(steps),
            "--checkpoint-every",
            "1000",
            "--log-every",
            str(log_every),
            "--batch-size",
            "4",
            "--sequence-length",
            "32",
        ]
    name = "resume" if resume else "first"
    stdout = open(tmp_path / f"{name}.out", "w")
    stderr = open(tmp_path / f"{name}.err", "w")
    # From a neutral folder: the package under test, not the checkout.
    process = subprocess.Popen(
        command, stdout=stdout, stderr=stderr, cwd=tmp_path
    )
    return process, tmp_path / f"{name}.out", tmp_path / f"{name}.err"


def _wait_for_steps(process, output, steps=3, timeout=300):
    log = output / "log.csv"
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, "the run ended before it was signalled"
        if log.exists() and len(log.read_text().splitlines()) > steps:
            return
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no {steps} steps logged within {timeout} s")


def _steps(output):
    rows = (output / "log.csv").read_text().splitlines()[1:]
    return [int(float(row.split(",")[0])) for row in rows]


@pytest.mark.parametrize(
    "sent",
    # One handler takes both: SIGTERM in one backend's suite.
    ["SIGINT", pytest.param("SIGTERM", marks=once_per_suite)],
)
def test_a_signal_saves_a_checkpoint_and_resume_continues(
    sent, corpus, micro_preset, tmp_path
):
    output = tmp_path / "run"
    process, out, err = _start(output, corpus, micro_preset, tmp_path)
    _wait_for_steps(process, output)
    process.send_signal(getattr(signal, sent))
    status = process.wait(timeout=120)
    printed, warned = out.read_text(), err.read_text()
    told = f"stdout: ...{printed[-1500:]}\nstderr: ...{warned[-1500:]}"
    assert status == {"SIGINT": 130, "SIGTERM": 143}[sent], told
    # The notice is on its own line, not glued to the progress bar.
    notice = f"\n{sent} received: finishing the steps in flight"
    assert notice in warned, told
    # Quiet by default: none of the backends' C++ start-up lines.
    for noise in ("oneDNN", "cuda", "cuInit", "absl"):
        assert noise not in warned + printed, f"{noise!r} in {told}"
    assert f"backend {keras.config.backend()} | devices:" in printed, told
    stopped = [line for line in printed.splitlines() if "Stopped at" in line]
    assert len(stopped) == 1 and sent in stopped[0], told
    step = int(stopped[0].split("step ")[1].split(" ")[0])
    # A checkpoint of exactly that step, off the 1000-step schedule.
    assert os.listdir(output / "checkpoints") == [f"ckpt-{step:08d}"], told
    assert _steps(output)[-1] == step, told
    if sent == "SIGTERM":
        return  # the same checkpoint as SIGINT's: one resume is enough
    # Resumed for two more steps, it finishes; the log is one run.
    process, out, err = _start(
        output, corpus, micro_preset, tmp_path, resume=True, steps=step + 2
    )
    assert process.wait(timeout=300) == 0, err.read_text()[-2000:]
    assert "Resuming from" in out.read_text()
    assert (output / "preset" / "task.json").exists()
    steps = _steps(output)
    assert steps == sorted(set(steps)) and steps[-1] == step + 2


@pytest.mark.skipif(
    keras.config.backend() == "torch",
    reason="PyTorch runs one step per call",
)
def test_with_several_steps_per_call_a_signal_stops_at_a_call_end(
    corpus, micro_preset, tmp_path
):
    # Rows every 4 steps: the job runs 4 steps per host call, and a signal
    # stops the run where a call ends, with a checkpoint of that step.
    output = tmp_path / "run"
    process, out, err = _start(
        output, corpus, micro_preset, tmp_path, log_every=4
    )
    _wait_for_steps(process, output, steps=2)
    process.send_signal(signal.SIGINT)
    status = process.wait(timeout=120)
    printed = out.read_text()
    told = f"stdout: ...{printed[-1500:]}\nstderr: ...{err.read_text()[-1500:]}"
    assert status == 130, told
    assert "4 steps per host call" in printed, told
    stopped = [line for line in printed.splitlines() if "Stopped at" in line]
    step = int(stopped[0].split("step ")[1].split(" ")[0])
    assert step % 4 == 0, told
    assert os.listdir(output / "checkpoints") == [f"ckpt-{step:08d}"], told
    assert _steps(output) == list(range(4, step + 1, 4)), told


def test_a_second_ctrl_c_quits_at_once(corpus, micro_preset, tmp_path):
    output = tmp_path / "run"
    process, out, err = _start(output, corpus, micro_preset, tmp_path)
    _wait_for_steps(process, output)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    warned = err.read_text()
    if "SIGINT again" not in warned:
        # Both signals were handled as one: it stopped cleanly.
        assert "Stopped at" in out.read_text()
    # Whenever the second signal came, every checkpoint on disk is whole
    # (a write cut short leaves only a hidden temporary folder).
    for folder in (output / "checkpoints").glob("ckpt-*"):
        assert (folder / "state.json").exists(), folder
