"""keras-electra: ELECTRA pre-training and fine-tuning on any Keras 3 backend."""

from keras_electra import data
from keras_electra import layers
from keras_electra import utils
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_discriminator import ElectraDiscriminator
from keras_electra.models.electra_generator import ElectraGenerator
from keras_electra.models.electra_pretrainer import ElectraPretrainer
from keras_electra.optimizers.electra_adamw import ElectraAdamW
from keras_electra.optimizers.electra_schedule import (
    ElectraLearningRateSchedule,
)
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
from keras_electra.utils.preset_utils import builtin_presets as presets
from keras_electra.version import __version__
