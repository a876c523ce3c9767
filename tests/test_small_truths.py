"""Small untruths a new user found (issue 28): each command says what is so.

`vocab` says why it learned fewer tokens than asked, `info` counts the
parameters `pretrain` counts and shows only the training a preset records,
`build-data`'s workers start quietly, fine-tuned models train, predict and
reload without spurious warnings, and released presets are answered from
the table, checked locally first and, offline, refused in one line.
"""

import json
import logging
import os
import shutil
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import TINY_BACKBONE_ARGS
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import once_per_suite
from helpers import run_without_backend
from helpers import tiny_pretrainer

import keras_electra
from keras_electra import cli
from keras_electra.utils import parameter_counts
from keras_electra.utils import preset_utils
from keras_electra.utils.preset_info import PresetInfo

RELEASED = "electra_small_uncased_en"
TEXT = "The whale swam north.\nIt was a long way.\n\nA new day came.\n"


def _main(capsys, argv):
    """`keras-electra ARGV`: its status, standard output and error lines."""
    capsys.readouterr()
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err.strip().splitlines()


# === vocab: why fewer tokens than asked ===


@once_per_suite  # learns a WordPiece vocabulary twice
def test_vocab_says_why_it_learned_fewer_tokens_as_pretrain_does(
    tmp_path, capsys, micro_preset
):
    from keras_electra.jobs import pretrain_setup
    from keras_electra.jobs.options import PretrainConfig

    corpus = tmp_path / "small.txt"
    corpus.write_text(TEXT * 20, encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    status, out, _ = _main(
        capsys,
        ["vocab", "--corpus", str(corpus), "--size", "4000"]
        + ["--output", str(vocab)],
    )
    assert status == 0
    learned = len(vocab.read_text(encoding="utf-8").splitlines())
    assert learned < 4000
    line = out.strip().splitlines()[-1]
    assert line.startswith(f"Learned {learned:,} tokens (asked for 4,000: ")
    assert "at least 10 times" in line and "more text gives more" in line

    # `pretrain`, learning its vocabulary from the same corpus, says the
    # same thing in the same words.
    config = PretrainConfig.from_overrides(
        preset=micro_preset,
        corpus=[str(corpus)],
        output=str(tmp_path / "run"),
        vocabulary_size=4000,
    )
    pretrain_setup._tokenizer(config, verbose=1)
    said = capsys.readouterr().out.strip().splitlines()[-1]
    assert said.split(";")[0] == line.split(";")[0]


# === info: the parameters pretrain counts, each part named ===


def _info_of(*models):
    """A `PresetInfo` of a model's configs (the backbone's, and the task's
    when a second model is given), as a saved preset would hold them."""
    backbone, task = models[0], models[-1] if len(models) > 1 else None
    return PresetInfo(
        path="in-memory",
        backbone=json.loads(preset_utils.serialize_to_json(backbone)),
        task=(
            None
            if task is None
            else json.loads(preset_utils.serialize_to_json(task))
        ),
    )


@once_per_suite  # counts from configs; model builds
@pytest.mark.parametrize("sharing", ["tied", "untied", "gdes"])
def test_parameter_counts_are_keras_counts(sharing):
    pretrainer = tiny_pretrainer(embedding_sharing=sharing)
    info = _info_of(pretrainer.backbone, pretrainer)
    discriminator, generator = parameter_counts.pretrainer_towers(
        info.backbone_config, info.generator_backbone_config, sharing
    )
    assert discriminator.total == pretrainer.discriminator.count_params()
    assert discriminator.backbone == pretrainer.backbone.count_params()
    assert generator.total == pretrainer.generator.count_params()
    assert generator.backbone == pretrainer.generator.backbone.count_params()
    # Tied, the shared block is counted in both towers, once in the whole.
    distinct = discriminator.total + generator.total - generator.shared
    assert distinct == pretrainer.count_params()
    assert (generator.shared > 0) == (sharing == "tied")
    lines = parameter_counts.describe_preset(info)
    assert f"Both towers: {distinct:,} distinct parameters" in lines


@once_per_suite
def test_parameter_counts_of_single_models():
    from keras_electra.models.electra_masked_lm_pretrainer import (
        ElectraMaskedLMPretrainer,
    )

    # Embeddings as wide as the hidden layer (no projection).
    args = dict(TINY_BACKBONE_ARGS, embedding_dim=None)
    wide = keras_electra.ElectraBackbone(**args)
    discriminator = keras_electra.ElectraDiscriminator(wide)
    (line,) = parameter_counts.describe_preset(_info_of(wide, discriminator))
    assert f"Discriminator: {discriminator.count_params():,} parameters" in line
    # Narrower embeddings, projected.
    backbone = keras_electra.ElectraBackbone(**TINY_BACKBONE_ARGS)
    mlm = ElectraMaskedLMPretrainer(
        backbone, pad_token_id=0, cls_token_id=2, sep_token_id=3
    )
    (line,) = parameter_counts.describe_preset(_info_of(backbone, mlm))
    head = mlm.count_params() - backbone.count_params()
    assert line == (
        f"Masked-LM encoder: {backbone.count_params():,} parameters "
        f"(backbone; its masked-LM head adds {head:,})"
    )
    assert parameter_counts.describe_preset(_info_of(backbone)) == [
        f"Backbone: {backbone.count_params():,} parameters"
    ]


@once_per_suite
def test_info_counts_the_parameters_pretrain_prints(preset, capsys):
    import re

    from keras_electra.jobs.pretrain_report import describe_towers

    pretrainer = keras_electra.ElectraPretrainer.from_preset(preset)
    printed = describe_towers(pretrainer)  # pretrain's model line
    counts = re.findall(r"(?:Discriminator|generator) ([\d,]+)", printed)
    status, out, _ = _main(capsys, ["info", preset])
    assert status == 0
    assert f"Discriminator: {counts[0]} parameters (backbone " in out
    assert f"Generator: {counts[1]} parameters (backbone " in out
    assert "Discriminator backbone parameters" not in out


# === info: only the training a preset records ===


@once_per_suite
@needs_shared
def test_info_on_a_converted_preset_says_its_training_is_not_recorded(
    tmp_path, capsys
):
    from conversion_helpers import make_hf_pair

    _, _, d_dir, g_dir = make_hf_pair(tmp_path / "hf")
    out = tmp_path / "converted"
    argv = ["convert", "--from", "transformers", "--discriminator", d_dir]
    status, _, err = _main(
        capsys, argv + ["--generator", g_dir, "--output", str(out)]
    )
    assert status == 0, err
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["converted_from"]["generator"] == g_dir
    status, text, _ = _main(capsys, ["info", str(out)])
    assert status == 0
    assert (
        "Pre-training: not recorded (converted from transformers "
        f"{d_dir} and {g_dir})"
    ) in text
    # The pretrainer's defaults are not shown as its training.
    assert "num_train_steps" not in text and "1000000" not in text


@once_per_suite
def test_info_on_a_released_pair_converted_before_it_was_recorded(
    preset, tmp_path, capsys
):
    # A cache folder written before metadata.json said where it came from:
    # its released_from.json does.
    folder = tmp_path / RELEASED
    shutil.copytree(preset, folder)
    source = {
        "discriminator": "hf://google/electra-small-discriminator",
        "generator": "hf://google/electra-small-generator",
        "settings": {"learning_rate": 0.0005, "mask_rate": 0.15},
    }
    (folder / "released_from.json").write_text(json.dumps(source))
    status, text, _ = _main(capsys, ["info", str(folder)])
    assert status == 0
    assert (
        "Pre-training: not recorded (converted from transformers "
        "hf://google/electra-small-discriminator and "
        "hf://google/electra-small-generator; set for continued "
        "pre-training: learning_rate=0.0005, mask_rate=0.15)"
    ) in text
    assert "num_train_steps" not in text
    # A preset keras-electra trained still shows how.
    status, text, _ = _main(capsys, ["info", preset])
    assert "Pre-training: mask_rate=0.15" in text


# === build-data: quiet workers ===


@needs_shared
@once_per_suite  # the workers import TensorFlow whatever the backend
def test_build_data_workers_start_quietly(tmp_path, capfd):
    from keras_electra.data.shards import build_shards

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT * 50, encoding="utf-8")
    capfd.readouterr()
    result = build_shards(
        [str(corpus)],
        str(tmp_path / "shards"),
        str(VOCAB_FILE),
        sequence_length=32,
        num_shards=2,
        num_processes=2,
        verbose=False,
    )
    assert len(result["files"]) == 2 and result["examples"] > 0
    # The workers' standard error is the test's (file descriptor 2): no
    # TensorFlow start-up lines (oneDNN, cuda drivers, absl) reach it.
    err = capfd.readouterr().err
    assert err == "", err


