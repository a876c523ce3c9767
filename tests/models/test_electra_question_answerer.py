"""`ElectraQuestionAnswerer`: the extractive QA task and SQuAD metrics."""

import numpy as np
import pytest
from helpers import assert_initializers
from helpers import qa_preprocessor
from helpers import tiny_backbone
from helpers import words_batch
from keras_hub.models import Task
from keras_hub.src.tests.test_case import TestCase

import keras_electra
from keras_electra.metrics.squad import exact_match
from keras_electra.metrics.squad import f1_score


def test_qa_model_and_metrics(preset, tokenizer):
    p = qa_preprocessor(tokenizer)
    batch = p.encode(
        ["who wrote it?"] * 2,
        ["jane austen did ."] * 2,
        [("jane austen", 0), None],
    )
    model = keras_electra.ElectraQuestionAnswerer.from_preset(preset)
    # The reference's span layers take TensorFlow's default initializer.
    assert_initializers(model.span_dense, glorot=True)
    out = model.predict(batch.x, verbose=0)
    assert out["start_logits"].shape == (2, 16)
    # Padding can never be chosen.
    assert np.all(out["start_logits"][batch.x["padding_mask"] == 0] < -1e8)
    model.compile(num_train_steps=20, learning_rate=3e-3)
    assert model.loss["start_logits"].reduction == "sum"
    history = model.fit(batch.x, batch.y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert exact_match("The Jane Austen!", ["jane austen"]) == 1.0
    assert f1_score("jane austen wrote", ["jane austen"]) == pytest.approx(0.8)
    assert exact_match("", []) == 1.0
    with pytest.raises(ValueError, match="not at character 3"):
        p.encode(["who?"], ["jane austen"], [("jane", 3)])


class ElectraQuestionAnswererTest(TestCase):
    def test_question_answerer_is_a_keras_hub_task(self):
        self.assertIsInstance(
            keras_electra.ElectraQuestionAnswerer(tiny_backbone()), Task
        )

    def test_question_answerer_keras_file_round_trip(self):
        self.run_model_saving_test(
            cls=keras_electra.ElectraQuestionAnswerer,
            init_kwargs={"backbone": tiny_backbone()},
            input_data=words_batch(),
        )
