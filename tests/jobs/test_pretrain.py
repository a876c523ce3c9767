"""`jobs/pretrain.py`: the pre-training job on real text, resume, errors."""

import os

import keras
import numpy as np
import pytest
from helpers import CORPUS
from helpers import VOCAB_FILE
from helpers import micro_run
from helpers import needs_shared
from helpers import once_per_suite
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra
from keras_electra.data import text_dataset
from keras_electra.jobs import checkpoints
from keras_electra.jobs.pretrain import PretrainingError
from keras_electra.jobs.pretrain import pretrain
from keras_electra.utils.plotting import read_log

pytestmark = needs_shared


def _prior_entropy(p):
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def _weights(folder):
    model = keras_electra.ElectraPretrainer.from_preset(folder)
    return [to_numpy(w) for w in model.weights]


def _tensorboard_steps(run):
    """Steps of the batch losses in a run's TensorBoard files, in order."""
    import tensorflow as tf

    steps = []
    for path in sorted((run / "tensorboard" / "train").glob("events.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags = [value.tag for value in event.summary.value]
            if "batch_loss" in tags:
                steps.append(int(event.step))
    return steps


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
    common = micro_run(
        micro_preset,
        corpus,
        steps=6,
        batch_size=4,
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
    # The log describes one run: the killed attempt's row for step 3 (past
    # its last checkpoint) is gone, and the clock runs on.
    assert cut_log["step"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert cut_log["seconds"] == sorted(cut_log["seconds"])
    # TensorBoard counts the run's steps, not each attempt's from zero.
    assert _tensorboard_steps(tmp_path / "cut")[-4:] == [3, 4, 5, 6]
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


def test_accumulated_runs_count_updates_and_resume_exactly(
    corpus, micro_preset, tmp_path
):
    """`gradient_accumulation_steps=2`: steps, the schedule, logs and
    checkpoints count optimizer updates, and a run cut between checkpoints
    resumes to the same weights (except on TensorFlow, whose accumulation
    is not reproducible run to run; there only the counting is checked)."""
    import json

    import keras

    from keras_electra.optimizers import ElectraLearningRateSchedule

    common = micro_run(
        micro_preset,
        corpus,
        steps=4,
        log_every=1,
        learning_rate=1e-3,
        warmup_steps=2,
        verbose=0,
        seed=5,
        gradient_accumulation_steps=2,
    )
    whole = pretrain(str(tmp_path / "whole"), **common)
    assert whole["step"] == 4
    run = json.loads((tmp_path / "whole" / "run.json").read_text())
    assert run["gradient_accumulation_steps"] == 2
    log = read_log(tmp_path / "whole" / "log.csv")
    assert log["step"] == [1.0, 2.0, 3.0, 4.0]
    # The learning rate logged after update n is the schedule's value at n:
    # warm-up and decay count updates, not micro-batches.
    schedule = ElectraLearningRateSchedule(1e-3, warmup_steps=2, decay_steps=4)
    expected = [float(schedule(n)) for n in (1, 2, 3, 4)]
    np.testing.assert_allclose(log["learning_rate"], expected, rtol=1e-6)
    model = keras_electra.ElectraPretrainer.from_preset(whole["preset"])
    assert model.num_train_steps == 4
    assert _tensorboard_steps(tmp_path / "whole") == [1, 2, 3, 4]

    cut = pretrain(str(tmp_path / "cut"), stop_after=3, **common)
    assert cut["preset"] is None
    assert sorted(os.listdir(tmp_path / "cut" / "checkpoints")) == [
        "ckpt-00000002"
    ]
    resumed = pretrain(str(tmp_path / "cut"), resume=True, **common)
    assert resumed["step"] == 4
    if keras.config.backend() == "tensorflow":
        return
    for a, b in zip(_weights(whole["preset"]), _weights(resumed["preset"])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Two micro-batches of 2 are not one batch of 2: the run really
    # accumulated (the same run without accumulation ends elsewhere).
    single = pretrain(
        str(tmp_path / "single"),
        **{**common, "gradient_accumulation_steps": 1},
    )
    gaps = [
        np.abs(a - b).max()
        for a, b in zip(_weights(whole["preset"]), _weights(single["preset"]))
    ]
    assert max(gaps) > 1e-4


@pytest.mark.parametrize(
    "dtype",
    [
        "mixed_bfloat16",
        # float16 is emulated on CPUs (3 minutes on JAX), and its loss
        # scaling is Keras' own: one backend's suite runs it.
        pytest.param("mixed_float16", marks=once_per_suite),
    ],
)
def test_mixed_precision_runs_resume_exactly(
    dtype, corpus, micro_preset, tmp_path
):
    """`dtype="mixed_*"`: both towers and their heads compute in the policy
    (weights float32); float16 adds dynamic loss scaling, whose scale is
    saved with the optimizer; a run cut between checkpoints resumes with
    the policy and ends where the uninterrupted run does."""
    import json

    import keras

    common = micro_run(
        micro_preset,
        corpus,
        steps=4,
        log_every=1,
        verbose=0,
        seed=2,
        dtype=dtype,
    )
    whole = pretrain(str(tmp_path / "whole"), **common)
    run = json.loads((tmp_path / "whole" / "run.json").read_text())
    assert run["dtype"] == dtype
    log = read_log(tmp_path / "whole" / "log.csv")
    assert all(np.isfinite(log["loss"]))
    pretrain(str(tmp_path / "cut"), stop_after=3, **common)
    # What the resumed run continues from: the policy, and for float16 the
    # loss scale, come back from the checkpoint.
    model, step, state = checkpoints.latest_checkpoint(
        str(tmp_path / "cut"), verbose=0, dtype=dtype
    )
    assert step == 2
    for tower in (model.discriminator, model.generator):
        assert tower.dtype_policy.name == dtype
        assert tower.backbone.dtype_policy.name == dtype
    assert model.backbone.token_embedding.embeddings.dtype == "float32"
    model.compile()
    is_scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert is_scaled == (dtype == "mixed_float16")
    resumed = pretrain(str(tmp_path / "cut"), resume=True, **common)
    assert resumed["step"] == 4
    # Fine-tuning loads the mixed preset in Keras' current policy.
    backbone = keras_electra.ElectraBackbone.from_preset(resumed["preset"])
    assert backbone.dtype_policy.name == "float32"
    if keras.config.backend() == "tensorflow":
        return  # oneDNN's reduced-precision kernels vary run to run
    for a, b in zip(_weights(whole["preset"]), _weights(resumed["preset"])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@once_per_suite  # run.json's records and checks: no backend in them
def test_a_run_with_the_study_options_keeps_them_on_resume(
    corpus, micro_preset, tmp_path
):
    """Uniform replacement would leave GDES' shared table untrained, so the
    options are tried in two runs: a generator half as wide with GDES and a
    temperature schedule, resumed; and uniform replacement."""
    import json

    common = micro_run(micro_preset, corpus, verbose=0)
    out = tmp_path / "gdes"
    pretrain(
        str(out),
        steps=2,
        embedding_sharing="gdes",
        generator_size=0.5,
        temperature_start=2.0,
        temperature_steps=4,
        **common,
    )
    run = json.loads((out / "run.json").read_text())
    assert run["embedding_sharing"] == "gdes" and run["generator_size"] == 0.5
    resumed = pretrain(str(out), resume=True, steps=3, **common)
    model = keras_electra.ElectraPretrainer.from_preset(resumed["preset"])
    assert model.embedding_sharing == "gdes"
    assert model.generator.backbone.hidden_dim == 16  # half of 32
    assert model.temperature_start == 2.0 and model.temperature_steps == 4
    assert int(to_numpy(model.corruption.schedule_step)) == 3
    uniform = pretrain(
        str(tmp_path / "uniform"), steps=2, replacement="uniform", **common
    )
    model = keras_electra.ElectraPretrainer.from_preset(uniform["preset"])
    assert model.replacement == "uniform"
    np.testing.assert_allclose(
        uniform["history"]["generator_loss"], np.log(30522), rtol=1e-4
    )


def test_the_masked_lm_objective_trains_saves_and_resumes(
    corpus, micro_preset, tmp_path
):
    """`objective="mlm"`: the BERT baseline on the preset's discriminator-
    sized encoder, with the run's checkpoints, log, curves and resume."""
    common = micro_run(micro_preset, corpus, verbose=0)
    out = tmp_path / "mlm"
    first = pretrain(str(out), steps=2, objective="mlm", **common)
    log = read_log(out / "log.csv")
    assert log["step"][-1] == 2.0
    assert "mlm_loss" in log and "discriminator_loss" not in log
    assert (out / "training_curves.png").exists()
    assert not (out / "replaced_tokens.png").exists()  # no replacements
    model = keras_electra.ElectraMaskedLMPretrainer.from_preset(first["preset"])
    reference = keras_electra.ElectraPretrainer.from_preset(micro_preset)
    # As wide and deep as the discriminator, not the generator.
    assert model.backbone.hidden_dim == reference.backbone.hidden_dim
    assert model.backbone.num_layers == reference.backbone.num_layers
    assert model.random_token_rate == 0.1 and model.mask_token_rate == 0.8
    assert model.learning_rate == reference.learning_rate
    resumed = pretrain(str(out), resume=True, steps=3, **common)
    assert resumed["step"] == 3
    assert isinstance(
        checkpoints.latest_checkpoint(str(out), verbose=0)[0],
        keras_electra.ElectraMaskedLMPretrainer,
    )
    backbone = keras_electra.ElectraBackbone.from_preset(resumed["preset"])
    assert backbone.hidden_dim == reference.backbone.hidden_dim
    with pytest.raises(PretrainingError, match="`replacement`.*mlm"):
        pretrain(
            str(tmp_path / "refused"),
            steps=2,
            objective="mlm",
            replacement="uniform",
            **common,
        )
    with pytest.raises(PretrainingError, match="`objective` must be one of"):
        pretrain(str(tmp_path / "refused"), objective="bert", **common)


@once_per_suite  # refused in set-up, before any backend work
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
    with pytest.raises(PretrainingError, match="0 or more. Received: -1"):
        pretrain(
            str(tmp_path / "c"), corpus=corpus, **{**common, "warmup_steps": -1}
        )
    with pytest.raises(PretrainingError, match="`batch_size` must be"):
        pretrain(
            str(tmp_path / "c"), corpus=corpus, **{**common, "batch_size": 0}
        )
    with pytest.raises(PretrainingError, match="`dtype` must be one of"):
        pretrain(
            str(tmp_path / "c"), corpus=corpus, **{**common, "dtype": "int8"}
        )
    with pytest.raises(
        PretrainingError, match="`gradient_accumulation_steps` must be"
    ):
        pretrain(
            str(tmp_path / "c"),
            corpus=corpus,
            **{**common, "gradient_accumulation_steps": 0},
        )
    # Refused starts leave nothing behind, so the corrected command runs in
    # the same folder without --overwrite.
    for name in ("a", "b", "c"):
        assert not (tmp_path / name).exists(), name
    assert pretrain(str(tmp_path / "c"), corpus=corpus, **common)["step"] == 2
    # A run folder is never silently reused.
    pretrain(str(tmp_path / "d"), corpus=corpus, **common)
    with pytest.raises(PretrainingError, match="`resume`.*`overwrite`"):
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
    with pytest.raises(
        PretrainingError, match="became NaN or infinite between steps"
    ):
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


def test_a_start_refused_after_work_began_leaves_the_folder_as_found(
    micro_preset, tmp_path
):
    # Invalid UTF-8 is found while learning the vocabulary, after the
    # folder was set up: what the run wrote goes, the folder stays.
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good text here\n" * 50 + b"\xff\xfe broken\n")
    common = dict(preset=micro_preset, sequence_length=32, verbose=0)
    out = tmp_path / "run"
    out.mkdir()
    with pytest.raises(ValueError, match="UTF-8"):
        pretrain(str(out), corpus=str(bad), steps=2, **common)
    assert list(out.iterdir()) == []
    new = tmp_path / "new"
    with pytest.raises(ValueError, match="UTF-8"):
        pretrain(str(new), corpus=str(bad), **common)
    assert not new.exists()


@once_per_suite  # the report reads the log; training is tested above
def test_the_run_says_what_it_learned_and_how_it_trained(
    corpus, micro_preset, tmp_path, capsys
):
    import json

    # A preset without a tokenizer, a vocabulary learned from the corpus:
    # more tokens asked for than a small corpus gives.
    out = tmp_path / "run"
    result = pretrain(
        str(out),
        preset=micro_preset,
        corpus=corpus,
        vocabulary_size=50_000,
        steps=3,
        batch_size=2,
        sequence_length=32,
        verbose=1,
    )
    printed = capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    learned = run["learned_vocabulary_size"]
    assert 1000 < learned < 50_000
    assert f"Learned {learned:,} tokens (asked for 50,000" in printed
    task = json.loads((out / "preset" / "task.json").read_text())["config"]
    # The preset records this run's length and warm-up, not the preset's.
    assert task["num_train_steps"] == 3
    assert task["warmup_steps"] == 0
    assert result["step"] == 3


@pytest.mark.skipif(
    keras.config.backend() == "torch",
    reason="PyTorch runs one step per call",
)
def test_several_steps_per_call_keep_the_rows_checkpoints_and_numbers(
    corpus, micro_preset, tmp_path
):
    common = micro_run(
        micro_preset,
        corpus,
        steps=8,
        log_every=4,
        checkpoint_every=4,
        keep_checkpoints=5,
        seed=5,
        verbose=0,
    )
    # Rows and checkpoints every 4 steps: the job runs 4 steps per call.
    four = pretrain(str(tmp_path / "four"), **common)
    one = pretrain(str(tmp_path / "one"), steps_per_execution=1, **common)
    assert four["step"] == one["step"] == 8
    for run in ("four", "one"):
        assert sorted(os.listdir(tmp_path / run / "checkpoints")) == [
            "ckpt-00000004",
            "ckpt-00000008",
        ]
    four_log = read_log(tmp_path / "four" / "log.csv")
    one_log = read_log(tmp_path / "one" / "log.csv")
    assert four_log["step"] == one_log["step"] == [4.0, 8.0]
    for key in ("loss", "generator_loss", "discriminator_loss"):
        np.testing.assert_allclose(four_log[key], one_log[key], rtol=1e-5)
    for a, b in zip(_weights(four["preset"]), _weights(one["preset"])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # A value that would skip past rows is refused before training.
    with pytest.raises(PretrainingError, match="does not divide"):
        pretrain(str(tmp_path / "three"), steps_per_execution=3, **common)
    # By time: a checkpoint at the first row past `checkpoint_minutes`.
    timed = dict(common, steps=4, log_every=2, checkpoint_every=1000)
    pretrain(str(tmp_path / "timed"), checkpoint_minutes=1e-9, **timed)
    assert sorted(os.listdir(tmp_path / "timed" / "checkpoints")) == [
        "ckpt-00000002",
        "ckpt-00000004",
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    keras.config.backend() != "torch", reason="torch.compile is PyTorch's"
)
def test_torch_compile_trains_to_the_eager_numbers(
    corpus, micro_preset, tmp_path
):
    # Minutes of compilation on CPU: slow, out of the default run.
    common = micro_run(micro_preset, corpus, steps=4, log_every=2, verbose=0)
    eager = pretrain(str(tmp_path / "eager"), **common)
    compiled = pretrain(
        str(tmp_path / "compiled"), torch_compile=True, **common
    )
    assert compiled["step"] == eager["step"] == 4
    eager_log = read_log(tmp_path / "eager" / "log.csv")
    compiled_log = read_log(tmp_path / "compiled" / "log.csv")
    np.testing.assert_allclose(
        compiled_log["loss"], eager_log["loss"], rtol=1e-4
    )
