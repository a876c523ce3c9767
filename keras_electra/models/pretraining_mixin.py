"""What the ELECTRA and MLM pre-training tasks share: the corruption's
set-up, the masked-LM loss and accuracy, and the optimizer."""

import contextlib

import keras
from keras import ops

from keras_electra.layers.electra_corruption import ElectraCorruption
from keras_electra.models.task_weights_mixin import TaskWeightsMixin
from keras_electra.optimizers.electra_adamw import ElectraAdamW
from keras_electra.optimizers.electra_schedule import (
    ElectraLearningRateSchedule,
)
from keras_electra.optimizers.finetuning import check_accumulation
from keras_electra.utils import preset_utils


class PretrainingMixin(TaskWeightsMixin):
    """The corruption, masked-LM loss and metrics, `make_optimizer` and
    `compile` of a pre-training task.

    The task holds its in-graph corruption in `self.corruption` (an
    `ElectraCorruption` made by `_make_corruption`, whose settings it
    exposes), logs its masked-LM loss and accuracy with
    `update_masked_lm_metrics`, sets `learning_rate`, `num_train_steps`,
    `warmup_steps` and `weight_decay` (the defaults of `make_optimizer`),
    and says what its loss is in `loss_description` and how to weight it
    in `loss_advice`.
    """

    loss_description = "a pre-training loss"
    loss_advice = "change the task's loss weights"

    # The corruption's settings live in its layer (`self.corruption`).
    mask_rate = property(lambda self: self.corruption.mask_rate)
    max_predictions = property(lambda self: self.corruption.max_predictions)
    mask_token_rate = property(lambda self: self.corruption.mask_token_rate)
    mask_token_id = property(lambda self: self.corruption.mask_token_id)
    seed = property(lambda self: self.corruption.seed)

    @property
    def seed_generator(self):
        """The seed of the in-graph corruption (in its layer)."""
        return self.corruption.seed_generator

    def num_slots(self, sequence_length):
        """Prediction slots per sequence of length `sequence_length`."""
        return self.corruption.num_slots(sequence_length)

    # === Corruption, masked-LM loss and metrics ===

    @staticmethod
    def _make_corruption(
        *,
        pad_token_id,
        cls_token_id,
        sep_token_id,
        mask_token_id,
        **settings,
    ):
        """The task's `ElectraCorruption`: never selecting [CLS], [SEP],
        [MASK] or [PAD]; `settings` are its other arguments."""
        return ElectraCorruption(
            mask_token_id=mask_token_id,
            special_token_ids=(
                cls_token_id,
                sep_token_id,
                mask_token_id,
                pad_token_id,
            ),
            name="corruption",
            **settings,
        )

    @staticmethod
    def masked_lm_cross_entropy(labels, logits, weights):
        """Mean cross-entropy over the real prediction slots (`weights`
        1.0 for real slots, 0.0 for unused ones)."""
        losses = ops.sparse_categorical_crossentropy(
            labels, logits, from_logits=True
        )
        return ops.sum(losses * weights) / (ops.sum(weights) + 1e-6)

    def update_masked_lm_metrics(
        self, loss_tracker, accuracy_tracker, logits, y_pred
    ):
        """Log the masked-LM loss of `logits` (`[batch, slots, vocabulary]`)
        and their accuracy on the real slots of `y_pred` (`mask_ids`,
        `mask_weights`), the accuracy weighted by the number of slots so
        that its running mean is the exact ratio over the slots seen."""
        labels, weights = y_pred["mask_ids"], y_pred["mask_weights"]
        num_slots = ops.sum(weights)
        predicted = ops.cast(ops.argmax(logits, -1), "int32")
        correct = ops.cast(ops.equal(predicted, labels), "float32")
        loss_tracker.update_state(
            self.masked_lm_cross_entropy(labels, logits, weights)
        )
        accuracy_tracker.update_state(
            ops.sum(correct * weights) / ops.maximum(num_slots, 1.0),
            sample_weight=num_slots,
        )

    def make_optimizer(
        self,
        learning_rate=None,
        num_train_steps=None,
        warmup_steps=None,
        weight_decay=None,
        gradient_accumulation_steps=None,
    ):
        """The paper's optimizer: `ElectraAdamW` with warm-up and linear decay.

        Unset arguments come from this pretrainer's configuration. The warm-up
        never exceeds a tenth of the run, so short runs still train.
        `gradient_accumulation_steps=k` averages `k` batches' gradients into
        each update; the schedule (and `num_train_steps`) count updates.
        """
        learning_rate = learning_rate or self.learning_rate
        num_train_steps = num_train_steps or self.num_train_steps
        if warmup_steps is None:
            warmup_steps = min(self.warmup_steps, num_train_steps // 10)
        if weight_decay is None:
            weight_decay = self.weight_decay
        schedule = ElectraLearningRateSchedule(
            learning_rate,
            warmup_steps=warmup_steps,
            decay_steps=num_train_steps,
        )
        return ElectraAdamW(
            learning_rate=schedule,
            weight_decay=weight_decay,
            gradient_accumulation_steps=check_accumulation(
                gradient_accumulation_steps
            ),
        )

    def compile(
        self,
        optimizer="auto",
        learning_rate=None,
        num_train_steps=None,
        warmup_steps=None,
        weight_decay=None,
        gradient_accumulation_steps=None,
        **kwargs,
    ):
        """Compile with the paper's optimizer and schedule by default.

        Args:
            optimizer: `"auto"` for `make_optimizer(...)`, or any Keras
                optimizer.
            learning_rate, num_train_steps, warmup_steps, weight_decay,
            gradient_accumulation_steps: forwarded to `make_optimizer` when
                `optimizer="auto"`.
            **kwargs: forwarded to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, ...). There is no `loss` argument: the
                task computes its own.
        """
        if "loss" in kwargs and kwargs["loss"] is not None:
            raise ValueError(
                f"`{type(self).__name__}` computes its own loss "
                f"({self.loss_description}); {self.loss_advice} instead of "
                "passing `loss` to `compile()`."
            )
        kwargs.pop("loss", None)
        if optimizer == "auto":
            optimizer = self.make_optimizer(
                learning_rate,
                num_train_steps,
                warmup_steps,
                weight_decay,
                gradient_accumulation_steps,
            )
        super().compile(optimizer=optimizer, **kwargs)

    def total_loss(self, objective):
        """`objective` plus the layers' own losses, scaled per replica
        under `tf.distribute` (see `scale_for_replicas`)."""
        for loss in self.losses:
            objective = objective + ops.cast(ops.sum(loss), "float32")
        return scale_for_replicas(objective)

    # === Raw text ===

    def preprocess_samples(self, x, y=None, sample_weight=None):
        """Dicts of token ids pass through unchanged (the pre-training
        job's data, with or without a preprocessor attached); anything else
        goes through `preprocessor`, and strings without one raise."""
        if self.preprocessor is None:
            self.check_not_text(x)
        if self.preprocessor is None or isinstance(x, dict):
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        return super().preprocess_samples(x, y, sample_weight)

    def check_not_text(self, x):
        """Raise a one-line error if `x` holds strings and there is no
        preprocessor to tokenize them."""
        if self.preprocessor is None and holds_text(x):
            name = type(self).__name__
            raise ValueError(
                f"{name} got raw strings but has no preprocessor: load it "
                f"with a tokenizer (`{name}.from_preset("
                "PRESET_WITH_TOKENIZER)`) or pass `preprocessor="
                "ElectraPretrainerPreprocessor(tokenizer, sequence_length="
                "...)`, or give token ids (keras_electra.data.text_dataset)."
            )

    def fit(self, x=None, *args, **kwargs):
        self.check_not_text(x)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        self.check_not_text(x)
        return super().evaluate(x, *args, **kwargs)

    def predict(self, x=None, *args, **kwargs):
        self.check_not_text(x)
        return super().predict(x, *args, **kwargs)

    # === Presets ===

    def save_to_preset(self, preset_dir, tokenizer=None, max_shard_size=10):
        """Save as a keras-hub preset folder, atomically.

        keras-hub's `Task.save_to_preset`: `config.json`,
        `model.weights.h5` and `metadata.json` for the encoder (what
        `ElectraBackbone.from_preset` and the fine-tuning tasks load),
        `task.json` and `task.weights.h5` for the whole task,
        `preprocessor.json` and the tokenizer's files when the task has a
        preprocessor; plus the tokenizer's files when `tokenizer` is given
        (the preprocessor, if any, is saved with that tokenizer). Files are
        written into a temporary folder that replaces `preset_dir` only
        when complete.
        """
        with preset_utils.atomic_directory(preset_dir) as tmp:
            with self.preset_weights(), self._preset_preprocessor(tokenizer):
                super().save_to_preset(tmp, max_shard_size=max_shard_size)
            if tokenizer is not None:
                tokenizer.save_to_preset(tmp)

    @contextlib.contextmanager
    def _preset_preprocessor(self, tokenizer):
        """The preprocessor as a preset should hold it: on `tokenizer` when
        one is given (the preset's tokenizer files are its), none when its
        tokenizer has no vocabulary (a copy rebuilt from a config, whose
        vocabulary lives in preset files)."""
        preprocessor = self.preprocessor
        saved = preprocessor
        own = getattr(preprocessor, "tokenizer", None)
        if own is not None:
            if tokenizer is not None and own is not tokenizer:
                config = {**preprocessor.get_config(), "tokenizer": tokenizer}
                saved = type(preprocessor).from_config(config)
            elif getattr(own, "vocabulary", "") is None:
                saved = None
        # Past Keras' tracking: nothing else of the task changes.
        object.__setattr__(self, "_preprocessor", saved)
        try:
            yield saved
        finally:
            object.__setattr__(self, "_preprocessor", preprocessor)

    def preset_weights(self):
        """A context in which the weights are as a preset should hold them
        (a task that stores them differently while training overrides
        it)."""
        return contextlib.nullcontext(self)


def holds_text(x):
    """Whether `x` (arrays, tensors, nested lists or dicts of them, or a
    `tf.data.Dataset`) holds strings."""
    spec = getattr(x, "element_spec", None)
    if spec is not None:  # a tf.data.Dataset
        import tensorflow as tf

        return any(
            getattr(s, "dtype", None) == tf.string
            for s in tf.nest.flatten(spec)
        )
    return any(_is_text(leaf) for leaf in keras.tree.flatten(x))


def _is_text(value):
    if isinstance(value, (str, bytes)):
        return True
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return False
    if getattr(dtype, "name", None) == "string":  # tf.string
        return True
    kind = getattr(dtype, "kind", None)  # numpy
    if kind in ("U", "S"):
        return True
    if kind == "O" and getattr(value, "size", 0):
        return isinstance(value.reshape(-1)[0], (str, bytes))
    return False


def scale_for_replicas(loss):
    """Divide by the replica count under `tf.distribute`, as Keras' own
    losses do: each replica's loss is the mean over its share of the batch,
    the strategy sums the replicas' gradients, and Keras' loss tracker
    multiplies the logged value back. A no-op on one device and on the
    other backends."""
    if keras.config.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        loss = loss * (1.0 / replicas)
    return loss
