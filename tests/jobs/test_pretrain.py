"""`jobs/pretrain.py`: the pre-training job on real text, resume, errors."""

import os

import numpy as np
import pytest
from helpers import CORPUS
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra
from keras_electra.data import text_dataset
from keras_electra.jobs.pretrain import PretrainingError
from keras_electra.jobs.pretrain import pretrain
from keras_electra.utils.plotting import read_log

pytestmark = needs_shared


def _prior_entropy(p):
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def _weights(folder):
    model = keras_electra.ElectraPretrainer.from_preset(folder)
    return [to_numpy(w) for w in model.weights]


def test_fit_on_real_text_learns(tmp_path):
    """A few dozen steps on real prose: losses fall, RTD beats the baseline.

    Fifty paragraphs of Jane Austen with the BERT vocabulary: early in
    training the generator still samples rare tokens that a discriminator
    learns to spot, which is ELECTRA's easy first phase.
    """
    paragraphs = (
        (CORPUS / "austen.txt").read_text(encoding="utf-8").split("\n\n")
    )
    paragraphs = [p for p in paragraphs if len(p.split()) > 30][:50]
    corpus = tmp_path / "austen50.txt"
    corpus.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=str(VOCAB_FILE))
    pretrainer = tiny_pretrainer(
        vocabulary_size=30522, **tokenizer.pretrainer_token_ids()
    )
    pretrainer.compile(learning_rate=2e-3, num_train_steps=1000, warmup_steps=0)
    data = text_dataset(
        str(corpus), tokenizer, batch_size=16, sequence_length=64
    )
    held_out = text_dataset(str(corpus), tokenizer, 16, 64, seed=99).take(4)
    before = pretrainer.evaluate(held_out, verbose=0, return_dict=True)
    history = pretrainer.fit(
        data, steps_per_epoch=15, epochs=2, verbose=0
    ).history
    after = pretrainer.evaluate(held_out, verbose=0, return_dict=True)
    assert history["loss"][-1] < history["loss"][0]
    assert after["loss"] < before["loss"]
    assert after["generator_loss"] < before["generator_loss"] - 0.5
    # Better than calling every token "original", in accuracy and in loss.
    assert (
        after["discriminator_accuracy"]
        > 1.0 - after["replaced_fraction"] + 0.005
    )
    assert after["discriminator_precision"] > 0.5
    assert after["discriminator_loss"] < _prior_entropy(
        after["replaced_fraction"]
    )


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(
    corpus, micro_preset, tmp_path
):
    common = dict(
        preset=micro_preset,
        corpus=corpus,
        vocabulary=str(VOCAB_FILE),
        steps=6,
        batch_size=4,
        sequence_length=32,
        checkpoint_every=2,
        log_every=1,
        verbose=0,
        seed=3,
    )
    whole = pretrain(str(tmp_path / "whole"), **common)
    assert whole["step"] == 6 and os.path.isdir(whole["preset"])
    # A run killed after step 3 keeps only its step-2 checkpoint ...
    cut = pretrain(str(tmp_path / "cut"), stop_after=3, **common)
    assert cut["preset"] is None
    checkpoints = sorted(os.listdir(tmp_path / "cut" / "checkpoints"))
    assert checkpoints == ["ckpt-00000002"]
    # ... and, resumed, ends exactly where the uninterrupted run did.
    resumed = pretrain(str(tmp_path / "cut"), resume=True, **common)
    assert resumed["step"] == 6
    # Same data, masks, samples and dropout at every step: the logged losses
    # of steps 3-6 and the final weights agree, on every backend (PyTorch
    # included, now that every variable is a registered torch parameter and
    # `zero_grad` clears all gradients between steps).
    whole_log = read_log(tmp_path / "whole" / "log.csv")
    cut_log = read_log(tmp_path / "cut" / "log.csv")
    assert cut_log["step"][-4:] == [3.0, 4.0, 5.0, 6.0]
    for key in ("loss", "generator_loss", "discriminator_loss"):
        np.testing.assert_allclose(
            cut_log[key][-4:], whole_log[key][-4:], rtol=1e-5
        )
    for a, b in zip(_weights(whole["preset"]), _weights(resumed["preset"])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The output folder has what a user needs.
    for name in ("log.csv", "training_curves.png", "run.json", "tensorboard"):
        assert (tmp_path / "whole" / name).exists(), name
    tokenizer = keras_electra.ElectraTokenizer.from_preset(whole["preset"])
    assert tokenizer.vocabulary_size() == 30522


def test_bad_inputs_give_clear_errors(corpus, micro_preset, tmp_path):
    common = dict(
        preset=micro_preset,
        vocabulary=str(VOCAB_FILE),
        steps=2,
        batch_size=2,
        sequence_length=32,
        verbose=0,
    )
    with pytest.raises(ValueError, match="does not exist"):
        pretrain(
            str(tmp_path / "a"), corpus=str(tmp_path / "missing.txt"), **common
        )
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        pretrain(str(tmp_path / "b"), corpus=str(empty), **common)
    with pytest.raises(
        PretrainingError, match="exceeds the preset's 64 positions"
    ):
        pretrain(
            str(tmp_path / "c"),
            corpus=corpus,
            **{**common, "sequence_length": 128},
        )
    # A run folder is never silently reused.
    pretrain(str(tmp_path / "d"), corpus=corpus, **common)
    with pytest.raises(PretrainingError, match="--resume.*--overwrite"):
        pretrain(str(tmp_path / "d"), corpus=corpus, **common)
    result = pretrain(
        str(tmp_path / "d"), corpus=corpus, overwrite=True, **common
    )
    assert result["step"] == 2
    # A trained preset with another vocabulary size.
    small_vocab = tmp_path / "vocab.txt"
    small_vocab.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
    )
    with pytest.raises(PretrainingError, match="6 tokens.*30522"):
        pretrain(
            str(tmp_path / "e"),
            corpus=corpus,
            **{
                **common,
                "preset": result["preset"],
                "vocabulary": str(small_vocab),
            },
        )


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    corpus, micro_preset, tmp_path
):
    out = tmp_path / "nan"
    with pytest.raises(PretrainingError, match="NaN at step"):
        pretrain(
            str(out),
            preset=micro_preset,
            corpus=corpus,
            vocabulary=str(VOCAB_FILE),
            steps=40,
            batch_size=4,
            sequence_length=32,
            checkpoint_every=1,
            learning_rate=1e30,
            warmup_steps=0,
            verbose=0,
        )
    for ckpt in sorted((out / "checkpoints").iterdir()):
        weights = _weights(str(ckpt / "preset"))
        assert all(np.isfinite(w).all() for w in weights), ckpt
    assert not (out / "preset").exists()
