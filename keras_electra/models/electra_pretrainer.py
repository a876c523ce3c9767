"""`ElectraPretrainer`: the joint generator + discriminator task.

Over 400 lines for a reason: one class whose docstring spells out the
reference's method step by step, its seven training metrics, the paper's
optimizer defaults and the config round trip that restores the shared
embedding block. The corruption itself lives in
`layers/electra_corruption.py` and `layers/electra_masking.py`.
"""

import contextlib
import copy

import keras
from keras import ops
from keras_hub.models import Task

from keras_electra.layers import electra_masking
from keras_electra.layers.embedding_sharing import resolve_embedding_sharing
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_discriminator import ElectraDiscriminator
from keras_electra.models.electra_finetuning_mixin import check_sequence_length
from keras_electra.models.electra_generator import ElectraGenerator
from keras_electra.models.electra_pretrainer_preprocessor import (
    ElectraPretrainerPreprocessor,
)
from keras_electra.models.pretraining_mixin import PretrainingMixin
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin

# Backbone arguments that must agree between the two towers; `from_preset` and
# `from_config` apply overrides of these to both. The two towers share their
# embedding block (tied) or, with GDES, add up two tables of one shape, so
# they need one `pad_vocabulary_to_multiple_of`; `attention_dropout` follows
# `dropout`, which the reference gives both towers.
SHARED_BACKBONE_ARGS = (
    "vocabulary_size",
    "embedding_dim",
    "max_sequence_length",
    "num_segments",
    "dropout",
    "layer_norm_epsilon",
    "attention_dropout",
    "pad_vocabulary_to_multiple_of",
)

