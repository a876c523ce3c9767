"""`ElectraTokenClassifier`: the tagging task."""

import keras
import numpy as np
import pytest
from helpers import assert_initializers
from helpers import tiny_backbone
from helpers import words_batch
from keras_hub.models import Task
from keras_hub.src.tests.test_case import TestCase

import keras_electra


def test_token_classifier_trains_with_weights(preset, tokenizer):
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    x, y, w = preprocessor([["the", "dog", "runs"]] * 4, [[0, 1, 2]] * 4)
    model = keras_electra.ElectraTokenClassifier.from_preset(
        preset, num_classes=3, preprocessor=None
    )
    assert model.predict(x, verbose=0).shape == (4, 8, 3)
    model.compile(num_train_steps=30, learning_rate=3e-3)
    history = model.fit(x, y, sample_weight=w, epochs=30, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_tagger_and_qa_save_load(preset, tmp_path):
    x = {
        "token_ids": np.array([[2, 13, 14, 3, 17, 18, 3, 0]], "int32"),
        "segment_ids": np.array([[0, 0, 0, 0, 1, 1, 1, 0]], "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]], "int32"),
    }
    for cls, kwargs in (
        (keras_electra.ElectraTokenClassifier, {"num_classes": 4}),
        (keras_electra.ElectraQuestionAnswerer, {}),
    ):
        model = cls.from_preset(preset, preprocessor=None, **kwargs)
        path = str(tmp_path / cls.__name__)
        model.save_to_preset(path)
        again = cls.from_preset(path, preprocessor=None)
        keras.tree.map_structure(
            lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
            model.predict(x, verbose=0),
            again.predict(x, verbose=0),
        )


class ElectraTokenClassifierTest(TestCase):
    def test_token_classifier_is_a_keras_hub_task(self):
        self.assertIsInstance(
            keras_electra.ElectraTokenClassifier(
                tiny_backbone(), num_classes=3
            ),
            Task,
        )

    def test_token_classifier_keras_file_round_trip(self):
        self.run_model_saving_test(
            cls=keras_electra.ElectraTokenClassifier,
            init_kwargs={"backbone": tiny_backbone(), "num_classes": 3},
            input_data=words_batch(),
        )


def test_tagging_head_and_loss_are_the_reference_s(preset, tokenizer):
    # tagging_tasks.py: no dropout before the dense layer (glorot-uniform),
    # segment id 1 on every token, and the loss summed over the labelled
    # tokens and the batch (run_finetuning.py sums per-example losses).
    model = keras_electra.ElectraTokenClassifier.from_preset(
        preset, num_classes=3, preprocessor=None
    )
    assert model.output_dropout.rate == 0.0
    assert_initializers(model.output_dense, glorot=True)
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    x, y, w = preprocessor([["the", "dog", "runs"]] * 4, [[0, 1, 2]] * 4)
    np.testing.assert_array_equal(x["segment_ids"], x["padding_mask"])
    logits = np.asarray(model.predict(x, verbose=0), "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    per_token = -np.take_along_axis(log_probs, y[..., None], -1)[..., 0]
    expected_sum = float((per_token * w).sum())
    model.compile()
    assert model.loss.reduction == "sum"
    got = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    np.testing.assert_allclose(got["loss"], expected_sum, rtol=1e-4)
    model.compile(loss_reduction="sum_over_batch_size")
    got = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    np.testing.assert_allclose(got["loss"], expected_sum / y.size, rtol=1e-4)
    with pytest.raises(ValueError, match="loss_reduction"):
        model.compile(loss_reduction="mean_of_means")
