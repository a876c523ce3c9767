import keras
import numpy as np
from keras_hub.models import Task

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_finetuning_mixin import ElectraFinetuningMixin
from keras_electra.models.electra_finetuning_mixin import check_labels
from keras_electra.models.electra_finetuning_mixin import check_sequence_length
from keras_electra.models.electra_finetuning_mixin import dropout_and_dense
from keras_electra.models.electra_finetuning_mixin import sparse_crossentropy
from keras_electra.models.electra_token_classifier_preprocessor import (
    ElectraTokenClassifierPreprocessor,
)
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenClassifier(
    TorchParametersMixin, PresetMixin, ElectraFinetuningMixin, Task
):
    """Per-token labels (NER, part-of-speech) on ELECTRA.

    The reference's tagging head: a dense layer to `num_classes` logits on
    every position, with no dropout of its own (the encoder's dropout still
    applies) and a glorot-uniform kernel. Train it with the
    `(x, y, sample_weight)` that `ElectraTokenClassifierPreprocessor`
    produces: only the first wordpiece of each word carries a label and
    weight, and every token has segment id 1, as in the reference;
    `compile()` sums the loss over the labelled tokens and the batch, as the
    reference does, and weights the accuracy.

    Args:
        backbone: `keras_electra.ElectraBackbone`.
        num_classes: number of tags.
        preprocessor: optional `ElectraTokenClassifierPreprocessor`.
        dropout: float. Dropout before the output layer (0 in the
            reference).

    Example:
    ```python
    import numpy as np
    import keras_electra

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16,
    )
    tagger = keras_electra.ElectraTokenClassifier(backbone, num_classes=5)
    x = {
        "token_ids": np.array([[2, 7, 8, 3]]),
        "segment_ids": np.zeros((1, 4), "int32"),
        "padding_mask": np.ones((1, 4), "int32"),
    }
    tagger.predict(x, verbose=0).shape  # (1, 4, 5)
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraTokenClassifierPreprocessor

    def __init__(
        self, backbone, num_classes, preprocessor=None, dropout=0.0, **kwargs
    ):
        if int(num_classes) < 2:
            raise ValueError(
                f"`num_classes` must be at least 2. Received: {num_classes}"
            )
        check_sequence_length(backbone, preprocessor)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout, self.output_dense = dropout_and_dense(
            backbone, num_classes, dropout, "tagger_dropout"
        )
        # === Functional model ===
        inputs = backbone.input
        x = self.output_dropout(backbone(inputs))
        outputs = self.output_dense(x)
        # === Config === (before the base class, whose __init__ compiles)
        self.num_classes = int(num_classes)
        self.dropout = dropout
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def default_loss(self, reduction="sum"):
        return sparse_crossentropy(reduction)

    def default_metrics(self):
        return None, [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def fit(self, x=None, y=None, *args, **kwargs):
        check_labels(y, self.num_classes, "tags")
        return super().fit(x, y, *args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_classes": self.num_classes, "dropout": self.dropout}
        )
        return config


def first_piece_predictions(logits, sample_weight):
    """Per-word predicted tags: the argmax at each word's first wordpiece.

    `sample_weight` is the preprocessor's (1 on first wordpieces). Returns a
    list of integer arrays, one per sequence (words cut off by truncation
    are missing at the end).
    """
    predictions = np.argmax(np.asarray(logits), axis=-1)
    weights = np.asarray(sample_weight) > 0
    return [row[mask] for row, mask in zip(predictions, weights)]