# Those of them that change the shapes of weights: an override of one cannot
# apply to a preset's saved weights.
SIZE_CHANGING_BACKBONE_ARGS = (
    "vocabulary_size",
    "embedding_dim",
    "max_sequence_length",
    "num_segments",
    "pad_vocabulary_to_multiple_of",
)


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraPretrainer(
    PretrainingMixin, TorchParametersMixin, PresetMixin, Task
):
    """Joint ELECTRA pre-training: generator + discriminator in one `fit`.

    Each step, inside the compiled graph and on every backend:
    1. **Dynamic masking** with the model's own `SeedGenerator`: candidates
       are real tokens other than [CLS], [SEP], [MASK], [PAD];
       `max(1, round(mask_rate * num_real_tokens))` of them are chosen,
       capped by `max_predictions` (`int((mask_rate + 0.005) * length)` by
       default) so shapes stay static; 85% of the chosen positions become
       [MASK] and 15% keep the original token (no random tokens).
    2. The **generator** predicts the original tokens, with its head computed
       only at the chosen positions; its MLM loss is the mean cross-entropy
       over the real prediction slots.
    3. Tokens are **sampled** from the generator's softmax (Gumbel-max,
       temperature 1.0) with the gradient stopped, and written into the
       original sequence; the discriminator never sees [MASK].
    4. The **discriminator** labels each token: 1 only where the sampled token
       differs from the original (a correct guess counts as original). Its
       loss is the sigmoid cross-entropy over all non-padding tokens.
    5. `loss = generator_weight * mlm + discriminator_weight * rtd` (1 and 50).

    Devices: the step has static shapes (the prediction slots are fixed by
    the sequence length) and no host round-trip, so it compiles the same
    way for GPU and TPU. What can differ there: `top_k` over positions and
    the `[batch, slots, vocabulary]` Gumbel noise are the two costly
    non-matmul ops (the noise dominates random-number time with a 30k
    vocabulary); under `mixed_bfloat16` the towers' matmuls run in bfloat16
    while masking, sampling, softmax, LayerNorm and losses stay float32; and
    on PyTorch Keras runs eagerly unless `compile(jit_compile=True)`.

    A keras-hub `Task` whose `backbone` is the discriminator's backbone (what
    users fine-tune): `save_to_preset` writes it as the preset's backbone and
    the generator and both heads as task weights, and `from_preset` reads
    every format `keras_electra` knows. Inputs that already carry
    `mask_positions` (with `mask_ids` and `mask_weights`, and `token_ids`
    masked, as `ElectraMaskedLMPreprocessor` makes them) skip the in-graph
    masking, so a fixed corruption can be fed in.

    Raw text: with a `preprocessor` (`ElectraPretrainerPreprocessor`, which
    `from_preset` builds for a preset saved with its tokenizer, as
    `keras-electra pretrain` saves them) `fit` takes strings or a
    `tf.data.Dataset` of strings, one example each, as keras-hub's tasks
    do; `from_preset(preset, sequence_length=...)` sets its length.
    Dicts of token ids skip the preprocessor, so packed data
    (`keras_electra.data`) trains the same with or without one.

    The math lives in `call()` (corruption and forward passes),
    `compute_loss()` and `compute_metrics()`; Keras' own backend train steps
    call them, so `fit`, `evaluate` and `predict` are the same code on
    TensorFlow, JAX and PyTorch, jit-compiled where the backend supports it.

    Args:
        generator: `keras_electra.ElectraGenerator`, sharing its backbone's
            embedding block with the discriminator's backbone.
        discriminator: `keras_electra.ElectraDiscriminator`.
        mask_rate: fraction of tokens to predict (0.15; 0.25 for large).
        max_predictions: static number of prediction slots per sequence;
            `None` means `int((mask_rate + 0.005) * sequence_length)`.
        mask_token_rate: fraction of chosen positions replaced by [MASK].
        temperature: generator sampling temperature.
        generator_weight: weight of the MLM loss.
        discriminator_weight: weight of the RTD loss.
        pad_token_id, cls_token_id, sep_token_id, mask_token_id: special ids
            of the vocabulary (BERT's uncased vocabulary by default).
        learning_rate: peak learning rate used by `compile()`.
        num_train_steps: length of the run for the learning-rate decay.
        warmup_steps: linear warm-up steps (10,000 in the paper).
        weight_decay: decoupled weight decay.
        seed: seed of the masking and sampling `SeedGenerator`.
        embedding_sharing: `"tied"` (the paper, and the reference's
            default): one embedding block serves both towers, so the
            generator's MLM softmax, whose tied output layer pushes every
            vocabulary row at every step, also trains the discriminator's
            input embeddings. `"untied"` is the reference's
            `untied_generator_embeddings`: the generator has its own
            embedding block, as wide as its hidden layer and with no
            projection, and the discriminator's embeddings learn from
            replaced-token detection only. `"gdes"` is DeBERTaV3's
            gradient-disentangled sharing: the discriminator looks tokens up
            in `stop_gradient(generator's table) + its own residual table`
            (zero at first), so MLM alone trains the shared table and RTD
            alone the residual; presets store the sum as the backbone's
            table, so fine-tuning sees one ordinary table. The paper found
            tying slightly better at scale; in short runs of small models
            the softmax push lines the rare tokens' embeddings up along one
            direction (see `electra_tiny` in the README), which the other
            two avoid.
        tie_embeddings: the older boolean form: `True` is `"tied"`,
            `False` `"untied"`.
        replacement: what replaces the chosen positions, a strategy of
            `layers.electra_replacement.REPLACEMENTS`: `"generator"`
            (ELECTRA) or `"uniform"`: tokens drawn uniformly from the
            vocabulary, the generator left out (the reference's
            `uniform_generator`). A strategy without `needs_generator`
            leaves the generator's own weights untrained and its logged
            loss the constant `log(vocabulary_size)`.
        temperature_start, temperature_steps: a temperature schedule:
            sample at `temperature_start` at first, falling linearly to
            `temperature` over `temperature_steps` training steps (counted
            per training call, so per micro-batch when accumulating).
            `None` (default) keeps `temperature` constant.
        preprocessor: optional `ElectraPretrainerPreprocessor` (or any
            keras-hub preprocessor giving `token_ids`, `segment_ids` and
            `padding_mask`), run over the inputs of `fit`, `evaluate` and
            `predict`; `None` takes token ids only.

    Example:
    ```python
    import numpy as np
    import keras_electra

    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        "electra_tiny", vocabulary_size=200, pad_token_id=0, cls_token_id=2,
        sep_token_id=3, mask_token_id=4,
    )
    pretrainer.compile(num_train_steps=10, warmup_steps=1)
    token_ids = np.random.randint(5, 200, size=(8, 32)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 2, 3
    data = {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": np.ones_like(token_ids),
    }
    pretrainer.fit(data, batch_size=4, epochs=1)
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraPretrainerPreprocessor
    loss_description = "MLM + 50 x RTD"
    loss_advice = "set `generator_weight` / `discriminator_weight`"

    def __init__(
        self,
        generator,
        discriminator,
        mask_rate=0.15,
        max_predictions=None,
        mask_token_rate=0.85,
        temperature=1.0,
        generator_weight=1.0,
        discriminator_weight=50.0,
        pad_token_id=0,
        cls_token_id=101,
        sep_token_id=102,
        mask_token_id=103,
        learning_rate=5e-4,
        num_train_steps=1_000_000,
        warmup_steps=10_000,
        weight_decay=0.01,
        seed=None,
        tie_embeddings=None,
        embedding_sharing=None,
        replacement="generator",
        temperature_start=None,
        temperature_steps=0,
        preprocessor=None,
        **kwargs,
    ):
        embedding_sharing = resolve_embedding_sharing(
            tie_embeddings, embedding_sharing
        )
        tie_embeddings = embedding_sharing == "tied"
        shared = (
            generator.backbone.embedding is discriminator.backbone.embedding
        )
        if tie_embeddings and not shared:
            raise ValueError(
                "The generator and the discriminator must share one embedding "
                "block, as in ELECTRA. Build the generator's backbone with "
                "`embedding=discriminator.backbone.embedding`, or pass "
                "`tie_embeddings=False` for two separate blocks."
            )
        if not tie_embeddings and shared:
            raise ValueError(
                f"`embedding_sharing={embedding_sharing!r}` needs a generator "
                "with its own embedding block, but both towers share one. "
                "Build the generator's backbone without `embedding=...`."
            )
        if embedding_sharing == "gdes":
            _check_gdes_tables(generator, discriminator)
        if not 0.0 < mask_rate < 1.0:
            raise ValueError(f"`mask_rate` must be in (0, 1). Got {mask_rate}.")
        check_sequence_length(discriminator.backbone, preprocessor)
        # === Layers ===
        self.generator = generator
        self.discriminator = discriminator
        self.backbone = discriminator.backbone
        self.preprocessor = preprocessor
        self.corruption = self._make_corruption(
            pad_token_id=pad_token_id,
            cls_token_id=cls_token_id,
            sep_token_id=sep_token_id,
            mask_token_id=mask_token_id,
            mask_rate=mask_rate,
            max_predictions=max_predictions,
            mask_token_rate=mask_token_rate,
            temperature=temperature,
            seed=seed,
            replacement=replacement,
            temperature_start=temperature_start,
            temperature_steps=temperature_steps,
            dtype=discriminator.backbone.dtype_policy,
        )
        self.embedding_sharing = embedding_sharing
        if embedding_sharing == "gdes":
            _link_gdes(generator, discriminator, fresh=True)
        if not self.corruption.strategy.needs_generator:
            _freeze_own_layers(generator, keep=discriminator.backbone.embedding)
        # === Functional Model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        masked = self.corruption(
            (inputs["token_ids"], inputs["padding_mask"]), step="mask"
        )
        outputs = self._forward(inputs, inputs["token_ids"], masked)
        super().__init__(
            inputs=inputs, outputs=outputs, compile=False, **kwargs
        )
        # === Metrics (updated in `compute_metrics`) ===
        self.generator_loss_tracker = keras.metrics.Mean("generator_loss")
        self.generator_accuracy = keras.metrics.Mean("generator_accuracy")
        self.discriminator_loss_tracker = keras.metrics.Mean(
            "discriminator_loss"
        )
        self.discriminator_accuracy = keras.metrics.Mean(
            "discriminator_accuracy"
        )
        self.discriminator_precision = keras.metrics.Mean(
            "discriminator_precision"
        )
        self.discriminator_recall = keras.metrics.Mean("discriminator_recall")
        self.replaced_fraction = keras.metrics.Mean("replaced_fraction")
        # The loss of a discriminator that knows only the base rate of
        # replacement and that [CLS] and [SEP] are never replaced: the
        # baseline of its loss (below it, it has learned something).
        self.discriminator_prior_loss = keras.metrics.Mean(
            "discriminator_prior_loss"
        )
        # Threshold-free: meaningful even while the discriminator flags
        # almost nothing (where precision rests on a handful of tokens).
        self.discriminator_auc = keras.metrics.AUC(
            name="discriminator_auc", from_logits=True
        )
        # How often the generator's sample is the original token (those
        # slots count as "original" for the discriminator), as the
        # reference logs it.
        self.sampled_accuracy = keras.metrics.Mean("sampled_accuracy")
        # === Config ===
        self.generator_weight = generator_weight
        self.discriminator_weight = discriminator_weight
        self.pad_token_id = pad_token_id
        self.cls_token_id = cls_token_id
        self.sep_token_id = sep_token_id
        self.learning_rate = learning_rate
        self.num_train_steps = num_train_steps
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.tie_embeddings = tie_embeddings
        self.compile()

    # Logs that count tokens beside a weighted mean (`TrainingLog`): the
    # tokens the discriminator flagged, and those really replaced.
    window_counts = {
        "discriminator_precision": "discriminator_flagged",
        "discriminator_recall": "discriminator_replaced",
    }

    # The corruption's settings live in its layer; read them from there.
    replacement = property(lambda self: self.corruption.replacement)
    replacement_strategy = property(lambda self: self.corruption.strategy)
    temperature_start = property(lambda self: self.corruption.temperature_start)
    temperature_steps = property(lambda self: self.corruption.temperature_steps)
    temperature = property(lambda self: self.corruption.temperature)

    def _forward(self, inputs, token_ids, masked, training=None):
        """Generator, sampling and discriminator on a masked batch."""
        segment_ids = inputs["segment_ids"]
        padding_mask = inputs["padding_mask"]
        if not self.corruption.strategy.needs_generator:
            # The generator is left out: its logits are all equal (as in
            # the reference's `uniform_generator`), so its loss is a
            # constant, and the strategy samples without them.
            generator_logits = _uniform_logits(
                masked["mask_positions"],
                self.discriminator.backbone.vocabulary_size,
            )
        else:
            generator_logits = self.generator(
                {
                    "token_ids": masked["masked_ids"],
                    "segment_ids": segment_ids,
                    "padding_mask": padding_mask,
                    "mask_positions": masked["mask_positions"],
                },
                training=training,
            )
        replaced = self.corruption(
            (
                generator_logits,
                token_ids,
                masked["mask_positions"],
                masked["mask_weights"],
                padding_mask,
            ),
            step="replace",
            training=training,
        )
        discriminator_logits = self.discriminator(
            {
                "token_ids": replaced["corrupted_ids"],
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
            },
            training=training,
        )
        return {
            "generator_logits": replaced["generator_logits"],
            "mask_positions": masked["mask_positions"],
            "mask_ids": masked["mask_ids"],
            "mask_weights": masked["mask_weights"],
            "masked_ids": masked["masked_ids"],
            "sampled_ids": replaced["sampled_ids"],
            "corrupted_ids": replaced["corrupted_ids"],
            "replaced_labels": replaced["replaced_labels"],
            "discriminator_logits": ops.cast(discriminator_logits, "float32"),
            "padding_mask": ops.cast(padding_mask, "float32"),
        }

    def call(self, inputs, training=None, mask=None):
        if "mask_positions" in inputs:
            inputs = {k: ops.convert_to_tensor(v) for k, v in inputs.items()}
            masked = self._given_corruption(inputs)
            token_ids = masked.pop("token_ids")
            return self._forward(inputs, token_ids, masked, training)
        inputs = {
            k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")
        }
        return super().call(inputs, training=training, mask=mask)

    def _given_corruption(self, inputs):
        """A corruption made outside (e.g. `ElectraMaskedLMPreprocessor`).

        `token_ids` are the masked ids; the originals are the masked ids with
        `mask_ids` written back at the real `mask_positions`.
        """
        for key in ("mask_ids", "mask_weights"):
            if key not in inputs:
                raise ValueError(
                    "Inputs with `mask_positions` must also carry "
                    f"`{key}`: the original ids at those positions "
                    "(`mask_ids`) and 1/0 for real/unused slots "
                    "(`mask_weights`). From an `ElectraMaskedLMPreprocessor`"
                    ": `ds.map(lambda x, y, w: {**x, 'mask_ids': y, "
                    "'mask_weights': w})`."
                )
        masked_ids = ops.cast(inputs["token_ids"], "int32")
        positions = ops.cast(inputs["mask_positions"], "int32")
        mask_ids = ops.cast(inputs["mask_ids"], "int32")
        weights = ops.cast(inputs["mask_weights"], "float32")
        original, _ = electra_masking.replace_tokens(
            masked_ids, positions, weights, mask_ids, inputs["padding_mask"]
        )
        return {
            "token_ids": original,
            "masked_ids": masked_ids,
            "mask_positions": positions,
            "mask_ids": mask_ids,
            "mask_weights": weights,
        }

    # === Losses ===

    def generator_loss(self, y_pred):
        """Mean cross-entropy over the real prediction slots."""
        return self.masked_lm_cross_entropy(
            y_pred["mask_ids"],
            y_pred["generator_logits"],
            y_pred["mask_weights"],
        )

    def discriminator_loss(self, y_pred):
        """Mean sigmoid cross-entropy over the non-padding tokens."""
        losses = ops.binary_crossentropy(
            y_pred["replaced_labels"],
            y_pred["discriminator_logits"],
            from_logits=True,
        )
        weights = y_pred["padding_mask"]
        return ops.sum(losses * weights) / (ops.sum(weights) + 1e-6)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        return self.total_loss(
            self.generator_weight * self.generator_loss(y_pred)
            + self.discriminator_weight * self.discriminator_loss(y_pred)
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.update_masked_lm_metrics(
            self.generator_loss_tracker,
            self.generator_accuracy,
            y_pred["generator_logits"],
            y_pred,
        )
        weights = y_pred["mask_weights"]
        num_slots = ops.sum(weights)

        real = y_pred["padding_mask"]
        labels = y_pred["replaced_labels"]
        flagged = ops.cast(y_pred["discriminator_logits"] > 0, "float32") * real
        num_real = ops.sum(real)
        num_replaced = ops.sum(labels)
        num_flagged = ops.sum(flagged)
        true_positives = ops.sum(flagged * labels)
        agree = ops.cast(ops.equal(flagged, labels), "float32") * real
        # Weighted by the real tokens, as its baseline below is.
        self.discriminator_loss_tracker.update_state(
            self.discriminator_loss(y_pred), sample_weight=num_real
        )
        # Ratios are weighted by their denominators, so the running means are
        # the exact ratios over everything seen since the last reset.
        self.discriminator_accuracy.update_state(
            ops.sum(agree) / ops.maximum(num_real, 1.0), sample_weight=num_real
        )
        self.discriminator_precision.update_state(
            true_positives / ops.maximum(num_flagged, 1.0),
            sample_weight=num_flagged,
        )
        self.discriminator_recall.update_state(
            true_positives / ops.maximum(num_replaced, 1.0),
            sample_weight=num_replaced,
        )
        self.replaced_fraction.update_state(
            num_replaced / ops.maximum(num_real, 1.0), sample_weight=num_real
        )
        # ([CLS] and [SEP] are never corrupted.)
        token_ids = y_pred["corrupted_ids"]
        candidates = ops.sum(
            real
            * ops.cast(ops.not_equal(token_ids, self.cls_token_id), "float32")
            * ops.cast(ops.not_equal(token_ids, self.sep_token_id), "float32")
        )
        rate = ops.clip(
            num_replaced / ops.maximum(candidates, 1.0), 1e-7, 1.0 - 1e-7
        )
        entropy = -(rate * ops.log(rate) + (1.0 - rate) * ops.log(1.0 - rate))
        self.discriminator_prior_loss.update_state(
            entropy * candidates / ops.maximum(num_real, 1.0),
            sample_weight=num_real,
        )
        self.discriminator_auc.update_state(
            labels, y_pred["discriminator_logits"], sample_weight=real
        )
        sampled = ops.take_along_axis(
            y_pred["corrupted_ids"], y_pred["mask_positions"], axis=1
        )
        same = ops.cast(ops.equal(sampled, y_pred["mask_ids"]), "float32")
        self.sampled_accuracy.update_state(
            ops.sum(same * weights) / ops.maximum(num_slots, 1.0),
            sample_weight=num_slots,
        )
        return self.get_metrics_result()

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.layers.serialize(self.generator),
            "discriminator": keras.layers.serialize(self.discriminator),
            "mask_rate": self.mask_rate,
            "max_predictions": self.max_predictions,
            "mask_token_rate": self.mask_token_rate,
            "temperature": self.temperature,
            "generator_weight": self.generator_weight,
            "discriminator_weight": self.discriminator_weight,
            "pad_token_id": self.pad_token_id,
            "cls_token_id": self.cls_token_id,
            "sep_token_id": self.sep_token_id,
            "mask_token_id": self.mask_token_id,
            "learning_rate": self.learning_rate,
            "num_train_steps": self.num_train_steps,
            "warmup_steps": self.warmup_steps,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "tie_embeddings": self.tie_embeddings,
            "embedding_sharing": self.embedding_sharing,
            "replacement": self.replacement,
            "temperature_start": self.temperature_start,
            "temperature_steps": self.temperature_steps,
            "preprocessor": keras.layers.serialize(self.preprocessor),
        }

    @classmethod
    def from_config(cls, config):
        """Rebuild both towers, with one shared embedding block when tied.

        Besides the pretrainer's own arguments, `config` may carry overrides
        of the arguments in `SHARED_BACKBONE_ARGS` and `dtype`; they apply to
        both towers (this is how `from_preset(..., vocabulary_size=...)`
        works, and how `from_preset(..., attention_dropout=0.0,
        pad_vocabulary_to_multiple_of=64)` gives both towers the backbone's
        accelerator options). `generator_embedding_dim` sets the width of an
        untied generator's own embedding block. `generator_size` (a
        fraction, e.g. 0.25) rebuilds the generator as wide as that fraction
        of the discriminator's hidden layer (the reference's
        `generator_hidden_size`), with 64-wide heads, a feed-forward 4x as
        wide and the same depth; its weights are new.
        """
        config = dict(config)
        # A layer, not copied (nor, when serialized, touched by overrides).
        preprocessor = config.pop("preprocessor", None)
        if isinstance(preprocessor, dict):
            preprocessor = keras.layers.deserialize(preprocessor)
        config = copy.deepcopy(config)
        overrides = {
            key: config.pop(key)
            for key in SHARED_BACKBONE_ARGS
            if key in config
        }
        dtype = config.pop("dtype", None)
        if dtype is not None:
            overrides["dtype"] = dtype
        generator_embedding_dim = config.pop("generator_embedding_dim", None)
        generator_size = config.pop("generator_size", None)
        towers = {}
        for tower in ("discriminator", "generator"):
            tower_config = config.pop(tower)
            if isinstance(tower_config, keras.Model):
                towers[tower] = tower_config
                continue
            backbone_config = tower_config["config"]["backbone"]
            backbone_config["config"].update(overrides)
            if dtype is not None:  # the heads too
                tower_config["config"]["dtype"] = dtype
            if tower == "generator" and generator_size is not None:
                discriminator_config = towers["discriminator"]
                if isinstance(discriminator_config, keras.Model):
                    width = discriminator_config.backbone.hidden_dim
                else:
                    width = discriminator_config["config"]["backbone"][
                        "config"
                    ]["hidden_dim"]
                _resize_generator(
                    backbone_config["config"],
                    generator_size,
                    width,
                    untied=resolve_embedding_sharing(
                        config.get("tie_embeddings"),
                        config.get("embedding_sharing"),
                    )
                    == "untied",
                )
            if tower == "generator" and generator_embedding_dim is not None:
                backbone_config["config"]["embedding_dim"] = int(
                    generator_embedding_dim
                )
            towers[tower] = tower_config
        discriminator = towers["discriminator"]
        if isinstance(discriminator, dict):
            discriminator = keras.saving.deserialize_keras_object(discriminator)
        generator = towers["generator"]
        sharing = resolve_embedding_sharing(
            config.get("tie_embeddings"), config.get("embedding_sharing")
        )
        if isinstance(generator, dict):
            generator_config = generator["config"]
            backbone_config = generator_config.pop("backbone")["config"]
            if sharing == "tied":
                backbone_config["embedding"] = discriminator.backbone.embedding
            backbone = ElectraBackbone.from_config(backbone_config)
            generator_config.pop("preprocessor", None)
            generator = ElectraGenerator(backbone=backbone, **generator_config)
        return cls(
            generator=generator,
            discriminator=discriminator,
            preprocessor=preprocessor,
            **config,
        )

    # === Presets ===

    def preset_weights(self):
        """With GDES, the backbone a preset holds (what fine-tuning loads)
        has the discriminator's whole table, shared + residual."""
        return self.gdes_merged()

    @contextlib.contextmanager
    def gdes_merged(self):
        """With `embedding_sharing="gdes"`: the discriminator's token table
        holds `shared + residual` (its effective table) inside this block,
        and its residual again after it, exactly. A no-op otherwise."""
        if self.embedding_sharing != "gdes":
            yield self
            return
        table = self.discriminator.backbone.token_embedding.embeddings
        shared = self.generator.backbone.token_embedding.embeddings
        residual = ops.convert_to_numpy(table)
        table.assign(residual + ops.convert_to_numpy(shared))
        try:
            yield self
        finally:
            table.assign(residual)

    def gdes_unlink(self):
        """With `embedding_sharing="gdes"`: give the discriminator its
        effective table (shared + residual) for good and unlink it from the
        generator's, e.g. to use the tower on its own. A no-op otherwise."""
        if self.embedding_sharing != "gdes":
            return
        table = self.discriminator.backbone.token_embedding.embeddings
        shared = self.generator.backbone.token_embedding.embeddings
        table.assign(ops.convert_to_numpy(table) + ops.convert_to_numpy(shared))
        self.discriminator.backbone.embedding.set_shared_token_table(None)

    def gdes_from_merged(self):
        """After loading a preset saved by `save_to_preset`: turn the
        discriminator's merged token table back into its residual."""
        if self.embedding_sharing != "gdes":
            return
        table = self.discriminator.backbone.token_embedding.embeddings
        shared = self.generator.backbone.token_embedding.embeddings
        table.assign(ops.convert_to_numpy(table) - ops.convert_to_numpy(shared))

    @classmethod
    def from_towers_config(
        cls,
        vocabulary_size,
        discriminator_config,
        generator_config,
        dtype=None,
        tie_embeddings=None,
        embedding_sharing=None,
        **kwargs,
    ):
        """Build a pretrainer from two backbone configurations.

        `discriminator_config` and `generator_config` hold `ElectraBackbone`
        arguments; the generator's shared arguments (`SHARED_BACKBONE_ARGS`:
        vocabulary, its padding, positions, segments, dropouts, LayerNorm
        epsilon) are taken from the discriminator's. Tied (the default), its
        embedding block is the discriminator's, width included. Untied, it
        is the reference's `untied_generator_embeddings`: the generator gets
        its own block, as wide as its hidden layer and with no projection,
        unless `generator_config` sets `embedding_dim`. With GDES, the
        generator's own block has the discriminator's width (its token
        table is the shared one, to which the discriminator adds its
        residual).
        """
        sharing = resolve_embedding_sharing(tie_embeddings, embedding_sharing)
        tie_embeddings = sharing == "tied"
        discriminator_backbone = ElectraBackbone(
            vocabulary_size=vocabulary_size, dtype=dtype, **discriminator_config
        )
        shared_args = SHARED_BACKBONE_ARGS
        generator_config = dict(generator_config)
        if tie_embeddings or sharing == "gdes":
            generator_config.pop("embedding_dim", None)
        else:
            shared_args = [a for a in shared_args if a != "embedding_dim"]
            generator_config.setdefault(
                "embedding_dim", generator_config["hidden_dim"]
            )
        shared = {
            key: getattr(discriminator_backbone, key) for key in shared_args
        }
        generator_backbone = ElectraBackbone(
            **{**generator_config, **shared},
            embedding=(
                discriminator_backbone.embedding if tie_embeddings else None
            ),
            dtype=dtype,
            name="generator_backbone",
        )
        return cls(
            generator=ElectraGenerator(generator_backbone, name="generator"),
            discriminator=ElectraDiscriminator(
                discriminator_backbone, name="discriminator"
            ),
            embedding_sharing=sharing,
            **kwargs,
        )