# === fine-tuned models: no spurious warnings ===

# These run on every backend: the warnings come from each backend's
# trainer and weight loading. The other sections are backend-neutral
# (configs, files, messages) and run once, in the torch suite.


@pytest.fixture
def classifier(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2
    )
    model.preprocessor.sequence_length = 16
    return model


def _warned(record, text):
    return [str(w.message) for w in record if text in str(w.message)]


def test_fit_on_a_dataset_leaves_shuffling_to_it(classifier):
    data = tf.data.Dataset.from_tensor_slices(
        (["good film", "bad film"] * 2, [1, 0] * 2)
    ).batch(2)
    classifier.compile(num_train_steps=2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        classifier.fit(data, verbose=0)
    # Keras' "`shuffle=True` was passed, but will be ignored" came from the
    # default `shuffle=True`; a dataset shuffles itself.
    assert not _warned(record, "shuffle"), _warned(record, "shuffle")


@once_per_suite  # `fit`'s arguments, before any backend's `fit` runs
def test_validation_arrays_are_batched_by_validation_batch_size():
    from keras_electra.models.electra_finetuning_mixin import (
        ElectraFinetuningMixin,
    )

    class Recorder:
        def fit(self, x=None, y=None, **kwargs):
            return dict(kwargs, x=x, y=y)

    class Model(ElectraFinetuningMixin, Recorder):
        pass

    texts, labels = np.array(["a", "b", "c", "d", "e"]), np.arange(5)

    def batches(dataset):
        return [len(x) for x, _ in dataset.as_numpy_iterator()]

    got = Model().fit(
        texts,
        labels,
        batch_size=2,
        validation_data=(texts, labels),
        validation_batch_size=4,
    )
    assert batches(got["x"]) == [2, 2, 1]
    assert batches(got["validation_data"]) == [4, 1]
    assert "validation_batch_size" not in got  # used above
    # Without it, validation is batched as training is.
    got = Model().fit(
        texts, labels, batch_size=2, validation_data=(texts, labels)
    )
    assert batches(got["validation_data"]) == [2, 2, 1]
    # A dataset's batches are its own; Keras takes the size as given.
    data = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(5)
    got = Model().fit(
        data, validation_data=data, validation_batch_size=4, shuffle=False
    )
    assert got["validation_batch_size"] == 4


def test_predict_and_evaluate_on_arrays_log_no_grain_warning(
    classifier, caplog
):
    classifier.compile(num_train_steps=2)
    texts, labels = ["good film", "bad film", "the dog"], np.array([1, 0, 1])
    with caplog.at_level(logging.WARNING):
        logits = classifier.predict(texts, batch_size=4, verbose=0)
        classifier.evaluate(texts, labels, batch_size=4, verbose=0)
    assert logits.shape == (3, 2)
    # keras-hub would feed arrays through grain, which warns of its
    # read-ahead (an absl warning) on every call.
    assert "prefetch_buffer_size" not in caplog.text, caplog.text


def test_a_fine_tuned_model_reloads_without_optimizer_warnings(
    classifier, tmp_path
):
    from keras_hub.models import Task

    classifier.compile(num_train_steps=2)
    # The optimizer's state, as training leaves it.
    classifier.optimizer.build(classifier.trainable_variables)
    folder = tmp_path / "model"
    classifier.save_to_preset(str(folder))
    # A preset saved before: keras-hub's task weights held the optimizer's.
    older = tmp_path / "older"
    shutil.copytree(folder, older)
    Task.save_task_weights(classifier, str(older / "task.weights.h5"))
    for path in (folder, older):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            again = keras_electra.ElectraTextClassifier.from_preset(str(path))
        assert not _warned(record, "Skipping"), _warned(record, "Skipping")
        for loaded, saved in zip(again.weights, classifier.weights):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(loaded),
                keras.ops.convert_to_numpy(saved),
            )


