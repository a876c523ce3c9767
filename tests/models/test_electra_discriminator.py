"""`ElectraDiscriminator`: the replaced-token detector as a keras-hub `Task`."""

from helpers import assert_initializers
from helpers import tiny_backbone
from helpers import wide_backbone
from helpers import words_batch
from keras_hub.models import Task
from keras_hub.src.tests.test_case import TestCase

import keras_electra


class ElectraDiscriminatorTest(TestCase):
    def test_discriminator_is_a_keras_hub_task(self):
        self.assertIsInstance(
            keras_electra.ElectraDiscriminator(tiny_backbone()), Task
        )

    def test_discriminator_keras_file_round_trip(self):
        self.run_model_saving_test(
            cls=keras_electra.ElectraDiscriminator,
            init_kwargs={"backbone": tiny_backbone()},
            input_data=words_batch(),
        )


def test_rtd_head_initializers_are_the_reference_s():
    # run_pretraining.py: the hidden layer gets create_initializer(0.02),
    # the one-unit output layer (`dense_1`) TensorFlow's default.
    discriminator = keras_electra.ElectraDiscriminator(
        wide_backbone(embedding_dim=64)
    )
    assert_initializers(discriminator.rtd_dense, glorot=False)
    assert_initializers(discriminator.rtd_logits, glorot=True)
