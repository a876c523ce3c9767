"""keras-electra: ELECTRA pre-training and fine-tuning on any Keras 3 backend.

Public names are imported lazily, so that `import keras_electra` (and the
command line) can choose the Keras backend before Keras is imported.
"""

import importlib

from keras_electra.utils import preset_utils as _preset_utils
from keras_electra.version import __version__


def _import_preset_formats():
    # The converters register the preset loader and the released pairs
    # with `utils/preset_utils.py` when imported; imported here, at the
    # first preset lookup, so that `import keras_electra` loads no backend.
    import keras_electra.conversion  # noqa: F401


_preset_utils.add_format_import_hook(_import_preset_formats)

_EXPORTS = {
    "ElectraBackbone": "keras_electra.models.electra_backbone",
    "ElectraDiscriminator": "keras_electra.models.electra_discriminator",
    "ElectraGenerator": "keras_electra.models.electra_generator",
    "ElectraMaskedLMPreprocessor": (
        "keras_electra.models.electra_masked_lm_preprocessor"
    ),
    "ElectraPretrainer": "keras_electra.models.electra_pretrainer",
    "ElectraPretrainerPreprocessor": (
        "keras_electra.models.electra_pretrainer_preprocessor"
    ),
    "ElectraMaskedLMPretrainer": (
        "keras_electra.models.electra_masked_lm_pretrainer"
    ),
    "ElectraTokenizer": "keras_electra.tokenizers.electra_tokenizer",
    "ElectraTextClassifier": "keras_electra.models.electra_text_classifier",
    "ElectraTextClassifierPreprocessor": (
        "keras_electra.models.electra_text_classifier_preprocessor"
    ),
    "ElectraClassifier": "keras_electra.models.electra_text_classifier",
    "ElectraClassifierPreprocessor": (
        "keras_electra.models.electra_text_classifier_preprocessor"
    ),
    "ElectraTokenClassifier": "keras_electra.models.electra_token_classifier",
    "ElectraTokenClassifierPreprocessor": (
        "keras_electra.models.electra_token_classifier_preprocessor"
    ),
    "ElectraQuestionAnswerer": (
        "keras_electra.models.electra_question_answerer"
    ),
    "ElectraQuestionAnswererPreprocessor": (
        "keras_electra.models.electra_question_answerer_preprocessor"
    ),
    "ElectraAdamW": "keras_electra.optimizers.electra_adamw",
    "ElectraLearningRateSchedule": "keras_electra.optimizers.electra_schedule",
    "ElectraEmbedding": "keras_electra.layers.electra_embedding",
    "pretrain": "keras_electra.jobs.pretrain",
    "finetune": "keras_electra.jobs.finetune",
    "predict_file": "keras_electra.jobs.predict",
}
_SUBMODULES = (
    "jobs",
    "metrics",
    "callbacks",
    "conversion",
    "data",
    "layers",
    "models",
    "optimizers",
    "tokenizers",
    "utils",
)


def presets(released=False):
    """Names of the built-in presets; with `released=True`, also Google's
    released pairs (`electra_base_uncased_en`, ...), which are fetched and
    converted on first use."""
    names = _preset_utils.builtin_presets()
    if released:
        names = names + _preset_utils.released_presets()
    return names


def __getattr__(name):
    if name in _EXPORTS:
        # The models package registers the presets with keras-hub: imported
        # first, so that `.presets` lists them on every class handed out
        # here, the tokenizer included (it sits below the models).
        importlib.import_module("keras_electra.models")
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_electra.{name}")
    raise AttributeError(f"module 'keras_electra' has no attribute '{name}'")


def __dir__():
    return sorted([*_EXPORTS, *_SUBMODULES, "presets", "__version__"])
