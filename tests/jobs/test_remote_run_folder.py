"""Run folders behind a URL: the jobs end to end on TensorFlow's in-memory
`ram://` filesystem (standing for `gs://`), and `file_system`'s folder
operations between local and remote places."""

import json
import os
import socket
import uuid

import keras
import numpy as np
import pytest
from helpers import SMALL_IDS
from helpers import once_per_suite

import keras_electra
from keras_electra.jobs import checkpoints
from keras_electra.jobs.finetune import finetune
from keras_electra.jobs.options import PretrainingError
from keras_electra.jobs.predict import predict_file
from keras_electra.jobs.pretrain import pretrain
from keras_electra.jobs.run_folder import LOCK_FILE
from keras_electra.jobs.run_folder import RunFolder
from keras_electra.utils import file_system
from keras_electra.utils import preset_utils
from keras_electra.utils.plotting import read_log

WORDS = (
    "the dog runs over the lazy cat . a good film was made by jane . "
    "who wrote it ? austen did . the quick brown fox jumps ."
).split()


def _root():
    """A fresh `ram://` folder (the filesystem lives as long as the
    process: each test takes its own)."""
    return f"ram://keras_electra_tests/{uuid.uuid4().hex}"


def _write(path, text):
    with file_system.open_file(path, "w", encoding="utf-8") as f:
        f.write(text)


def _read(path):
    with file_system.open_file(path, encoding="utf-8") as f:
        return f.read()


def _corpus(path, lines=120):
    rng = np.random.default_rng(0)
    text = "".join(
        " ".join(rng.choice(WORDS, size=12)) + "\n" for _ in range(lines)
    )
    _write(path, text)
    return path


def _remote_preset(root):
    """A weightless preset (as the built-ins) of a very small ELECTRA,
    stored under `root`."""
    pretrainer = keras_electra.ElectraPretrainer.from_towers_config(
        vocabulary_size=120,
        discriminator_config=dict(
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            embedding_dim=8,
            max_sequence_length=16,
            dropout=0.1,
        ),
        generator_config=dict(
            num_layers=1, num_heads=1, hidden_dim=8, intermediate_dim=16
        ),
        seed=7,
        **SMALL_IDS,
    )
    folder = file_system.join(root, "micro")
    _write(
        file_system.join(folder, "task.json"),
        preset_utils.serialize_to_json(pretrainer),
    )
    _write(
        file_system.join(folder, "config.json"),
        preset_utils.serialize_to_json(pretrainer.backbone),
    )
    return folder


def _weights(preset):
    """The arrays of a preset's weight files (read from its local copy,
    without building the model)."""
    import h5py

    folder = preset_utils.resolve_preset(preset)
    arrays = []
    for name in (preset_utils.MODEL_WEIGHTS_FILE, "task.weights.h5"):
        with h5py.File(os.path.join(folder, name), "r") as f:
            f.visititems(
                lambda key, item: (
                    arrays.append((name, key, item[()]))
                    if isinstance(item, h5py.Dataset)
                    else None
                )
            )
    return arrays


