"""`ElectraTextClassifier` (and its preprocessor): a keras-hub
`TextClassifier` with ELECTRA's fine-tuning recipe.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_initializers
from helpers import tiny_backbone
from helpers import to_numpy
from helpers import words_batch
from helpers import words_tokenizer
from keras_hub.models import TextClassifier
from keras_hub.models import TextClassifierPreprocessor
from keras_hub.src.tests.test_case import TestCase

import keras_electra


def test_classifier_pairs_shapes_and_save_load(preset, tokenizer, tmp_path):
    preprocessor = keras_electra.ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=10
    )
    x = preprocessor(x=(["the dog runs", "good film"], ["the cat", "bad"]))
    # [CLS] the dog run ##s [SEP] the cat [SEP] [PAD]
    np.testing.assert_array_equal(
        to_numpy(x["token_ids"])[0], [2, 5, 6, 7, 8, 3, 5, 9, 3, 0]
    )
    np.testing.assert_array_equal(
        to_numpy(x["segment_ids"])[0], [0, 0, 0, 0, 0, 0, 1, 1, 1, 0]
    )
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=3, preprocessor=None
    )
    assert model.predict(x, verbose=0).shape == (2, 3)
    model.compile(num_train_steps=4)
    model.fit(x, np.array([2, 0]), epochs=2, verbose=0)
    model.save_to_preset(str(tmp_path / "clf"))
    again = keras_electra.ElectraTextClassifier.from_preset(
        str(tmp_path / "clf"), preprocessor=None
    )
    np.testing.assert_allclose(
        again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )
    # With the preset's tokenizer a preprocessor is attached: raw strings in.
    raw = keras_electra.ElectraTextClassifier.from_preset(preset, num_classes=3)
    assert isinstance(
        raw.preprocessor, keras_electra.ElectraTextClassifierPreprocessor
    )
    raw.preprocessor.sequence_length = 16  # the tiny model has 64 positions
    assert raw.predict(["the dog runs", "bad"], verbose=0).shape == (2, 3)
    # Inside tf.data too.
    ds = (
        tf.data.Dataset.from_tensor_slices(
            (["the dog runs", "good film"], [1, 0])
        )
        .batch(2)
        .map(lambda t, y: (preprocessor(t), y))
    )
    features, _ = next(iter(ds))
    assert features["token_ids"].shape == (2, 10)


def test_classifier_labels_outside_classes_are_named(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2, preprocessor=None
    )
    model.compile()
    x = {
        "token_ids": np.array([[2, 5, 3]], "int32"),
        "segment_ids": np.zeros((1, 3), "int32"),
        "padding_mask": np.ones((1, 3), "int32"),
    }
    with pytest.raises(ValueError, match=r"integers in \[0, 2\); found 2"):
        model.fit(x, np.array([2]), verbose=0)


def test_regression_head(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=1, preprocessor=None
    )
    model.compile(num_train_steps=20)
    assert isinstance(model.loss, keras.losses.MeanSquaredError)
    x = {
        "token_ids": np.array([[2, 5, 3], [2, 6, 3]], "int32"),
        "segment_ids": np.zeros((2, 3), "int32"),
        "padding_mask": np.ones((2, 3), "int32"),
    }
    y = np.array([0.5, 4.5], "float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


class ElectraTextClassifierTest(TestCase):
    def test_text_classifier_is_a_keras_hub_text_classifier(self):
        self.assertIsInstance(
            keras_electra.ElectraTextClassifier(tiny_backbone(), num_classes=2),
            TextClassifier,
        )
        self.assertIsInstance(
            keras_electra.ElectraTextClassifierPreprocessor(words_tokenizer()),
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

    def test_text_classifier_harness(self):
        preprocessor = keras_electra.ElectraTextClassifierPreprocessor(
            words_tokenizer(), sequence_length=8
        )
        self.run_task_test(
            cls=keras_electra.ElectraTextClassifier,
            init_kwargs=dict(
                backbone=tiny_backbone(),
                num_classes=2,
                preprocessor=preprocessor,
            ),
            train_data=(["the quick fox", "the lazy dog"], np.array([0, 1])),
            expected_output_shape=(2, 2),
        )

    def test_text_classifier_keras_file_round_trip(self):
        self.run_model_saving_test(
            cls=keras_electra.ElectraTextClassifier,
            init_kwargs={"backbone": tiny_backbone(), "num_classes": 3},
            input_data=words_batch(),
        )


def test_preprocessor_fits_the_backbones_positions(preset, tokenizer):
    # The preset's backbone has 64 positions; the default length is 128.
    classifier = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2
    )
    assert classifier.preprocessor.sequence_length == 64
    classifier.fit(["a good film", "a bad film"], np.array([1, 0]), verbose=0)
    too_long = keras_electra.ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=128
    )
    with pytest.raises(ValueError, match="64 positions"):
        keras_electra.ElectraTextClassifier.from_preset(
            preset, num_classes=2, preprocessor=too_long
        )


def test_classifier_head_and_loss_are_the_reference_s(preset):
    # classification_tasks.py: position 0's vector (no pooler), dropout 0.1,
    # a dense layer with TensorFlow's default initializer; per-example
    # losses summed over the batch.
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=3, preprocessor=None
    )
    assert model.output_dropout.rate == 0.1
    assert_initializers(model.output_dense, glorot=True)
    x = {
        "token_ids": np.array([[2, 5, 3], [2, 6, 3], [2, 7, 3]], "int32"),
        "segment_ids": np.zeros((3, 3), "int32"),
        "padding_mask": np.ones((3, 3), "int32"),
    }
    y = np.array([0, 1, 2])
    model.compile()
    summed = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.compile(loss_reduction="sum_over_batch_size")
    mean = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(summed, 3 * mean, rtol=1e-4)
    regression = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=1, preprocessor=None
    )
    regression.compile()
    assert regression.loss.reduction == "sum"
