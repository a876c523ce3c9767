"""The models, one public class per module.

Importing this package (any model module imports it first) registers the
classes with Keras and keras-electra's presets with keras-hub (its way:
BERT's `models/bert/__init__.py` there), so that `ElectraBackbone.presets`,
every task's and preprocessor's `.presets` and `ElectraTokenizer.presets`
list them, and a preset's `task.json` finds its class by name.
"""

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_discriminator import ElectraDiscriminator
from keras_electra.models.electra_generator import ElectraGenerator
from keras_electra.models.electra_masked_lm_preprocessor import (
    ElectraMaskedLMPreprocessor,
)
from keras_electra.models.electra_masked_lm_pretrainer import (
    ElectraMaskedLMPretrainer,
)
from keras_electra.models.electra_presets import backbone_presets
from keras_electra.models.electra_pretrainer import ElectraPretrainer
from keras_electra.models.electra_pretrainer_preprocessor import (
    ElectraPretrainerPreprocessor,
)
from keras_electra.models.electra_question_answerer import (
    ElectraQuestionAnswerer,
)
from keras_electra.models.electra_question_answerer_preprocessor import (
    ElectraQuestionAnswererPreprocessor,
)
from keras_electra.models.electra_text_classifier import ElectraTextClassifier
from keras_electra.models.electra_text_classifier_preprocessor import (
    ElectraTextClassifierPreprocessor,
)
from keras_electra.models.electra_token_classifier import ElectraTokenClassifier
from keras_electra.models.electra_token_classifier_preprocessor import (
    ElectraTokenClassifierPreprocessor,
)
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
from keras_electra.utils.keras_hub_private import register_presets

register_presets(backbone_presets, ElectraBackbone)
# The tokenizer sits below the models and has no `backbone_cls` to reach
# the backbone's presets through.
register_presets(backbone_presets, ElectraTokenizer)
