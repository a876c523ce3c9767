"""The backbone's two departures from the reference for accelerators:
attention without probability dropout (Keras' fused attention) and a token
table padded to a multiple of 64 or 128 rows (issue 26, item 5)."""

import json
import os
from unittest import mock

import keras
import keras.src.ops as keras_ops
import numpy as np
import pytest
from helpers import SMALL_IDS
from helpers import random_batch
from helpers import to_numpy

import keras_electra
from keras_electra.layers import electra_masking
from keras_electra.layers.electra_masked_lm_head import ElectraMaskedLMHead
from keras_electra.models.pretraining_mixin import PretrainingMixin

VOCABULARY = 50

ARGS = dict(
    vocabulary_size=VOCABULARY,
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    embedding_dim=8,
    max_sequence_length=32,
)


def fused_attention_calls(model, inputs, **kwargs):
    """`model(inputs)` and how often it called `ops.dot_product_attention`
    (what Keras' `MultiHeadAttention` calls for its fused path)."""
    calls = []
    fused = keras_ops.dot_product_attention

    def spy(*args, **kw):
        calls.append(1)
        return fused(*args, **kw)

    with mock.patch.object(keras_ops, "dot_product_attention", spy):
        outputs = to_numpy(model(inputs, **kwargs))
    return outputs, len(calls)


# === Attention without probability dropout ===


def test_attention_dropout_zero_takes_the_fused_path_with_same_outputs():
    reference = keras_electra.ElectraBackbone(**ARGS)
    fused = keras_electra.ElectraBackbone(**ARGS, attention_dropout=0.0)
    fused.set_weights(reference.get_weights())
    batch = random_batch(2, 12, vocabulary_size=VOCABULARY, num_padding=3)

    # The reference's 0.1 on the probabilities: softmax, dropout, einsums.
    expected, calls = fused_attention_calls(reference, batch)
    assert calls == 0
    got, calls = fused_attention_calls(fused, batch)
    assert calls == ARGS["num_layers"]
    # Same function at inference (no dropout is applied there).
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Training too takes the fused path.
    _, calls = fused_attention_calls(fused, batch, training=True)
    assert calls == ARGS["num_layers"]


def test_attention_dropout_has_its_own_rate():
    batch = random_batch(2, 12, vocabulary_size=VOCABULARY, num_padding=3)
    # No attention dropout, the other dropouts still at 0.1.
    fused = keras_electra.ElectraBackbone(**ARGS, attention_dropout=0.0)
    block = fused.transformer_layers[0]
    assert block._self_attention_layer.dropout == 0.0
    assert block._self_attention_dropout.rate == 0.1
    assert block._feedforward_dropout.rate == 0.1
    assert fused.embedding.dropout == 0.1
    trained = to_numpy(fused(batch, training=True))
    assert np.abs(trained - to_numpy(fused(batch))).max() > 1e-3

    # The other way round: only the attention probabilities dropped, on
    # the explicit path.
    only_attention = keras_electra.ElectraBackbone(
        **{**ARGS, "dropout": 0.0}, attention_dropout=0.5
    )
    block = only_attention.transformer_layers[0]
    assert block._self_attention_layer.dropout == 0.5
    assert block._self_attention_dropout.rate == 0.0
    trained, calls = fused_attention_calls(only_attention, batch, training=True)
    assert calls == 0
    assert np.abs(trained - to_numpy(only_attention(batch))).max() > 1e-3
    # Without attention dropout the same model is deterministic.
    no_dropout = keras_electra.ElectraBackbone(
        **{**ARGS, "dropout": 0.0}, attention_dropout=0.0
    )
    no_dropout.set_weights(only_attention.get_weights())
    np.testing.assert_allclose(
        to_numpy(no_dropout(batch, training=True)),
        to_numpy(only_attention(batch)),
        atol=1e-5,
    )


def test_default_attention_dropout_follows_dropout():
    backbone = keras_electra.ElectraBackbone(**{**ARGS, "dropout": 0.2})
    assert backbone.attention_dropout is None
    block = backbone.transformer_layers[0]
    assert block._self_attention_layer.dropout == 0.2
    assert block._self_attention_dropout.rate == 0.2


# === Token table padded for tensor cores ===


@pytest.mark.parametrize(
    "vocabulary_size, multiple, rows",
    [(50, 64, 64), (64, 64, 64), (50, 128, 128), (130, 64, 192), (50, 1, 50)],
)
def test_padded_table_rows(vocabulary_size, multiple, rows):
    backbone = keras_electra.ElectraBackbone(
        **{**ARGS, "vocabulary_size": vocabulary_size},
        pad_vocabulary_to_multiple_of=multiple,
    )
    assert backbone.vocabulary_size == vocabulary_size
    assert backbone.padded_vocabulary_size == rows
    assert tuple(backbone.token_embedding.embeddings.shape) == (rows, 8)
    generator = keras_electra.ElectraGenerator(backbone)
    assert tuple(generator.mlm_head._bias.shape) == (rows,)


