"""`ElectraPretrainerPreprocessor`: raw text into both pre-training tasks,
through `from_preset`, `fit` and `save_to_preset` (issue 27, item 6)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import SMALL_IDS
from helpers import random_batch
from helpers import tiny_pretrainer
from helpers import to_numpy
from helpers import words_tokenizer
from keras_hub.models import Preprocessor

import keras_electra

TEXTS = [
    "the quick brown fox jumps over the lazy dog .",
    "the lazy dogs .",
    "the fox jumps over the dog",
    "quick quick brown",
]


def tiny_masked_lm(**kwargs):
    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=120,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=64,
        dropout=0.0,
    )
    return keras_electra.ElectraMaskedLMPretrainer(
        backbone, seed=7, **SMALL_IDS, **kwargs
    )


def with_tokenizer(tmp_path, task):
    """A preset of `task` saved with a tokenizer (no preprocessor), as
    `keras-electra pretrain` saves its runs."""
    path = str(tmp_path / "preset")
    task.save_to_preset(path, tokenizer=words_tokenizer())
    return path


def finite_loss(history):
    return np.all(np.isfinite(history.history["loss"]))


# === The preprocessor ===


def test_packs_cls_text_sep_and_pads():
    preprocessor = keras_electra.ElectraPretrainerPreprocessor(
        words_tokenizer(), sequence_length=8
    )
    assert isinstance(preprocessor, Preprocessor)
    x = preprocessor(["the quick fox", "the lazy dog jumps over the fox ."])
    assert sorted(x) == ["padding_mask", "segment_ids", "token_ids"]
    ids, mask = to_numpy(x["token_ids"]), to_numpy(x["padding_mask"])
    for value in x.values():
        assert tuple(value.shape) == (2, 8)
        assert str(to_numpy(value).dtype) == "int32"
    # [CLS] the quick fox [SEP] then padding.
    np.testing.assert_array_equal(ids[0], [2, 5, 6, 8, 3, 0, 0, 0])
    np.testing.assert_array_equal(mask[0], [1, 1, 1, 1, 1, 0, 0, 0])
    # Truncated to fit: [CLS] 6 tokens [SEP], no padding.
    np.testing.assert_array_equal(ids[1], [2, 5, 11, 12, 9, 10, 5, 3])
    np.testing.assert_array_equal(mask[1], np.ones(8))
    np.testing.assert_array_equal(to_numpy(x["segment_ids"]), 0)


def test_packs_pairs_with_segment_ids():
    preprocessor = keras_electra.ElectraPretrainerPreprocessor(
        words_tokenizer(), sequence_length=8
    )
    x = preprocessor(x=(["the fox"], ["lazy dog"]))
    np.testing.assert_array_equal(
        to_numpy(x["token_ids"])[0], [2, 5, 8, 3, 11, 12, 3, 0]
    )
    np.testing.assert_array_equal(
        to_numpy(x["segment_ids"])[0], [0, 0, 0, 0, 1, 1, 1, 0]
    )
    # A tuple of one segment (as Keras passes `x` alone) is one segment.
    single = preprocessor((["the fox"],))
    np.testing.assert_array_equal(
        to_numpy(single["token_ids"])[0], [2, 5, 8, 3, 0, 0, 0, 0]
    )


def test_runs_in_tf_data_as_eagerly():
    preprocessor = keras_electra.ElectraPretrainerPreprocessor(
        words_tokenizer(), sequence_length=12
    )
    ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(4).map(preprocessor)
    graph = next(iter(ds))
    eager = preprocessor(TEXTS)
    for key in eager:
        assert graph[key].dtype == tf.int32
        np.testing.assert_array_equal(graph[key].numpy(), to_numpy(eager[key]))


def test_token_id_dicts_pass_through_unchanged():
    preprocessor = keras_electra.ElectraPretrainerPreprocessor(
        words_tokenizer(), sequence_length=8
    )
    batch = random_batch(2, 8)
    assert preprocessor(batch) is batch


def test_config_round_trip():
    preprocessor = keras_electra.ElectraPretrainerPreprocessor(
        words_tokenizer(), sequence_length=10, truncate="waterfall"
    )
    config = preprocessor.get_config()
    assert config["sequence_length"] == 10
    assert config["truncate"] == "waterfall"
    clone = keras_electra.ElectraPretrainerPreprocessor.from_config(
        json.loads(json.dumps(keras.saving.serialize_keras_object(config)))
    )
    clone.tokenizer.set_vocabulary(preprocessor.tokenizer.vocabulary)
    assert clone.get_config() == config
    np.testing.assert_array_equal(
        to_numpy(clone(TEXTS)["token_ids"]),
        to_numpy(preprocessor(TEXTS)["token_ids"]),
    )
    with pytest.raises(ValueError, match="round_robin"):
        keras_electra.ElectraPretrainerPreprocessor(
            words_tokenizer(), truncate="middle"
        )


# === The pretrainers, from a preset with a tokenizer ===


def test_pretrainer_from_preset_trains_on_strings(tmp_path):
    path = with_tokenizer(tmp_path, tiny_pretrainer())
    pretrainer = keras_electra.ElectraPretrainer.from_preset(path)
    preprocessor = pretrainer.preprocessor
    assert isinstance(preprocessor, keras_electra.ElectraPretrainerPreprocessor)
    # 128 by default, lowered to the backbone's 64 positions.
    assert preprocessor.sequence_length == 64
    pretrainer.compile(num_train_steps=4, warmup_steps=1)
    history = pretrainer.fit(TEXTS, batch_size=2, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and finite_loss(history)
    ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2)
    history = pretrainer.fit(ds, epochs=1, verbose=0)
    assert finite_loss(history)
    assert np.isfinite(history.history["discriminator_loss"][-1])


def test_masked_lm_pretrainer_from_preset_trains_on_strings(tmp_path):
    path = with_tokenizer(tmp_path, tiny_masked_lm())
    mlm = keras_electra.ElectraMaskedLMPretrainer.from_preset(
        path, sequence_length=16
    )
    assert mlm.preprocessor.sequence_length == 16
    mlm.compile(num_train_steps=4, warmup_steps=1)
    history = mlm.fit(TEXTS, batch_size=2, epochs=1, verbose=0)
    assert finite_loss(history)
    ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2)
    history = mlm.fit(ds, epochs=1, verbose=0)
    assert finite_loss(history) and np.isfinite(history.history["mlm_loss"])
    # On an ELECTRA run's preset too (its encoder, a new head).
    electra = with_tokenizer(tmp_path / "electra", tiny_pretrainer())
    mlm = keras_electra.ElectraMaskedLMPretrainer.from_preset(electra)
    assert mlm.preprocessor.sequence_length == 64


def test_preprocessor_round_trips_through_a_preset(tmp_path):
    tokenizer = words_tokenizer()
    pretrainer = tiny_pretrainer(
        preprocessor=keras_electra.ElectraPretrainerPreprocessor(
            tokenizer, sequence_length=24, truncate="waterfall"
        )
    )
    path = tmp_path / "preset"
    pretrainer.save_to_preset(str(path))
    assert (path / "preprocessor.json").is_file()
    assert (path / "tokenizer.json").is_file()
    loaded = keras_electra.ElectraPretrainer.from_preset(str(path))
    assert loaded.preprocessor.sequence_length == 24
    assert loaded.preprocessor.truncate == "waterfall"
    assert loaded.preprocessor.tokenizer.vocabulary == tokenizer.vocabulary
    np.testing.assert_array_equal(
        to_numpy(loaded.preprocessor(TEXTS)["token_ids"]),
        to_numpy(pretrainer.preprocessor(TEXTS)["token_ids"]),
    )
    # The towers alone read token ids.
    tower = keras_electra.ElectraDiscriminator.from_preset(str(path))
    assert tower.preprocessor is None
    # `sequence_length=` overrides the saved length.
    shorter = keras_electra.ElectraPretrainer.from_preset(
        str(path), sequence_length=12
    )
    assert shorter.preprocessor.sequence_length == 12
    with pytest.raises(ValueError, match="not both"):
        keras_electra.ElectraPretrainer.from_preset(
            str(path), sequence_length=12, preprocessor=None
        )
    # Fewer positions (new weights): the stored length follows them.
    fewer = keras_electra.ElectraPretrainer.from_preset(
        str(path), load_weights=False, max_sequence_length=16
    )
    assert fewer.preprocessor.sequence_length == 16


def test_config_round_trip_then_save_with_another_tokenizer(tmp_path):
    """As the pre-training job's background checkpoints do: a copy from
    the config (whose tokenizer has no vocabulary) saved with the run's
    tokenizer gives a preset whose preprocessor reads that tokenizer."""
    pretrainer = tiny_pretrainer(
        preprocessor=keras_electra.ElectraPretrainerPreprocessor(
            words_tokenizer(), sequence_length=20
        )
    )
    config = pretrainer.get_config()
    assert config["preprocessor"]["config"]["sequence_length"] == 20
    shadow = type(pretrainer).from_config(config)
    run_tokenizer = keras_electra.ElectraTokenizer(
        vocabulary=[*words_tokenizer().vocabulary, "cat"]
    )
    path = str(tmp_path / "preset")
    shadow.save_to_preset(path, tokenizer=run_tokenizer)
    loaded = keras_electra.ElectraPretrainer.from_preset(path)
    assert loaded.preprocessor.sequence_length == 20
    assert loaded.preprocessor.tokenizer.vocabulary[-1] == "cat"
    # The pretrainer's own preprocessor is unchanged by the save.
    assert shadow.preprocessor.tokenizer is not run_tokenizer
    # Configs saved before the preprocessor existed still load.
    del config["preprocessor"]
    assert type(pretrainer).from_config(config).preprocessor is None


# === Without a tokenizer; token ids ===


def test_strings_without_a_preprocessor_say_how_to_fix(tmp_path):
    path = str(tmp_path / "preset")
    tiny_pretrainer().save_to_preset(path)
    pretrainer = keras_electra.ElectraPretrainer.from_preset(path)
    assert pretrainer.preprocessor is None
    inputs = [
        TEXTS,
        np.array(TEXTS),
        tf.data.Dataset.from_tensor_slices(TEXTS).batch(2),
    ]
    for x in inputs:
        with pytest.raises(ValueError) as error:
            pretrainer.fit(x, batch_size=2, verbose=0)
        message = str(error.value)
        assert "\n" not in message
        assert "ElectraPretrainer got raw strings" in message
        assert "ElectraPretrainerPreprocessor(tokenizer" in message
    with pytest.raises(ValueError, match="raw strings"):
        pretrainer.train_on_batch(TEXTS)
    with pytest.raises(ValueError, match="no tokenizer"):
        keras_electra.ElectraPretrainer.from_preset(path, sequence_length=8)
    mlm = tiny_masked_lm()
    with pytest.raises(ValueError, match="ElectraMaskedLMPretrainer got raw"):
        mlm.fit(TEXTS, verbose=0)


def test_token_ids_still_train_with_a_preprocessor(tmp_path):
    path = with_tokenizer(tmp_path, tiny_pretrainer())
    pretrainer = keras_electra.ElectraPretrainer.from_preset(path)
    assert pretrainer.preprocessor is not None
    batch = random_batch(4, 16)
    # Passed through whole: not tokenized, not re-packed to 64.
    passed = pretrainer.preprocess_samples(batch)
    assert keras.utils.unpack_x_y_sample_weight(passed)[0] is batch
    pretrainer.compile(num_train_steps=4, warmup_steps=1)
    ds = tf.data.Dataset.from_tensor_slices(batch).batch(2)
    history = pretrainer.fit(ds, epochs=1, verbose=0)
    assert finite_loss(history)
    history = pretrainer.fit(batch, batch_size=2, epochs=1, verbose=0)
    assert finite_loss(history)
    # `preprocessor=None` keeps a preset's tokenizer out.
    bare = keras_electra.ElectraPretrainer.from_preset(path, preprocessor=None)
    assert bare.preprocessor is None
    assert os.path.isfile(os.path.join(path, "tokenizer.json"))


def test_transformers_pair_gets_a_preprocessor_on_its_vocabulary(tmp_path):
    conversion_helpers = pytest.importorskip("conversion_helpers")
    from helpers import WORDS

    *_, d_dir, _ = conversion_helpers.make_hf_pair(tmp_path)
    pretrainer = keras_electra.ElectraPretrainer.from_preset(str(tmp_path))
    assert pretrainer.preprocessor is None  # no vocab.txt
    with open(os.path.join(d_dir, "vocab.txt"), "w") as f:
        f.write("\n".join(WORDS) + "\n")
    pretrainer = keras_electra.ElectraPretrainer.from_preset(str(tmp_path))
    # 128 by default, lowered to the pair's 48 positions.
    assert pretrainer.preprocessor.sequence_length == 48
    assert pretrainer.preprocessor.tokenizer.vocabulary == WORDS
    shorter = keras_electra.ElectraPretrainer.from_preset(
        str(tmp_path), sequence_length=16
    )
    x = shorter.preprocessor(TEXTS[:1])
    assert tuple(x["token_ids"].shape) == (1, 16)
