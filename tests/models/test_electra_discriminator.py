"""`ElectraDiscriminator`: the replaced-token detector as a keras-hub `Task`."""

from helpers import tiny_backbone
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