# === released presets: from the table, local checks first, offline ===


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """An empty keras-electra cache and Hugging Face cache; a fetch of the
    released pair fails the test."""
    from keras_electra.conversion import released

    monkeypatch.setenv("KERAS_ELECTRA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return released


@once_per_suite  # a subprocess without a backend
def test_info_on_a_released_name_loads_no_backend(tmp_path):
    out = run_without_backend(
        "import os\n"
        f"os.environ['KERAS_ELECTRA_CACHE'] = {str(tmp_path)!r}\n"
        "os.environ['HF_HUB_OFFLINE'] = '1'\n"
        "from keras_electra import cli\n"
        f"assert cli.main(['info', {RELEASED!r}]) == 0\n"
    )
    assert "hf://google/electra-small-discriminator" in out
    assert "Not fetched yet" in out


@once_per_suite  # refused before any model
def test_pretrain_checks_the_corpus_before_fetching_a_released_pair(
    no_hub, tmp_path, capsys
):
    status, _, err = _main(
        capsys,
        ["pretrain", "--preset", RELEASED, "--corpus"]
        + [str(tmp_path / "missing.txt"), "--output", str(tmp_path / "run")],
    )
    assert status == 2 and len(err) == 1, err
    # The corpus, not the (offline) fetch, is named.
    assert "missing.txt' does not exist" in err[0]
    assert "HF_HUB_OFFLINE" not in err[0]
    assert not (tmp_path / "cache").exists()


@once_per_suite
@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_as_the_hub_spells_it_fails_in_one_line(
    no_hub, tmp_path, capsys, monkeypatch, variable
):
    def no_fetch(*args, **kwargs):
        raise AssertionError("fetched while offline")

    monkeypatch.setattr(
        no_hub.transformers_checkpoint, "load_pretrainer", no_fetch
    )
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv(variable, "ON")  # huggingface_hub's spellings
    status, err = _pretrain_released(capsys, tmp_path)
    assert status == 2 and len(err) == 1, err
    assert f"{variable} is set" in err[0]
    assert "keras-electra convert --from transformers" in err[0]


def _pretrain_released(capsys, tmp_path):
    """`keras-electra pretrain --preset RELEASED` on a small corpus:
    `(status, stderr lines)`."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    status, _, err = _main(
        capsys,
        ["pretrain", "--preset", RELEASED, "--corpus", str(corpus)]
        + ["--output", str(tmp_path / "run")],
    )
    return status, err


@once_per_suite
def test_an_unreachable_hub_is_named_not_a_missing_config(
    no_hub, tmp_path, capsys, monkeypatch
):
    # The hub not reached and nothing cached, without HF_HUB_OFFLINE: what
    # huggingface_hub raises with no network (its offline switch stands in
    # for the network here; nothing is downloaded).
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    status, err = _pretrain_released(capsys, tmp_path)
    assert status == 2 and len(err) == 1, err
    assert "no config.json" not in err[0]
    assert "the Hugging Face Hub could not be reached" in err[0]
    assert "keras-electra convert --from transformers" in err[0]
    # `convert` from the handle says the same.
    status, _, err = _main(
        capsys,
        ["convert", "--from", "transformers", "--discriminator"]
        + ["hf://google/electra-small-discriminator"]
        + ["--output", str(tmp_path / "converted")],
    )
    assert status == 2 and len(err) == 1, err
    assert "could not be reached" in err[0]
    assert not os.path.exists(tmp_path / "converted")