def test_unpadded_table_by_default():
    backbone = keras_electra.ElectraBackbone(**ARGS)
    assert backbone.pad_vocabulary_to_multiple_of is None
    assert backbone.padded_vocabulary_size == VOCABULARY
    assert tuple(backbone.token_embedding.embeddings.shape)[0] == VOCABULARY


def _generators(multiple=64):
    """An unpadded generator and a padded one with the same real weights;
    the padded rows and biases made as tempting as can be."""
    plain = keras_electra.ElectraGenerator(
        keras_electra.ElectraBackbone(**ARGS)
    )
    padded = keras_electra.ElectraGenerator(
        keras_electra.ElectraBackbone(
            **ARGS, pad_vocabulary_to_multiple_of=multiple
        )
    )
    for ours, theirs in zip(plain.weights, padded.weights):
        value = to_numpy(ours)
        if tuple(theirs.shape) != value.shape:  # the table and the bias
            extra = np.full(
                (theirs.shape[0] - value.shape[0],) + value.shape[1:], 5.0
            )
            value = np.concatenate([value, extra.astype("float32")])
        theirs.assign(value)
    return plain, padded


def _masked_inputs(seed=0):
    batch = random_batch(3, 16, vocabulary_size=VOCABULARY, seed=seed)
    positions = np.array([[1, 2, 5], [3, 4, 6], [1, 7, 8]], "int32")
    labels = np.take_along_axis(batch["token_ids"], positions, axis=1)
    return {**batch, "mask_positions": positions}, labels


def test_generator_never_predicts_padding_ids():
    plain, padded = _generators()
    inputs, labels = _masked_inputs()
    expected = to_numpy(plain(inputs))
    logits = to_numpy(padded(inputs))
    assert logits.shape == (3, 3, 64)
    # Real ids: the unpadded model's logits; padding ids: -1e9.
    np.testing.assert_allclose(logits[..., :VOCABULARY], expected, atol=1e-5)
    assert np.all(logits[..., VOCABULARY:] == -1e9)
    # Loss unchanged.
    weights = np.ones(labels.shape, "float32")
    loss = PretrainingMixin.masked_lm_cross_entropy
    np.testing.assert_allclose(
        to_numpy(loss(labels, logits, weights)),
        to_numpy(loss(labels, expected, weights)),
        rtol=1e-6,
    )
    # Samples (hot and cold) and argmax never pick a padding id.
    seed = keras.random.SeedGenerator(3)
    for temperature in (1.0, 3.0, 100.0):
        for _ in range(5):
            sampled = to_numpy(
                electra_masking.gumbel_sample(
                    keras.ops.convert_to_tensor(logits), seed, temperature
                )
            )
            assert sampled.max() < VOCABULARY
    assert logits.argmax(-1).max() < VOCABULARY


def test_padding_rows_receive_no_update():
    _, padded = _generators()
    padded.compile(optimizer=keras.optimizers.SGD(1.0))
    inputs, labels = _masked_inputs()
    table = padded.backbone.token_embedding.embeddings
    bias = padded.mlm_head._bias
    before = to_numpy(table), to_numpy(bias)
    padded.fit(inputs, labels, batch_size=3, epochs=1, shuffle=False, verbose=0)
    after = to_numpy(table), to_numpy(bias)
    for old, new in zip(before, after):
        np.testing.assert_array_equal(new[VOCABULARY:], old[VOCABULARY:])
        assert np.abs(new[:VOCABULARY] - old[:VOCABULARY]).max() > 1e-4


def test_head_checks_predicted_vocabulary_size():
    embedding = keras.layers.ReversibleEmbedding(64, 8)
    embedding.build((None, None))
    with pytest.raises(ValueError, match="predicted_vocabulary_size"):
        ElectraMaskedLMHead(
            token_embedding=embedding, predicted_vocabulary_size=65
        )
    head = ElectraMaskedLMHead(
        token_embedding=embedding, predicted_vocabulary_size=50
    )
    assert head.get_config()["predicted_vocabulary_size"] == 50


def _padded_pretrainer(multiple=64, **kwargs):
    return keras_electra.ElectraPretrainer.from_towers_config(
        vocabulary_size=VOCABULARY,
        discriminator_config=dict(
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            embedding_dim=8,
            max_sequence_length=32,
            attention_dropout=0.0,
            pad_vocabulary_to_multiple_of=multiple,
        ),
        generator_config=dict(
            num_layers=1,
            num_heads=1,
            hidden_dim=8,
            intermediate_dim=16,
            attention_dropout=0.0,
            pad_vocabulary_to_multiple_of=multiple,
        ),
        seed=5,
        **{**SMALL_IDS, **kwargs},
    )


