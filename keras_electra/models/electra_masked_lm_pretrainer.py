import keras
from keras import ops
from keras_hub.models import Task

from keras_electra.layers.electra_masked_lm_head import ElectraMaskedLMHead
from keras_electra.layers.initializers import electra_kernel_initializer
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_finetuning_mixin import check_sequence_length
from keras_electra.models.electra_pretrainer_preprocessor import (
    ElectraPretrainerPreprocessor,
)
from keras_electra.models.pretraining_mixin import PretrainingMixin
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraMaskedLMPretrainer(
    PretrainingMixin, TorchParametersMixin, PresetMixin, Task
):
    """The masked-LM baseline: BERT-style pre-training of an ELECTRA encoder.

    The paper's comparison point for replaced-token detection: the same
    encoder (as wide and deep as the discriminator, not the small
    generator) trained by masked language modelling alone, on the same
    data, tokenizer and optimizer (`ElectraAdamW`, warm-up then linear
    decay). Each step, inside the compiled graph:

    1. **Dynamic masking** as in `ElectraPretrainer` (15% of the real
       tokens other than [CLS], [SEP], [MASK], [PAD]), but with BERT's
       split: 80% of the chosen positions become [MASK], 10% a token drawn
       uniformly from the vocabulary and 10% keep theirs.
    2. The encoder reads the masked sequence and the MLM head (ELECTRA's:
       dense + exact GELU + LayerNorm, then the tied word-embedding table
       and a bias) runs at the chosen positions only.
    3. `loss` is the mean cross-entropy over the real prediction slots.

    The backbone's accelerator options (`ElectraBackbone(attention_dropout=
    0.0, pad_vocabulary_to_multiple_of=64)`, departures from the reference)
    apply here as in `ElectraPretrainer`: the head's logits are as wide as
    the padded token table, with -1e9 for the padding rows, so neither the
    random replacements nor the predictions ever use them.

    Its `backbone` is the encoder: `save_to_preset` writes it as the
    preset's backbone, which `ElectraBackbone.from_preset` and the
    fine-tuning tasks load exactly as they load a discriminator, so the two
    objectives compare on one path. `from_preset` takes any backbone preset
    (a built-in name builds random weights of that size).

    Args:
        backbone: `keras_electra.ElectraBackbone`, the encoder to train.
        mask_rate: fraction of tokens to predict (0.15).
        max_predictions: static prediction slots per sequence; `None`
            means `int((mask_rate + 0.005) * sequence_length)`.
        mask_token_rate: fraction of the chosen positions made [MASK] (0.8).
        random_token_rate: fraction given a random token (0.1).
        pad_token_id, cls_token_id, sep_token_id, mask_token_id: special ids
            of the vocabulary (BERT's uncased vocabulary by default).
        learning_rate, num_train_steps, warmup_steps, weight_decay: the
            optimizer `compile()` builds, as in `ElectraPretrainer`.
        seed: seed of the masking `SeedGenerator`.
        preprocessor: optional `ElectraPretrainerPreprocessor`: with it
            `fit` takes raw strings (or a `tf.data.Dataset` of them), as in
            `ElectraPretrainer`; `from_preset` builds it for a preset saved
            with its tokenizer. Dicts of token ids skip it. It does no
            masking: the task masks in its graph.
        dtype: dtype policy of the head (defaults to the backbone's).

    Example:
    ```python
    import numpy as np
    import keras_electra

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=200, num_layers=1, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=32,
    )
    mlm = keras_electra.ElectraMaskedLMPretrainer(
        backbone, pad_token_id=0, cls_token_id=2, sep_token_id=3,
        mask_token_id=4,
    )
    mlm.compile(num_train_steps=10, warmup_steps=1)
    token_ids = np.random.randint(5, 200, size=(8, 32)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 2, 3
    data = {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": np.ones_like(token_ids),
    }
    mlm.fit(data, batch_size=4, epochs=1)
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraPretrainerPreprocessor
    loss_description = "masked-LM cross-entropy"
    loss_advice = "there is nothing to weight"

    def __init__(
        self,
        backbone,
        mask_rate=0.15,
        max_predictions=None,
        mask_token_rate=0.8,
        random_token_rate=0.1,
        pad_token_id=0,
        cls_token_id=101,
        sep_token_id=102,
        mask_token_id=103,
        learning_rate=5e-4,
        num_train_steps=1_000_000,
        warmup_steps=10_000,
        weight_decay=0.01,
        seed=None,
        preprocessor=None,
        dtype=None,
        **kwargs,
    ):
        if not 0.0 < mask_rate < 1.0:
            raise ValueError(f"`mask_rate` must be in (0, 1). Got {mask_rate}.")
        check_sequence_length(backbone, preprocessor)
        dtype = dtype or backbone.dtype_policy
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.corruption = self._make_corruption(
            pad_token_id=pad_token_id,
            cls_token_id=cls_token_id,
            sep_token_id=sep_token_id,
            mask_token_id=mask_token_id,
            mask_rate=mask_rate,
            max_predictions=max_predictions,
            mask_token_rate=mask_token_rate,
            random_token_rate=random_token_rate,
            vocabulary_size=backbone.vocabulary_size,
            seed=seed,
            dtype=dtype,
        )
        self.mlm_head = ElectraMaskedLMHead(
            token_embedding=backbone.token_embedding,
            # A token table padded for tensor cores has rows no token has:
            # never predicted (their logits are -1e9).
            predicted_vocabulary_size=backbone.vocabulary_size,
            intermediate_activation="gelu",
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            kernel_initializer=electra_kernel_initializer(),
            dtype=dtype,
            name="mlm_head",
        )
        # === Functional Model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        masked = self.corruption(
            (inputs["token_ids"], inputs["padding_mask"]), step="mask"
        )
        sequence = backbone(
            {
                "token_ids": masked["masked_ids"],
                "segment_ids": inputs["segment_ids"],
                "padding_mask": inputs["padding_mask"],
            }
        )
        logits = self.mlm_head(
            sequence, mask_positions=masked["mask_positions"]
        )
        outputs = {
            "logits": ops.cast(logits, "float32"),
            "masked_ids": masked["masked_ids"],
            "mask_positions": masked["mask_positions"],
            "mask_ids": masked["mask_ids"],
            "mask_weights": masked["mask_weights"],
        }
        super().__init__(
            inputs=inputs,
            outputs=outputs,
            compile=False,
            dtype=dtype,
            **kwargs,
        )
        # === Metrics ===
        self.mlm_loss_tracker = keras.metrics.Mean("mlm_loss")
        self.mlm_accuracy = keras.metrics.Mean("mlm_accuracy")
        # === Config ===
        self.pad_token_id = pad_token_id
        self.cls_token_id = cls_token_id
        self.sep_token_id = sep_token_id
        self.learning_rate = learning_rate
        self.num_train_steps = num_train_steps
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.compile()

    # The masking's settings live in its layer (see `PretrainingMixin`).
    random_token_rate = property(lambda self: self.corruption.random_token_rate)

    def masked_lm_loss(self, y_pred):
        """Mean cross-entropy over the real prediction slots."""
        return self.masked_lm_cross_entropy(
            y_pred["mask_ids"], y_pred["logits"], y_pred["mask_weights"]
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        return self.total_loss(self.masked_lm_loss(y_pred))

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.update_masked_lm_metrics(
            self.mlm_loss_tracker, self.mlm_accuracy, y_pred["logits"], y_pred
        )
        return self.get_metrics_result()

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            "mask_rate": self.mask_rate,
            "max_predictions": self.max_predictions,
            "mask_token_rate": self.mask_token_rate,
            "random_token_rate": self.random_token_rate,
            "pad_token_id": self.pad_token_id,
            "cls_token_id": self.cls_token_id,
            "sep_token_id": self.sep_token_id,
            "mask_token_id": self.mask_token_id,
            "learning_rate": self.learning_rate,
            "num_train_steps": self.num_train_steps,
            "warmup_steps": self.warmup_steps,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "preprocessor": keras.layers.serialize(self.preprocessor),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if isinstance(config.get(key), dict):
                config[key] = keras.layers.deserialize(config[key])
        return cls(**config)
