"""keras-hub's contract: base classes, its test harness, `.keras` files.

Every model and task runs keras-hub's own checks (`TestCase`:
`run_backbone_test`, `run_task_test`, `run_model_saving_test`,
`run_precision_test`) and survives a `.keras` save/load round trip.
"""

import keras
import numpy as np
import pytest
from helpers import SMALL_IDS
from helpers import WORDS
from helpers import random_batch
from helpers import tiny_pretrainer
from helpers import to_numpy
from keras_hub.models import Backbone
from keras_hub.models import MaskedLM
from keras_hub.models import MaskedLMPreprocessor
from keras_hub.models import Task
from keras_hub.models import TextClassifier
from keras_hub.models import TextClassifierPreprocessor
from keras_hub.src.tests.test_case import TestCase

import keras_electra

BACKBONE_ARGS = dict(
    vocabulary_size=len(WORDS),
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
    embedding_dim=4,
    max_sequence_length=16,
)


def tokenizer():
    return keras_electra.ElectraTokenizer(vocabulary=WORDS)


def backbone():
    return keras_electra.ElectraBackbone(**BACKBONE_ARGS)


def batch(length=8):
    return random_batch(2, length, vocabulary_size=len(WORDS), num_padding=2)


class KerasHubShapesTest(TestCase):
    def test_classes_are_keras_hub_classes(self):
        b = backbone()
        gen = keras_electra.ElectraGenerator(b)
        self.assertIsInstance(b, Backbone)
        self.assertIsInstance(gen, MaskedLM)
        self.assertIsInstance(
            keras_electra.ElectraTextClassifier(b, num_classes=2),
            TextClassifier,
        )
        self.assertIsInstance(
            keras_electra.ElectraTokenClassifier(b, num_classes=3), Task
        )
        self.assertIsInstance(keras_electra.ElectraQuestionAnswerer(b), Task)
        self.assertIsInstance(keras_electra.ElectraDiscriminator(b), Task)
        self.assertIsInstance(tiny_pretrainer(), Task)
        self.assertIsInstance(
            keras_electra.ElectraMaskedLMPreprocessor(tokenizer()),
            MaskedLMPreprocessor,
        )
        self.assertIsInstance(
            keras_electra.ElectraTextClassifierPreprocessor(tokenizer()),
            TextClassifierPreprocessor,
        )
        # The earlier names are the same classes.
        self.assertIs(
            keras_electra.ElectraClassifier, keras_electra.ElectraTextClassifier
        )
        self.assertIs(
            keras_electra.ElectraClassifierPreprocessor,
            keras_electra.ElectraTextClassifierPreprocessor,
        )

    def test_pretrainer_backbone_is_the_discriminators(self):
        pretrainer = tiny_pretrainer()
        self.assertIs(pretrainer.backbone, pretrainer.discriminator.backbone)

    def test_backbone_harness(self):
        self.run_backbone_test(
            cls=keras_electra.ElectraBackbone,
            init_kwargs=BACKBONE_ARGS,
            input_data=batch(),
            expected_output_shape=(2, 8, 8),
            run_quantization_check=False,
        )

    def test_text_classifier_harness(self):
        preprocessor = keras_electra.ElectraTextClassifierPreprocessor(
            tokenizer(), sequence_length=8
        )
        self.run_task_test(
            cls=keras_electra.ElectraTextClassifier,
            init_kwargs=dict(
                backbone=backbone(), num_classes=2, preprocessor=preprocessor
            ),
            train_data=(["the quick fox", "the lazy dog"], np.array([0, 1])),
            expected_output_shape=(2, 2),
        )

    def test_generator_harness_with_masked_lm_preprocessor(self):
        # Every token selected and masked: the same inputs on each call.
        preprocessor = keras_electra.ElectraMaskedLMPreprocessor(
            tokenizer(),
            sequence_length=10,
            mask_selection_rate=1.0,
            mask_token_rate=1.0,
            mask_selection_length=3,
        )
        self.run_task_test(
            cls=keras_electra.ElectraGenerator,
            init_kwargs=dict(backbone=backbone(), preprocessor=preprocessor),
            train_data=(["the quick fox", "the lazy dog"],),
            expected_output_shape=(2, 3, len(WORDS)),
        )

    def test_masked_lm_preprocessor_masks_as_electra(self):
        preprocessor = keras_electra.ElectraMaskedLMPreprocessor(
            tokenizer(),
            sequence_length=64,
            mask_selection_rate=0.5,
            mask_selection_length=30,
        )
        text = " ".join(["the quick brown fox jumps over the lazy dog"] * 6)
        x, y, weight = preprocessor([text] * 8)
        positions = to_numpy(x["mask_positions"])
        masked = np.take_along_axis(to_numpy(x["token_ids"]), positions, 1)
        real = to_numpy(weight) > 0
        is_mask = masked[real] == 4
        kept = masked[real] == to_numpy(y)[real]
        # 85% [MASK], 15% kept, no random token.
        self.assertTrue(np.all(is_mask | kept))
        self.assertAllClose(is_mask.mean(), 0.85, atol=0.08)

    def test_model_saving_harness(self):
        for cls, kwargs in [
            (keras_electra.ElectraBackbone, BACKBONE_ARGS),
            (keras_electra.ElectraDiscriminator, {"backbone": backbone()}),
            (
                keras_electra.ElectraTextClassifier,
                {"backbone": backbone(), "num_classes": 3},
            ),
            (
                keras_electra.ElectraTokenClassifier,
                {"backbone": backbone(), "num_classes": 3},
            ),
            (keras_electra.ElectraQuestionAnswerer, {"backbone": backbone()}),
        ]:
            with self.subTest(cls=cls.__name__):
                self.run_model_saving_test(
                    cls=cls, init_kwargs=kwargs, input_data=batch()
                )

    def test_generator_keras_file_round_trip(self):
        generator = keras_electra.ElectraGenerator(backbone())
        x = {**batch(), "mask_positions": np.array([[1, 2]] * 2, "int32")}
        path = self.get_temp_dir() + "/generator.keras"
        generator.save(path)
        restored = keras.models.load_model(path)
        self.assertIsInstance(restored, keras_electra.ElectraGenerator)
        self.assertAllClose(generator(x), restored(x))

    def test_pretrainer_keras_file_round_trip(self):
        pretrainer = tiny_pretrainer()
        x = random_batch(2, 16)
        path = self.get_temp_dir() + "/pretrainer.keras"
        pretrainer.save(path)
        restored = keras.models.load_model(path)
        self.assertIsInstance(restored, keras_electra.ElectraPretrainer)
        # One shared embedding block after loading, and the same weights.
        self.assertIs(
            restored.generator.backbone.embedding,
            restored.discriminator.backbone.embedding,
        )
        for a, b in zip(pretrainer.weights, restored.weights):
            self.assertAllClose(a, b)
        # Same corruption state: the same forward pass.
        out = pretrainer.predict(x, verbose=0)
        again = restored.predict(x, verbose=0)
        self.assertAllClose(
            out["discriminator_logits"], again["discriminator_logits"]
        )

    def test_precision_harness(self):
        self.run_precision_test(
            cls=keras_electra.ElectraBackbone,
            init_kwargs=BACKBONE_ARGS,
            input_data=batch(),
        )