def _resize_generator(config, fraction, discriminator_width, untied):
    """A generator backbone config `fraction` as wide as the discriminator
    (heads of 64 where the width allows, a divisor of it)."""
    fraction = float(fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(
            "`generator_size` is a fraction of the discriminator's width in "
            f"(0, 1] (the paper: 1/4 to 1/2). Received: {fraction!r}"
        )
    hidden = max(1, int(round(fraction * discriminator_width)))
    heads = max(1, hidden // 64)
    while hidden % heads:
        heads -= 1
    if untied:
        config["embedding_dim"] = hidden  # its own block, as wide
    config.update(
        hidden_dim=hidden, num_heads=heads, intermediate_dim=4 * hidden
    )


def _check_gdes_tables(generator, discriminator):
    shapes = [
        tuple(tower.backbone.token_embedding.embeddings.shape)
        for tower in (generator, discriminator)
    ]
    if shapes[0] != shapes[1]:
        raise ValueError(
            "`embedding_sharing='gdes'` adds a residual to the generator's "
            "token table, so both tables need one shape; the generator's is "
            f"{shapes[0]} and the discriminator's {shapes[1]}. Build the "
            "generator's backbone with the discriminator's `embedding_dim` "
            "(from a preset: `from_preset(..., embedding_sharing='gdes')` "
            "does)."
        )


def _link_gdes(generator, discriminator, fresh):
    """Gradient-disentangled embedding sharing (He et al., DeBERTaV3): the
    discriminator looks tokens up in `stop_gradient(shared) + residual`,
    the shared table being the generator's (trained by its MLM loss only)
    and the residual the discriminator's own table (trained by RTD only,
    zero at the start)."""
    block = discriminator.backbone.embedding
    shared = generator.backbone.token_embedding
    block.set_shared_token_table(shared)
    if fresh:
        table = block.token_embedding.embeddings
        table.assign(ops.zeros(table.shape, table.dtype))


def _freeze_own_layers(model, keep):
    """Make `model`'s layers non-trainable, except `keep` (a block another
    model shares) and the layers that contain it."""
    kept = {id(layer) for layer in keep._flatten_layers()}

    def freeze(layer):
        inside = [
            sub
            for sub in layer._flatten_layers(include_self=False)
            if id(sub) in kept
        ]
        if id(layer) in kept:
            return
        if not inside:
            layer.trainable = False
            return
        for sub in layer._flatten_layers(include_self=False, recursive=False):
            freeze(sub)
        for variable in layer._trainable_variables:
            variable.trainable = False

    freeze(model)


def _uniform_logits(positions, vocabulary_size):
    """All-zero logits `[batch, slots, vocabulary]` in the graph."""
    zeros = ops.zeros_like(ops.cast(positions, "float32"))
    return ops.repeat(ops.expand_dims(zeros, -1), vocabulary_size, axis=-1)
