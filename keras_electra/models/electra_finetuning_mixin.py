import keras
import numpy as np

from keras_electra.layers.initializers import reference_default_initializer
from keras_electra.models.task_weights_mixin import TaskWeightsMixin
from keras_electra.optimizers.finetuning import finetuning_optimizer


class ElectraFinetuningMixin(TaskWeightsMixin):
    """ELECTRA's fine-tuning recipe as `compile()` for keras-hub tasks.

    Mixed in before the keras-hub base class (`TextClassifier`, `Task`):
    `class ElectraTextClassifier(ElectraFinetuningMixin, TextClassifier)`.

    `compile()` with no arguments uses `finetuning_optimizer` (AdamW without
    bias correction, layer-wise learning-rate decay, weight decay 0.01
    except LayerNorm and biases, warm-up over 10% of `num_train_steps` times
    linear decay), with the paper's learning rate and decay for the model's
    size, and the task's own loss and metrics. Subclasses define
    `default_loss()` and `default_metrics()`.
    """

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        num_train_steps=None,
        learning_rate=None,
        layerwise_decay=None,
        warmup_fraction=0.1,
        weight_decay=0.01,
        reference_off_by_one=True,
        loss_reduction="sum",
        gradient_accumulation_steps=None,
        **kwargs,
    ):
        """Configure training; "auto" arguments use ELECTRA's recipe.

        Args:
            optimizer: "auto" for ELECTRA's fine-tuning AdamW, or any Keras
                optimizer.
            loss, metrics: "auto" for the task's defaults.
            num_train_steps: length of the run, for the warm-up and linear
                decay (without it the learning rate stays constant).
            learning_rate, layerwise_decay: default to the paper's values for
                the backbone's size (3e-4/0.8 small, 1e-4/0.8 base,
                5e-5/0.9 large).
            warmup_fraction, weight_decay, reference_off_by_one: see
                `keras_electra.optimizers.finetuning_optimizer`.
            gradient_accumulation_steps: one update of every `k` batches
                (Keras averages their gradients); `num_train_steps` counts
                updates. With `loss_reduction="sum"` the update is then the
                mean of the batches' summed gradients.
            loss_reduction: how `loss="auto"` reduces per-example (and, for
                tagging, per-token) losses. "sum", the default, adds them
                up over the batch as the reference does, so gradients grow
                with the batch and the global-norm clipping at 1.0 acts as
                it does there; "sum_over_batch_size" averages (Keras'
                usual; reported losses are then per example).
        """
        if loss_reduction not in ("sum", "sum_over_batch_size"):
            raise ValueError(
                "`loss_reduction` must be 'sum' (the reference's) or "
                f"'sum_over_batch_size'. Received: {loss_reduction!r}"
            )
        if optimizer == "auto":
            optimizer = finetuning_optimizer(
                self,
                self.backbone,
                num_train_steps=num_train_steps,
                learning_rate=learning_rate,
                layerwise_decay=layerwise_decay,
                warmup_fraction=warmup_fraction,
                weight_decay=weight_decay,
                reference_off_by_one=reference_off_by_one,
                gradient_accumulation_steps=gradient_accumulation_steps,
            )
        if loss == "auto":
            loss = self.default_loss(loss_reduction)
        if metrics == "auto":
            metrics, weighted = self.default_metrics()
            if weighted:
                kwargs.setdefault("weighted_metrics", weighted)
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=None,
        sample_weight=None,
        **kwargs,
    ):
        """`keras.Model.fit`, shuffling array inputs every epoch.

        keras-hub's tasks turn arrays into a dataset themselves and ignore
        `shuffle`; here arrays (and lists of strings) are shuffled each epoch
        through `tf.data` before batching, as fine-tuning needs. `shuffle`
        defaults to shuffling arrays and leaving a dataset as it is (it
        shuffles itself; Keras would warn that `shuffle=True` is ignored).
        """
        # Validation arrays are batched by `validation_batch_size`, else
        # by `batch_size` (as Keras does), before it is cleared below.
        validation_batch_size = kwargs.pop("validation_batch_size", None)
        if validation_data is not None and not _is_dataset(validation_data):
            validation_data = _as_dataset(
                keras.utils.unpack_x_y_sample_weight(validation_data),
                validation_batch_size or batch_size,
            )
        elif validation_batch_size is not None:
            kwargs["validation_batch_size"] = validation_batch_size
        if x is not None and not _is_dataset(x) and not validation_split:
            x = _as_dataset(
                (x, y, sample_weight),
                batch_size,
                shuffle=shuffle is None or shuffle,
            )
            y = sample_weight = batch_size = None
            shuffle = False  # done above
        return super().fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=bool(shuffle),
            sample_weight=sample_weight,
            **kwargs,
        )

    # Arrays given to `evaluate` and `predict` go through `tf.data` too:
    # keras-hub 0.32 would turn them into a grain dataset read with
    # `grain.ReadOptions(prefetch_buffer_size=8)` (below grain's 16 threads),
    # and grain logs an absl warning about it on every call.

    def evaluate(
        self, x=None, y=None, batch_size=None, sample_weight=None, **kwargs
    ):
        """`keras.Model.evaluate`; arrays batched through `tf.data`."""
        if (
            x is not None
            and not _is_dataset(x)
            and not kwargs.get("_use_cached_eval_dataset")
        ):
            x = _as_dataset((x, y, sample_weight), batch_size)
            y = sample_weight = batch_size = None
        return super().evaluate(
            x, y, batch_size=batch_size, sample_weight=sample_weight, **kwargs
        )

    def predict(self, x=None, batch_size=None, **kwargs):
        """`keras.Model.predict`; arrays batched through `tf.data`."""
        if x is not None and not _is_dataset(x):
            x = _as_dataset((x, None, None), batch_size)
            batch_size = None
        return super().predict(x, batch_size=batch_size, **kwargs)

    def default_loss(self, reduction="sum"):
        raise NotImplementedError

    def default_metrics(self):
        """(metrics, weighted_metrics) used by `compile(metrics="auto")`."""
        return None, None


