import keras
from keras_hub.models import TextClassifier

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_finetuning_mixin import ElectraFinetuningMixin
from keras_electra.models.electra_finetuning_mixin import check_labels
from keras_electra.models.electra_finetuning_mixin import check_sequence_length
from keras_electra.models.electra_finetuning_mixin import dropout_and_dense
from keras_electra.models.electra_finetuning_mixin import sparse_crossentropy
from keras_electra.models.electra_text_classifier_preprocessor import (
    ElectraTextClassifierPreprocessor,
)
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTextClassifier(
    TorchParametersMixin, PresetMixin, ElectraFinetuningMixin, TextClassifier
):
    """Sentence (pair) classification or regression with ELECTRA's GLUE head.

    The head of Google's reference: the final hidden state of [CLS], dropout
    (0.1), one dense layer to `num_classes` logits. There is no pooler (unlike
    transformers' `ElectraForSequenceClassification`, which adds a dense +
    GELU layer first). With `num_classes=1` it is a regressor (STS-B style)
    trained with mean squared error.

    A keras-hub `TextClassifier`: with a preprocessor it takes raw strings
    (or pairs) in `fit`, `evaluate` and `predict`, and `from_preset` builds
    both from any preset `keras_electra` reads. `ElectraClassifier` is the
    same class under its earlier name.

    Args:
        backbone: `keras_electra.ElectraBackbone` (the pre-trained
            discriminator's).
        num_classes: number of classes, or 1 for regression.
        preprocessor: optional `ElectraTextClassifierPreprocessor`; with it the
            model takes raw strings.
        dropout: dropout on the [CLS] vector.

    Example:
    ```python
    import numpy as np
    import keras_electra

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16,
    )
    classifier = keras_electra.ElectraTextClassifier(backbone, num_classes=3)
    x = {
        "token_ids": np.array([[2, 7, 8, 3, 0]]),
        "segment_ids": np.zeros((1, 5), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]]),
    }
    classifier.compile(num_train_steps=10)  # ELECTRA's fine-tuning recipe
    classifier.fit(x, np.array([2]), verbose=0)
    classifier.predict(x, verbose=0).shape  # (1, 3)
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraTextClassifierPreprocessor

    def __init__(
        self, backbone, num_classes, preprocessor=None, dropout=0.1, **kwargs
    ):
        if int(num_classes) < 1:
            raise ValueError(
                f"`num_classes` must be at least 1 (1 for regression). "
                f"Received: {num_classes}"
            )
        check_sequence_length(backbone, preprocessor)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout, self.output_dense = dropout_and_dense(
            backbone, num_classes, dropout, "classifier_dropout"
        )
        # === Functional model ===
        inputs = backbone.input
        sequence = backbone(inputs)
        x = self.output_dropout(sequence[:, 0, :])
        outputs = self.output_dense(x)
        # === Config === (before the base class, whose __init__ compiles)
        self.num_classes = int(num_classes)
        self.dropout = dropout
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def default_loss(self, reduction="sum"):
        if self.num_classes == 1:
            return keras.losses.MeanSquaredError(reduction=reduction)
        return sparse_crossentropy(reduction)

    def default_metrics(self):
        if self.num_classes == 1:
            return [keras.metrics.MeanAbsoluteError()], None
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")], None

    def fit(self, x=None, y=None, *args, **kwargs):
        check_labels(y, self.num_classes)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        check_labels(y, self.num_classes)
        return super().evaluate(x, y, *args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_classes": self.num_classes, "dropout": self.dropout}
        )
        return config


# The earlier name, kept for code and saved models that use it.
ElectraClassifier = ElectraTextClassifier
keras.saving.get_custom_objects()["keras_electra>ElectraClassifier"] = (
    ElectraTextClassifier
)
