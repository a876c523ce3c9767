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

    On PyTorch the update is multi-tensor: variables that share a learning-rate
    factor (and dtype) are updated together with `torch._foreach_*` operations,
    and the global norm is one `torch._foreach_norm` and one rescale: about
    45 operator calls per update whatever the number of variables, instead
    of about 20 per variable (`benchmarks/optimizer_update.py`). The numbers
    are those of the per-variable update (`update_step`, which TensorFlow
    and JAX compile) to float tolerance.

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

    # PyTorch only: the multi-tensor update. False restores the per-variable
    # one (`update_step` for each variable), kept for the benchmark
    # (`benchmarks/optimizer_update.py`) and the tests.
    _foreach = True

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
        self._foreach_groups = {}

    def _use_foreach(self):
        return self._foreach and keras.config.backend() == "torch"

    def _multiplier(self, variable):
        if not self.learning_rate_multipliers:
            return 1.0
        return self._lr_factors[self._get_variable_index(variable)]

    def _apply_weight_decay(self, variables):
        if self._use_foreach():
            return self._foreach_weight_decay(variables)
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
        if (
            replica_context is None
            and self.global_clipnorm
            and self._use_foreach()
        ):
            return _torch_clip_by_global_norm(grads, self.global_clipnorm)
        if replica_context is None or not self.global_clipnorm:
            return super()._clip_gradients(grads)
        summed = replica_context.all_reduce("sum", list(grads))
        share = 1.0 / replica_context.num_replicas_in_sync
        return [g * share for g in super()._clip_gradients(summed)]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if not self._use_foreach():
            return super()._backend_update_step(
                grads, trainable_variables, learning_rate
            )
        import torch

        with torch.no_grad():
            groups = self._groups(trainable_variables, decayed_only=False)
            for (factor, dtype), indices in groups.items():
                self._foreach_adam(
                    [grads[i] for i, _ in indices],
                    [trainable_variables[i].value for i, _ in indices],
                    [self._momentums[j].value for _, j in indices],
                    [self._velocities[j].value for _, j in indices],
                    learning_rate,
                    factor,
                    dtype,
                )

    def _foreach_adam(self, grads, values, m, v, learning_rate, factor, dtype):
        """One group's Adam step, as `update_step` computes it."""
        import torch

        lr = ops.cast(learning_rate, dtype)
        if factor != 1.0:
            lr = lr * factor
        grads = [g if g.dtype == dtype else g.to(dtype) for g in grads]
        # m += (g - m) (1 - beta_1); v += (g^2 - v) (1 - beta_2).
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        squares = torch._foreach_mul(grads, grads)
        torch._foreach_lerp_(v, squares, 1 - self.beta_2)
        # No bias correction: w -= (m lr) / (sqrt(v) + epsilon).
        denominators = torch._foreach_sqrt(v)
        torch._foreach_add_(denominators, self.epsilon)
        torch._foreach_addcdiv_(
            values, torch._foreach_mul(m, lr), denominators, value=-1.0
        )

    def _foreach_weight_decay(self, variables):
        """Decoupled decay, one multi-tensor product per group."""
        if not self.weight_decay:
            return  # None or 0: a product by 1
        import torch

        with torch.no_grad():
            groups = self._groups(variables, decayed_only=True)
            if not groups:
                return
            lr = self._get_current_learning_rate()
            for (factor, dtype), indices in groups.items():
                rate = ops.cast(lr, dtype)
                if factor != 1.0:
                    rate = rate * factor
                torch._foreach_mul_(
                    [variables[i].value for i, _ in indices],
                    1 - self.weight_decay * rate,
                )

    def _groups(self, variables, decayed_only):
        """`{(factor, dtype): [(position, optimizer index)]}` for `variables`.

        Variables that share a learning-rate factor and a dtype are updated
        by the same multi-tensor operations. Cached by the variables' ids
        (Keras passes the same list every step).
        """
        key = (decayed_only, tuple(map(id, variables)))
        groups = self._foreach_groups.get(key)
        if groups is None:
            groups = {}
            for i, variable in enumerate(variables):
                if decayed_only and not self._use_weight_decay(variable):
                    continue
                j = self._get_variable_index(variable)
                group = (self._lr_factors[j], variable.value.dtype)
                groups.setdefault(group, []).append((i, j))
            if len(self._foreach_groups) > 8:
                self._foreach_groups.clear()
            self._foreach_groups[key] = groups
        return groups

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


def _torch_clip_by_global_norm(grads, clip_norm):
    """Keras' `clip_by_global_norm` on PyTorch with multi-tensor operations.

    The same scale as Keras' (`clip_norm / max(norm, clip_norm)`, NaN when
    the norm is not finite), from one `torch._foreach_norm` and one
    multi-tensor product instead of several operations per tensor.
    """
    import torch

    with torch.no_grad():
        norms = torch._foreach_norm(grads)
        if len({n.dtype for n in norms}) > 1:
            norms = [n.to(torch.float32) for n in norms]
        norm = torch.linalg.vector_norm(torch.stack(norms))
        scale = clip_norm * torch.clamp(1.0 / norm, max=1.0 / clip_norm)
        # A no-op for a finite norm; NaN for inf or NaN, as in Keras.
        scale = scale + (norm - norm)
        if len({g.dtype for g in grads}) == 1:
            return list(torch._foreach_mul(grads, scale.to(grads[0].dtype)))
        return [g * scale.to(g.dtype) for g in grads]


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
