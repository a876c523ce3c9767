"""`ElectraTokenClassifier`: the tagging task."""

import keras
import numpy as np
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
