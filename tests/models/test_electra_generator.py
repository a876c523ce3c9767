"""`ElectraGenerator`: a keras-hub `MaskedLM` predicting at given positions."""

import keras
import numpy as np
from helpers import WORDS
from helpers import random_batch
from helpers import tiny_backbone
from helpers import tiny_pretrainer
from helpers import to_numpy
from helpers import words_batch
from helpers import words_tokenizer
from keras_hub.models import MaskedLM
from keras_hub.src.tests.test_case import TestCase

import keras_electra


def test_generator_and_discriminator_shapes():
    pretrainer = tiny_pretrainer()
    batch = random_batch(3, 20)
    logits = pretrainer.discriminator(batch)
    assert tuple(logits.shape) == (3, 20)
    gen_inputs = {**batch, "mask_positions": np.array([[1, 2, 5]] * 3, "int32")}
    gen_logits = pretrainer.generator(gen_inputs)
    assert tuple(gen_logits.shape) == (3, 3, 120)
    # The generator head only looks at the given positions.
    other = {**gen_inputs, "mask_positions": np.array([[5, 2, 1]] * 3, "int32")}
    swapped = to_numpy(pretrainer.generator(other))
    np.testing.assert_allclose(
        swapped[:, 0], to_numpy(gen_logits)[:, 2], atol=1e-5
    )


class ElectraGeneratorTest(TestCase):
    def test_generator_is_a_keras_hub_masked_lm(self):
        generator = keras_electra.ElectraGenerator(tiny_backbone())
        self.assertIsInstance(generator, MaskedLM)

    def test_generator_harness_with_masked_lm_preprocessor(self):
        # Every token selected and masked: the same inputs on each call.
        preprocessor = keras_electra.ElectraMaskedLMPreprocessor(
            words_tokenizer(),
            sequence_length=10,
            mask_selection_rate=1.0,
            mask_token_rate=1.0,
            mask_selection_length=3,
        )
        self.run_task_test(
            cls=keras_electra.ElectraGenerator,
            init_kwargs=dict(
                backbone=tiny_backbone(), preprocessor=preprocessor
            ),
            train_data=(["the quick fox", "the lazy dog"],),
            expected_output_shape=(2, 3, len(WORDS)),
        )

    def test_generator_keras_file_round_trip(self):
        generator = keras_electra.ElectraGenerator(tiny_backbone())
        x = {**words_batch(), "mask_positions": np.array([[1, 2]] * 2, "int32")}
        path = self.get_temp_dir() + "/generator.keras"
        generator.save(path)
        restored = keras.models.load_model(path)
        self.assertIsInstance(restored, keras_electra.ElectraGenerator)
        self.assertAllClose(generator(x), restored(x))
