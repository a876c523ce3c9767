import keras
from keras import ops
from keras_hub.models import Task

from keras_electra.layers.initializers import reference_default_initializer
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_finetuning_mixin import ElectraFinetuningMixin
from keras_electra.models.electra_finetuning_mixin import sparse_crossentropy
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraQuestionAnswerer(
    TorchParametersMixin, PresetMixin, ElectraFinetuningMixin, Task
):
    """Extractive question answering (SQuAD style) on ELECTRA.

    One dense layer gives a start and an end logit per token; padding
    positions are excluded (logit -1e9). The loss is the mean of the start
    and end cross-entropies. Unanswerable questions (SQuAD 2.0) point both
    ends at position 0, the [CLS] token. `ElectraQuestionAnswererPreprocessor`
    builds the inputs (question + context windows) and decodes the best
    span back to text.

    Where we differ from the reference: ELECTRA's SQuAD code uses XLNet's
    head (end logits conditioned on the start, plus a separate answerability
    classifier) and beam search over starts. This is the BERT head, as in
    transformers' `ElectraForQuestionAnswering`; its no-answer decision is the
    [CLS] span score against the best span.

    Args:
        backbone: `keras_electra.ElectraBackbone`.
        preprocessor: must be None: windowing changes the number of rows, so
            the preprocessor runs before the model (see its docstring).

    Example:
    ```python
    import numpy as np
    import keras_electra

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16,
    )
    qa = keras_electra.ElectraQuestionAnswerer(backbone)
    x = {
        "token_ids": np.array([[2, 7, 3, 8, 9, 3, 0]]),
        "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 0]]),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 0]]),
    }
    qa.predict(x, verbose=0)["start_logits"].shape  # (1, 7)
    ```
    """

    backbone_cls = ElectraBackbone

    def __init__(self, backbone, preprocessor=None, **kwargs):
        if preprocessor is not None:
            raise ValueError(
                "ElectraQuestionAnswerer takes no preprocessor: encode "
                "questions and contexts with "
                "ElectraQuestionAnswererPreprocessor first."
            )
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = None
        self.span_dense = keras.layers.Dense(
            2,
            kernel_initializer=reference_default_initializer(),
            dtype=backbone.dtype_policy,
            name="span_logits",
        )
        # === Functional model ===
        inputs = backbone.input
        logits = ops.cast(self.span_dense(backbone(inputs)), "float32")
        valid = ops.cast(inputs["padding_mask"], "bool")
        start = ops.where(valid, logits[..., 0], -1e9)
        end = ops.where(valid, logits[..., 1], -1e9)
        super().__init__(
            inputs=inputs,
            outputs={"start_logits": start, "end_logits": end},
            **kwargs,
        )

    def default_loss(self, reduction="sum"):
        return {
            "start_logits": sparse_crossentropy(reduction),
            "end_logits": sparse_crossentropy(reduction),
        }

    def compile(self, optimizer="auto", loss="auto", **kwargs):
        if loss == "auto":
            kwargs.setdefault(
                "loss_weights", {"start_logits": 0.5, "end_logits": 0.5}
            )
        super().compile(optimizer=optimizer, loss=loss, **kwargs)