def test_given_corruption_skips_in_graph_masking():
    """A fixed corruption (a MaskedLMPreprocessor's) is used as given."""
    pretrainer = tiny_pretrainer()
    x = random_batch(2, 12)
    positions = np.array([[1, 3], [2, 5]], "int32")
    originals = np.take_along_axis(x["token_ids"], positions, 1)
    masked = x["token_ids"].copy()
    np.put_along_axis(masked, positions, SMALL_IDS["mask_token_id"], 1)
    given = {
        **x,
        "token_ids": masked,
        "mask_positions": positions,
        "mask_ids": originals,
        "mask_weights": np.ones((2, 2), "float32"),
    }
    out = pretrainer(given)
    np.testing.assert_array_equal(to_numpy(out["mask_positions"]), positions)
    np.testing.assert_array_equal(to_numpy(out["mask_ids"]), originals)
    corrupted = to_numpy(out["corrupted_ids"])
    # Outside the given positions the discriminator sees the originals.
    untouched = np.ones_like(corrupted, bool)
    np.put_along_axis(untouched, positions, False, 1)
    np.testing.assert_array_equal(
        corrupted[untouched], x["token_ids"][untouched]
    )
    with pytest.raises(ValueError, match="mask_ids"):
        pretrainer({**x, "mask_positions": positions})