@pytest.mark.parametrize("sharing", ["tied", "untied"])
def test_padded_pretrainer_samples_real_ids_and_round_trips(sharing):
    pretrainer = _padded_pretrainer(embedding_sharing=sharing)
    generator = pretrainer.generator
    assert generator.backbone.padded_vocabulary_size == 64
    # Padding ids as tempting as possible: without the mask they would be
    # sampled at every slot.
    bias = generator.mlm_head._bias
    bias.assign(np.where(np.arange(64) < VOCABULARY, 0.0, 50.0))
    batch = random_batch(4, 24, vocabulary_size=VOCABULARY)
    outputs = pretrainer(batch, training=True)
    assert to_numpy(outputs["sampled_ids"]).max() < VOCABULARY
    assert to_numpy(outputs["corrupted_ids"]).max() < VOCABULARY

    config = pretrainer.get_config()
    clone = keras_electra.ElectraPretrainer.from_config(
        json.loads(json.dumps(keras.saving.serialize_keras_object(config)))
    )
    for tower in (clone.generator, clone.discriminator):
        assert tower.backbone.padded_vocabulary_size == 64
        assert tower.backbone.attention_dropout == 0.0
    assert (
        clone.generator.backbone.embedding
        is clone.discriminator.backbone.embedding
    ) == (sharing == "tied")


def test_padded_pretrainer_preset_round_trip(tmp_path):
    pretrainer = _padded_pretrainer()
    path = str(tmp_path / "padded")
    pretrainer.save_to_preset(path)
    loaded = keras_electra.ElectraPretrainer.from_preset(path)
    assert loaded.generator.backbone.padded_vocabulary_size == 64
    for a, b in zip(pretrainer.weights, loaded.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=a.path)
    # What fine-tuning loads: the discriminator's encoder, padded.
    backbone = keras_electra.ElectraBackbone.from_preset(path)
    assert backbone.padded_vocabulary_size == 64
    assert backbone.attention_dropout == 0.0


def test_towers_must_agree_on_padding():
    discriminator = keras_electra.ElectraBackbone(
        **ARGS, pad_vocabulary_to_multiple_of=64
    )
    with pytest.raises(ValueError, match="pad_vocabulary_to_multiple_of"):
        keras_electra.ElectraBackbone(
            **{**ARGS, "hidden_dim": 8, "num_heads": 1},
            embedding=discriminator.embedding,
        )


# === Configs and presets ===


def test_config_round_trip():
    backbone = keras_electra.ElectraBackbone(
        **ARGS, attention_dropout=0.0, pad_vocabulary_to_multiple_of=128
    )
    config = backbone.get_config()
    assert config["attention_dropout"] == 0.0
    assert config["pad_vocabulary_to_multiple_of"] == 128
    clone = keras_electra.ElectraBackbone.from_config(
        json.loads(json.dumps(config))
    )
    assert clone.get_config() == config
    clone.set_weights(backbone.get_weights())
    batch = random_batch(2, 10, vocabulary_size=VOCABULARY)
    np.testing.assert_allclose(
        to_numpy(clone(batch)), to_numpy(backbone(batch)), atol=1e-6
    )
    assert clone.embedding.get_config()["pad_vocabulary_to_multiple_of"] == 128


@pytest.mark.parametrize(
    "arguments",
    [
        dict(attention_dropout=1.0),
        dict(attention_dropout=-0.1),
        dict(pad_vocabulary_to_multiple_of=0),
        dict(pad_vocabulary_to_multiple_of=-64),
        dict(pad_vocabulary_to_multiple_of="64"),
        dict(pad_vocabulary_to_multiple_of=True),
        dict(pad_vocabulary_to_multiple_of=6.4),
    ],
)
def test_bad_values_are_refused(arguments):
    with pytest.raises(ValueError, match=next(iter(arguments))):
        keras_electra.ElectraBackbone(**ARGS, **arguments)


def test_presets_saved_before_the_options_still_load(tmp_path):
    backbone = keras_electra.ElectraBackbone(**ARGS)
    path = str(tmp_path / "old")
    backbone.save_to_preset(path)
    # As written before the options existed.
    config_file = os.path.join(path, "config.json")
    with open(config_file) as f:
        stored = json.load(f)
    for key in ("attention_dropout", "pad_vocabulary_to_multiple_of"):
        del stored["config"][key]
    with open(config_file, "w") as f:
        json.dump(stored, f)

    loaded = keras_electra.ElectraBackbone.from_preset(path)
    assert loaded.attention_dropout is None
    assert loaded.padded_vocabulary_size == VOCABULARY
    block = loaded.transformer_layers[0]
    assert block._self_attention_layer.dropout == 0.1
    batch = random_batch(2, 10, vocabulary_size=VOCABULARY)
    np.testing.assert_array_equal(
        to_numpy(loaded(batch)), to_numpy(backbone(batch))
    )
    # The fused attention needs no new weights: an option on loading.
    fused = keras_electra.ElectraBackbone.from_preset(
        path, attention_dropout=0.0
    )
    got, calls = fused_attention_calls(fused, batch)
    assert calls == ARGS["num_layers"]
    np.testing.assert_allclose(got, to_numpy(backbone(batch)), atol=1e-5)


def test_builtin_preset_configs_take_the_options():
    # The built-in presets' configs predate the options.
    backbone = keras_electra.ElectraBackbone.from_preset("electra_tiny")
    assert backbone.attention_dropout is None
    assert backbone.padded_vocabulary_size == 30522
    padded = keras_electra.ElectraBackbone.from_preset(
        "electra_tiny", pad_vocabulary_to_multiple_of=64
    )
    assert padded.vocabulary_size == 30522
    assert padded.padded_vocabulary_size == 30528