def test_pretrain_resume_preset_and_finetune_on_ram():
    root = _root()
    common = dict(
        preset=_remote_preset(root),
        corpus=[_corpus(file_system.join(root, "corpus.txt"))],
        vocabulary_size=120,
        batch_size=2,
        sequence_length=16,
        checkpoint_every=2,
        background_checkpoints=False,
        steps=4,
        log_every=1,
        verbose=0,
        seed=3,
    )
    whole_run = file_system.join(root, "whole")
    whole = pretrain(whole_run, **common)
    assert whole["preset"] == file_system.join(whole_run, "preset")
    # A run stopped after step 3 keeps its step-2 checkpoint, whole ...
    cut_run = file_system.join(root, "cut")
    cut = pretrain(cut_run, stop_after=3, **common)
    assert cut["preset"] is None
    saved = checkpoints.checkpoint_dirs(cut_run)
    assert [p.rsplit("/", 1)[-1] for p in saved] == ["ckpt-00000002"]
    assert file_system.isfile(file_system.join(saved[0], "state.json"))
    # ... and the lock is gone with the process that held it.
    assert not file_system.exists(file_system.join(cut_run, LOCK_FILE))
    # Resumed, it ends where the uninterrupted run did.
    resumed = pretrain(cut_run, resume=True, **common)
    assert resumed["step"] == 4
    whole_log = read_log(file_system.join(whole_run, "log.csv"))
    cut_log = read_log(file_system.join(cut_run, "log.csv"))
    assert cut_log["step"] == [1.0, 2.0, 3.0, 4.0]
    for key in ("loss", "generator_loss", "discriminator_loss"):
        np.testing.assert_allclose(
            cut_log[key][-2:], whole_log[key][-2:], rtol=1e-5
        )
    whole_weights = _weights(whole["preset"])
    resumed_weights = _weights(resumed["preset"])
    assert len(whole_weights) == len(resumed_weights) > 10
    for (_, a_key, a), (_, b_key, b) in zip(whole_weights, resumed_weights):
        assert a_key == b_key
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The run folder holds what a local one does, written through gfile.
    names = set(file_system.listdir(whole_run))
    for name in (
        "run.json",
        "vocab.txt",
        "log.csv",
        "log_columns.md",
        "tensorboard",
        "training_curves.png",
        "replaced_tokens.png",
        "preset",
    ):
        assert name in names, name
    with file_system.open_file(
        file_system.join(whole_run, "training_curves.png"), "rb"
    ) as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    events = file_system.join(whole_run, "tensorboard", "train", "events.*")
    assert file_system.glob(events)
    stored = json.loads(_read(file_system.join(whole_run, "run.json")))
    assert stored["vocabulary"] == file_system.join(whole_run, "vocab.txt")
    assert stored["backend"] == keras.config.backend()
    # The preset saved under ram:// loads from there ...
    backbone = keras_electra.ElectraBackbone.from_preset(whole["preset"])
    tokenizer = keras_electra.ElectraTokenizer.from_preset(whole["preset"])
    assert backbone.vocabulary_size == tokenizer.vocabulary_size()
    # ... and fine-tunes from task files there, writing the model under
    # ram:// too.
    train = file_system.join(root, "train.csv")
    rows = ["sentence,label"] + [
        f"{'good film' if i % 2 else 'lazy cat'} the dog,{i % 2}"
        for i in range(8)
    ]
    with file_system.open_file(train, "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    output = file_system.join(root, "classify")
    result = finetune(
        "classify",
        whole["preset"],
        train,
        train,
        epochs=1,
        batch_size=4,
        sequence_length=16,
        output=output,
        verbose=0,
    )
    assert "accuracy" in result
    metrics = json.loads(_read(file_system.join(output, "metrics.json")))
    assert metrics["accuracy"] == result["accuracy"]
    assert file_system.getsize(file_system.join(output, "confusion_matrix.png"))
    classifier = keras_electra.ElectraTextClassifier.from_preset(
        file_system.join(output, "model")
    )
    assert classifier.num_classes == 2
    # `predict` reads the model and the file there and writes beside them.
    predictions = file_system.join(root, "predictions.csv")
    predicted = predict_file(output, train, predictions)
    assert predicted["accuracy"] == pytest.approx(result["accuracy"])
    written = _read(predictions).splitlines()
    assert len(written) == len(rows)
    assert written[0].startswith("sentence,")


@once_per_suite
def test_copytree_between_local_and_ram_puts_the_named_files_last(tmp_path):
    source = tmp_path / "source"
    (source / "assets").mkdir(parents=True)
    (source / "assets" / "vocab.txt").write_text("a\nb\n")
    (source / "state.json").write_text("{}")
    (source / "weights.bin").write_bytes(b"\x00\x01")
    root = _root()
    copied = []
    real_copy = file_system.copy

    def copy(a, b):
        copied.append(os.path.relpath(a, source))
        real_copy(a, b)

    file_system.copy, saved = copy, file_system.copy
    try:
        file_system.copytree(source, root + "/up", last=["state.json"])
    finally:
        file_system.copy = saved
    assert copied[-1] == "state.json" and len(copied) == 3
    assert _read(root + "/up/assets/vocab.txt") == "a\nb\n"
    # And back down, then away.
    file_system.copytree(root + "/up", tmp_path / "down")
    assert (tmp_path / "down" / "weights.bin").read_bytes() == b"\x00\x01"
    file_system.rmtree(root + "/up")
    assert not file_system.exists(root + "/up/state.json")
    file_system.rmtree(root + "/up", ignore_errors=True)  # gone: no error
    with pytest.raises(FileNotFoundError):
        file_system.rmtree(root + "/never")


@once_per_suite
def test_remote_preset_copies_follow_the_folder(tmp_path):
    """A preset behind a URL loads from a local copy that is made again
    when the folder changes (no stale cache)."""
    root = _root()
    folder = file_system.join(root, "p")
    with pytest.raises(ValueError, match="has no config.json"):
        preset_utils.resolve_preset(folder)
    _write(file_system.join(folder, "config.json"), '{"a": 1}')
    first = preset_utils.resolve_preset(folder)
    assert not file_system.has_scheme(first)
    with open(os.path.join(first, "config.json")) as f:
        assert json.load(f) == {"a": 1}
    _write(file_system.join(folder, "config.json"), '{"a": 2}')
    assert preset_utils.load_json(folder, "config.json") == {"a": 2}
    second = preset_utils.resolve_preset(folder)
    with open(os.path.join(second, "config.json")) as f:
        assert json.load(f) == {"a": 2}
    assert preset_utils.preset_has_file(folder, "config.json")
    assert not preset_utils.preset_has_file(folder, "task.json")


@once_per_suite
def test_remote_atomic_directory_writes_its_marker_last_and_replaces():
    root = _root()
    path = file_system.join(root, "ckpt")
    with preset_utils.atomic_directory(path, last=["state.json"]) as tmp:
        assert not file_system.has_scheme(tmp)
        with open(os.path.join(tmp, "state.json"), "w") as f:
            f.write("1")
        with open(os.path.join(tmp, "old.txt"), "w") as f:
            f.write("old")
    assert _read(file_system.join(path, "state.json")) == "1"
    with preset_utils.atomic_directory(path, last=["state.json"]) as tmp:
        with open(os.path.join(tmp, "state.json"), "w") as f:
            f.write("2")
    assert sorted(file_system.listdir(path)) == ["state.json"]
    assert not os.path.exists(tmp)
    # A failed write leaves the previous folder as it was.
    with pytest.raises(RuntimeError):
        with preset_utils.atomic_directory(path) as tmp:
            raise RuntimeError("killed")
    assert _read(file_system.join(path, "state.json")) == "2"


@once_per_suite
def test_remote_checkpoints_count_only_with_their_state_file():
    root = _root()
    whole = file_system.join(root, "checkpoints", "ckpt-00000002")
    partial = file_system.join(root, "checkpoints", "ckpt-00000004")
    file_system.makedirs(whole)
    file_system.makedirs(partial)  # a copy killed before its state.json
    _write(file_system.join(whole, "state.json"), '{"step": 2}')
    _write(file_system.join(partial, "training_state.npz"), "")
    assert checkpoints.checkpoint_dirs(root) == [whole]
    folder = RunFolder(root)
    assert partial in folder.remove_partial_writes()
    assert not file_system.exists(
        file_system.join(partial, "training_state.npz")
    )
    assert checkpoints.checkpoint_dirs(root) == [whole]


@once_per_suite
def test_the_remote_lock_is_advisory_and_names_its_holder(capsys):
    root = _root()
    folder = RunFolder(root, verbose=1)
    folder.acquire()
    assert "advisory" in capsys.readouterr().out
    lock = file_system.join(root, LOCK_FILE)
    assert f"process {os.getpid()}" in _read(lock)
    folder.record("run.json")
    assert folder.recorded() == {"run.json"}
    folder.release()
    assert not file_system.exists(lock)
    # A lock left by a process of another machine refuses the start, with
    # the fix; one of a process of this machine that is gone does not.
    _write(lock, "process 1 on another-host (since 2020-01-01T00:00:00)\n")
    with pytest.raises(PretrainingError, match="delete '.*' and run again"):
        RunFolder(root).acquire()
    import socket
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    )
    pid = int(gone.stdout)
    _write(lock, f"process {pid} on {socket.gethostname()} (since x)\n")
    taken = RunFolder(root)
    taken.acquire()
    assert f"process {os.getpid()}" in _read(lock)
    taken.release()


@once_per_suite
def test_a_lock_naming_this_very_process_is_stale():
    # A restarted container keeps its host name and is PID 1 again: the
    # lock its last run left names "this" process, which cannot hold it.
    from keras_electra.jobs import run_folder

    assert not run_folder._holder_may_live(run_folder._holder_line())
    parent = f"process {os.getppid()} on {socket.gethostname()}"
    assert run_folder._holder_may_live(parent)  # alive
    assert run_folder._holder_may_live("process 1 on another-host")
