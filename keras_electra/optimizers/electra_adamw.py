import keras
from keras import ops

from keras_electra.utils import processes

# Names of variables that take no weight decay: biases and LayerNorm scales
# and offsets, as in the reference's `exclude_from_weight_decay`.
NO_DECAY_PATTERNS = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraAdamW(keras.optimizers.Adam):
    """ELECTRA's AdamW: Adam without bias correction, decoupled weight decay.

    This is the update of Google's `AdamWeightDecayOptimizer` (used by BERT and
    ELECTRA): `m` and `v` are exponential averages of the gradient and its
    square, and the step is `lr * (m / (sqrt(v) + epsilon) + decay * w)`, with
    no `1 - beta^t` correction. Weight decay is Keras' decoupled decay
    (`w -= lr * weight_decay * w`), which is the same term; it skips every
    variable whose name contains one of `exclude_from_weight_decay_names`
    (biases and LayerNorm weights by default). Gradients are clipped to a
    global norm of `global_clipnorm` (1.0) before the update, as in the
    reference.

    `gradient_accumulation_steps=k` (Keras' own accumulation) averages the
    gradients of `k` batches into one update; a learning-rate schedule is
    then read at the update count (`iterations // k`), not at the batch
    count as Keras does, so warm-up and decay end where they should.

    `learning_rate_multipliers` (optional) maps variable paths to factors
    applied to the learning rate of that variable (used for layer-wise
    learning-rate decay when fine-tuning); the decay term uses the scaled rate
    too, as in the reference.

    Example:
    ```python
    import keras
    import keras_electra

    optimizer = keras_electra.ElectraAdamW(
        learning_rate=keras_electra.ElectraLearningRateSchedule(
            5e-4, warmup_steps=100, decay_steps=1000
        )
    )
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    ```
    """

    def __init__(
        self,
        learning_rate=5e-4,
        weight_decay=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        global_clipnorm=1.0,
        exclude_from_weight_decay_names=NO_DECAY_PATTERNS,
        learning_rate_multipliers=None,
        name="electra_adamw",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            weight_decay=weight_decay,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        self.exclude_from_weight_decay_names = tuple(
            exclude_from_weight_decay_names or ()
        )
        if self.exclude_from_weight_decay_names:
            self.exclude_from_weight_decay(
                var_names=list(self.exclude_from_weight_decay_names)
            )
        self.learning_rate_multipliers = dict(learning_rate_multipliers or {})

    def build(self, variables):
        super().build(variables)
        # Per-variable learning-rate factors, by the variable's index (the
        # TensorFlow backend hands `update_step` raw tf.Variables, which have
        # no Keras path).
        self._lr_factors = [
            float(self.learning_rate_multipliers.get(v.path, 1.0))
            for v in variables
        ]

    def _multiplier(self, variable):
        if not self.learning_rate_multipliers:
            return 1.0
        return self._lr_factors[self._get_variable_index(variable)]

    def _apply_weight_decay(self, variables):
        if not self.learning_rate_multipliers:
            # Keras' own (distribution-aware) decoupled decay.
            return super()._apply_weight_decay(variables)
        if self.weight_decay is None:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                lr = ops.cast(self.learning_rate, variable.dtype)
                lr = lr * self._multiplier(variable)
                wd = ops.cast(self.weight_decay, variable.dtype)
                variable.assign(variable - variable * wd * lr)

    def _get_current_learning_rate(self):
        if isinstance(
            self._learning_rate,
            keras.optimizers.schedules.LearningRateSchedule,
        ):
            # Keras reads a schedule at `_iterations`, which counts batches
            # when accumulating; `iterations` counts updates.
            return self._learning_rate(self.iterations)
        return super()._get_current_learning_rate()

    def apply(self, grads, trainable_variables=None):
        # Under torchrun, the ranks' gradients are averaged first (a no-op
        # otherwise): `utils/processes.py`.
        grads = processes.average_gradients(list(grads))
        return super().apply(grads, trainable_variables)

    def _clip_gradients(self, grads):
        """Clip the global gradient, also under `tf.distribute`.

        Keras' TensorFlow path clips each replica's gradients before it
        sums them across replicas, which clips at the wrong norm (the
        reference clips the whole batch's gradient). With several replicas
        and a global norm, the replicas' gradients are summed here first and
        clipped; each replica keeps `1 / replicas` of the result, which the
        strategy's own sum then adds up again. (One extra all-reduce.)
        """
        replica_context = _tf_replica_context()
        if replica_context is None or not self.global_clipnorm:
            return super()._clip_gradients(grads)
        summed = replica_context.all_reduce("sum", list(grads))
        share = 1.0 / replica_context.num_replicas_in_sync
        return [g * share for g in super()._clip_gradients(summed)]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype) * self._multiplier(
            variable
        )
        gradient = ops.cast(gradient, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(gradient - m, 1 - self.beta_1))
        self.assign_add(
            v, ops.multiply(ops.square(gradient) - v, 1 - self.beta_2)
        )
        # No bias correction: the reference divides by sqrt(v) + epsilon only.
        self.assign_sub(
            variable, ops.divide(m * lr, ops.sqrt(v) + self.epsilon)
        )

    def get_config(self):
        config = super().get_config()
        config.pop("amsgrad", None)
        config.update(
            {
                "exclude_from_weight_decay_names": list(
                    self.exclude_from_weight_decay_names
                ),
                "learning_rate_multipliers": self.learning_rate_multipliers,
            }
        )
        return config


def _tf_replica_context():
    """The replica context of a multi-replica `tf.distribute` step, or None
    (other backends, one replica, or outside a replica function)."""
    if keras.config.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync < 2:
        return None
    return context
