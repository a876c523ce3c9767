import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraLearningRateSchedule(
    keras.optimizers.schedules.LearningRateSchedule
):
    """Linear warm-up multiplied by linear decay to zero, as in ELECTRA.

    `lr(step) = peak * min(1, step / warmup_steps)
    * max(0, 1 - step / decay_steps)`

    The reference applies `polynomial_decay(power=1)` over the whole run and
    then scales it by the warm-up ramp, so the two overlap: the peak actually
    reached at the end of warm-up is `peak * (1 - warmup_steps / decay_steps)`.
    We keep that product (it is what the paper's numbers were trained with).

    Args:
        learning_rate: the peak learning rate.
        warmup_steps: length of the linear ramp from 0.
        decay_steps: the step at which the rate reaches 0 (the run's length).

    Example:
    ```python
    import keras_electra

    schedule = keras_electra.ElectraLearningRateSchedule(
        5e-4, warmup_steps=10, decay_steps=100
    )
    float(schedule(5))  # 5e-4 * 0.5 * 0.95
    ```
    """

    def __init__(self, learning_rate, warmup_steps, decay_steps, name=None):
        if decay_steps <= 0:
            raise ValueError(
                f"`decay_steps` must be positive. Received: {decay_steps}"
            )
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = int(decay_steps)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay = ops.maximum(0.0, 1.0 - step / float(self.decay_steps))
        if self.warmup_steps > 0:
            warmup = ops.minimum(1.0, step / float(self.warmup_steps))
        else:
            warmup = 1.0
        return self.learning_rate * decay * warmup

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "name": self.name,
        }