def _is_dataset(x):
    try:
        import tensorflow as tf

        if isinstance(x, tf.data.Dataset):
            return True
    except ImportError:
        pass
    return hasattr(x, "__next__") or type(x).__name__ in (
        "PyDataset",
        "DataLoader",
        "MapDataset",
        "IterDataset",
    )


def _as_dataset(data, batch_size, shuffle=False):
    """`(x, y, sample_weight)` arrays (or lists of strings) as a batched
    `tf.data.Dataset`, shuffled each epoch when `shuffle`."""
    import tensorflow as tf

    data = _to_sliceable(keras.utils.pack_x_y_sample_weight(*data))
    dataset = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        size = len(keras.tree.flatten(data)[0])
        dataset = dataset.shuffle(size, reshuffle_each_iteration=True)
    return dataset.batch(batch_size or 32)


def _to_sliceable(value):
    """Arrays for `from_tensor_slices`: dicts and tuples are structure, a
    list is one column (e.g. of strings; of word lists, ragged), a
    TensorFlow tensor (ragged too) is kept."""
    import tensorflow as tf

    if isinstance(value, dict):
        return {k: _to_sliceable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_to_sliceable(v) for v in value)
    if isinstance(value, (tf.Tensor, tf.RaggedTensor)):
        return value
    if isinstance(value, list):
        if value and isinstance(value[0], (list, tuple)):
            return tf.ragged.constant(value)
        return np.asarray(value)
    return keras.ops.convert_to_numpy(value)


def check_sequence_length(backbone, preprocessor):
    """A clear error when the preprocessor packs more ids than positions."""
    length = getattr(preprocessor, "sequence_length", None)
    limit = backbone.max_sequence_length
    if length is not None and limit is not None and length > limit:
        raise ValueError(
            f"The preprocessor packs sequences of {length} tokens, but the "
            f"backbone has {limit} positions. Pass a preprocessor with "
            f"`sequence_length={limit}` or less."
        )


def dropout_and_dense(backbone, num_classes, dropout, dropout_name):
    """The reference's task head layers: dropout, then a dense layer to
    `num_classes` logits (named "logits"), in the backbone's dtype."""
    return (
        keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name=dropout_name
        ),
        keras.layers.Dense(
            num_classes,
            kernel_initializer=reference_default_initializer(),
            dtype=backbone.dtype_policy,
            name="logits",
        ),
    )


def sparse_crossentropy(reduction="sum"):
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=reduction
    )


def check_labels(y, num_classes, where="labels"):
    """Raise a clear error for class labels outside [0, num_classes)."""
    if y is None or num_classes == 1:
        return
    try:
        labels = np.asarray(y)
    except Exception:
        return  # tensors of a backend; checked by the data readers
    if labels.dtype.kind not in "iuf" or labels.size == 0:
        return
    bad = (labels < 0) | (labels >= num_classes) | (labels != np.round(labels))
    if np.any(bad):
        index = int(np.flatnonzero(bad.reshape(-1))[0])
        raise ValueError(
            f"The {where} must be integers in [0, {num_classes}); found "
            f"{labels.reshape(-1)[index].item()!r} at position {index}. Set "
            "`num_classes` to the number of classes, or map labels to "
            "0..num_classes-1."
        )
