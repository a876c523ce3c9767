"""`ElectraMaskedLMPreprocessor`: keras-hub's masker at ELECTRA's rates."""

import numpy as np
from helpers import to_numpy
from helpers import words_tokenizer
from keras_hub.models import MaskedLMPreprocessor
from keras_hub.src.tests.test_case import TestCase

import keras_electra


class ElectraMaskedLMPreprocessorTest(TestCase):
    def test_masked_lm_preprocessor_is_keras_hubs(self):
        self.assertIsInstance(
            keras_electra.ElectraMaskedLMPreprocessor(words_tokenizer()),
            MaskedLMPreprocessor,
        )

    def test_masked_lm_preprocessor_masks_as_electra(self):
        preprocessor = keras_electra.ElectraMaskedLMPreprocessor(
            words_tokenizer(),
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
