"""`ElectraBackbone`: shapes, config, the reference's choices, keras-hub's
harness.
"""

import math

import keras
import numpy as np
import pytest
from helpers import TINY_BACKBONE_ARGS
from helpers import assert_initializers
from helpers import random_batch
from helpers import tiny_backbone
from helpers import to_numpy
from helpers import wide_backbone
from helpers import words_batch
from keras_hub.models import Backbone
from keras_hub.src.tests.test_case import TestCase

import keras_electra

BACKBONE_ARGS = dict(
    vocabulary_size=50,
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    embedding_dim=8,
    max_sequence_length=32,
)


def test_backbone_shapes_and_config_round_trip():
    backbone = keras_electra.ElectraBackbone(**BACKBONE_ARGS)
    batch = random_batch(2, 12, vocabulary_size=50)
    out = backbone(batch)
    assert tuple(out.shape) == (2, 12, 16)
    config = backbone.get_config()
    for key, value in BACKBONE_ARGS.items():
        assert config[key] == value
    clone = keras_electra.ElectraBackbone.from_config(config)
    assert clone.count_params() == backbone.count_params()
    clone.set_weights(backbone.get_weights())
    np.testing.assert_allclose(to_numpy(clone(batch)), to_numpy(out), atol=1e-6)
    # No projection when embedding and hidden sizes agree.
    same = keras_electra.ElectraBackbone(
        **{**BACKBONE_ARGS, "embedding_dim": 16}
    )
    assert same.embeddings_projection is None
    assert backbone.embeddings_projection is not None


def test_backbone_has_no_pooler_and_uses_exact_gelu():
    backbone = keras_electra.ElectraBackbone(**BACKBONE_ARGS)
    names = [w.path for w in backbone.weights]
    assert not any("pool" in n for n in names)
    activation = backbone.transformer_layers[0].activation
    x = np.array([-1.5, 0.3, 2.0], "float32")
    exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    tanh = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    got = to_numpy(activation(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(got, exact, atol=1e-6)
    assert np.abs(got - tanh).max() > 1e-5  # not the tanh approximation


def test_padding_does_not_change_real_positions():
    backbone = keras_electra.ElectraBackbone(
        **{**BACKBONE_ARGS, "dropout": 0.0}
    )
    batch = random_batch(2, 12, vocabulary_size=50, num_padding=3)
    out = to_numpy(backbone(batch))
    changed = {k: v.copy() for k, v in batch.items()}
    changed["token_ids"][:, -3:] = 7  # different tokens under the padding
    out2 = to_numpy(backbone(changed))
    np.testing.assert_allclose(out[:, :-3], out2[:, :-3], atol=1e-5)


def test_sharing_requires_matching_sizes():
    disc = keras_electra.ElectraBackbone(**BACKBONE_ARGS)
    with pytest.raises(ValueError, match="vocabulary_size"):
        keras_electra.ElectraBackbone(
            **{**BACKBONE_ARGS, "vocabulary_size": 51, "hidden_dim": 8},
            embedding=disc.embedding,
        )


class ElectraBackboneTest(TestCase):
    def test_backbone_is_a_keras_hub_backbone(self):
        self.assertIsInstance(tiny_backbone(), Backbone)

    def test_backbone_harness(self):
        self.run_backbone_test(
            cls=keras_electra.ElectraBackbone,
            init_kwargs=TINY_BACKBONE_ARGS,
            input_data=words_batch(),
            expected_output_shape=(2, 8, 8),
            run_quantization_check=False,
        )

    def test_backbone_keras_file_round_trip(self):
        self.run_model_saving_test(
            cls=keras_electra.ElectraBackbone,
            init_kwargs=TINY_BACKBONE_ARGS,
            input_data=words_batch(),
        )

    def test_precision_harness(self):
        self.run_precision_test(
            cls=keras_electra.ElectraBackbone,
            init_kwargs=TINY_BACKBONE_ARGS,
            input_data=words_batch(),
        )


def test_embeddings_projection_initializer_is_the_reference_default():
    # The reference's `embeddings_project` is a `tf.layers.dense` with no
    # initializer argument: glorot-uniform. The encoder blocks use 0.02.
    backbone = wide_backbone(embedding_dim=32)
    assert_initializers(backbone.embeddings_projection, glorot=True)
    block = backbone.transformer_layers[0]
    assert isinstance(
        block.kernel_initializer, keras.initializers.TruncatedNormal
    )
