import keras
from keras import ops

from keras_electra.layers import electra_masking
from keras_electra.layers.electra_replacement import REPLACEMENTS  # noqa: F401
from keras_electra.layers.electra_replacement import get_replacement


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraCorruption(keras.layers.Layer):
    """ELECTRA's in-graph corruption as a layer: masking, then replacement.

    One seed generator drives both steps, so a checkpoint's seed state
    restores the exact corruption sequence. `mask` selects the positions to
    predict and writes [MASK] into 85% of them (`electra_masking.mask_tokens`);
    `replace` picks the tokens to write with the strategy named by
    `replacement` (`electra_replacement.REPLACEMENTS`; ELECTRA's samples
    the generator's guesses with Gumbel-max, no gradient) and writes them
    into the original sequence, labelling what changed
    (`electra_masking.gumbel_sample`, `replace_tokens`). `call(..., step=)`
    runs one of the two, so the pretrainer's functional graph can hold the
    generator between them.

    Two ways to keep a discriminator learning early in a run, both known
    from the reference and its issues: `replacement="uniform"` writes
    tokens drawn uniformly from the vocabulary instead of the generator's
    samples (the reference's `uniform_generator`), and a temperature
    schedule samples at `temperature_start` at first, falling linearly to
    `temperature` over `temperature_steps` training calls (a hotter
    generator makes easier, more varied replacements). The schedule's
    count is a variable of this layer, saved and restored with the model.

    Args:
        mask_rate: float. Fraction of real tokens to predict.
        max_predictions: int or None. Static prediction slots; None means
            `int((mask_rate + 0.005) * sequence_length)`.
        mask_token_rate: float. Fraction of selected positions made [MASK].
        random_token_rate: float. Fraction of selected positions given a
            random token (BERT's 10%, for the masked-LM baseline; 0 in
            ELECTRA).
        vocabulary_size: int or None. Range of the random tokens.
        temperature: float. Generator sampling temperature (at the end of
            the schedule, if any).
        replacement: str. The name of a strategy in
            `electra_replacement.REPLACEMENTS`: `"generator"` (ELECTRA) or
            `"uniform"`.
        temperature_start: float or None. Temperature of the first training
            step; None for a constant `temperature`.
        temperature_steps: int. Training steps over which the temperature
            falls from `temperature_start` to `temperature`.
        mask_token_id: int. Id of [MASK].
        special_token_ids: list of ints. Ids never selected.
        seed: int or None. Seed of the corruption.
    """

    def __init__(
        self,
        mask_rate=0.15,
        max_predictions=None,
        mask_token_rate=0.85,
        temperature=1.0,
        mask_token_id=103,
        special_token_ids=(101, 102, 103, 0),
        seed=None,
        replacement="generator",
        temperature_start=None,
        temperature_steps=0,
        random_token_rate=0.0,
        vocabulary_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if random_token_rate and vocabulary_size is None:
            raise ValueError(
                "`random_token_rate` needs `vocabulary_size` (the range of "
                "the random tokens)."
            )
        if not 0.0 <= mask_token_rate + random_token_rate <= 1.0:
            raise ValueError(
                "`mask_token_rate + random_token_rate` must be in [0, 1] "
                "(the rest keep their token). Received: "
                f"{mask_token_rate} + {random_token_rate}."
            )
        strategy = get_replacement(replacement)
        if temperature_start is not None and int(temperature_steps) < 1:
            raise ValueError(
                "A temperature schedule needs `temperature_steps` >= 1 (the "
                "steps over which `temperature_start` falls to "
                f"`temperature`). Received: {temperature_steps!r}"
            )
        for name, value in (
            ("temperature", temperature),
            ("temperature_start", temperature_start),
        ):
            if value is not None and not float(value) > 0:
                raise ValueError(
                    f"`{name}` must be positive. Received: {value!r}"
                )
        self.replacement = replacement
        self.strategy = strategy
        self.temperature_start = (
            None if temperature_start is None else float(temperature_start)
        )
        self.temperature_steps = int(temperature_steps)
        self.mask_rate = mask_rate
        self.max_predictions = max_predictions
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = float(random_token_rate)
        self.vocabulary_size = vocabulary_size
        self.temperature = temperature
        self.mask_token_id = mask_token_id
        self.special_token_ids = [int(i) for i in special_token_ids]
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.schedule_step = None
        if self.temperature_start is not None:
            # Only with a schedule: presets without one keep their weights.
            self.schedule_step = self.add_weight(
                shape=(),
                initializer="zeros",
                dtype="int32",
                trainable=False,
                aggregation="only_first_replica",
                name="temperature_step",
            )
        self.built = True

    def current_temperature(self):
        """The sampling temperature of the next training step."""
        if self.schedule_step is None:
            return self.temperature
        done = ops.cast(self.schedule_step, "float32") / float(
            self.temperature_steps
        )
        done = ops.minimum(done, 1.0)
        return self.temperature_start + done * (
            self.temperature - self.temperature_start
        )

    def num_slots(self, sequence_length):
        """Prediction slots per sequence of length `sequence_length`."""
        if self.max_predictions is not None:
            return int(self.max_predictions)
        return max(1, int((self.mask_rate + 0.005) * sequence_length))

    def call(self, inputs, step="mask", training=None):
        if step == "mask":
            return self.mask(*inputs)
        return self.replace(*inputs, training=training)

    def mask(self, token_ids, padding_mask):
        length = ops.shape(token_ids)[1]
        slots = self.num_slots(length if isinstance(length, int) else 512)
        masked = electra_masking.mask_tokens(
            token_ids,
            padding_mask,
            seed=self.seed_generator,
            mask_rate=self.mask_rate,
            max_predictions=slots,
            mask_token_id=self.mask_token_id,
            special_token_ids=self.special_token_ids,
            mask_token_rate=self.mask_token_rate,
            random_token_rate=self.random_token_rate,
            vocabulary_size=self.vocabulary_size,
        )
        masked.pop("is_masked", None)
        return masked

    def replace(
        self,
        generator_logits,
        token_ids,
        positions,
        weights,
        mask,
        training=None,
    ):
        # Sampling, softmax and losses run in float32 whatever the policy.
        generator_logits = ops.cast(generator_logits, "float32")
        sampled_ids = self.strategy.sample(
            generator_logits, self.seed_generator, self.current_temperature()
        )
        if self.schedule_step is not None and training:
            self.schedule_step.assign(self.schedule_step + 1)
        corrupted_ids, labels = electra_masking.replace_tokens(
            token_ids, positions, weights, sampled_ids, mask
        )
        return {
            "generator_logits": generator_logits,
            "sampled_ids": sampled_ids,
            "corrupted_ids": corrupted_ids,
            "replaced_labels": labels,
        }

    def compute_output_spec(self, inputs, step="mask", training=None):
        if step == "mask":
            token_ids = inputs[0]
            batch, length = token_ids.shape
            slots = self.num_slots(length if length is not None else 512)
            # One KerasTensor per output: a tensor shared by two outputs
            # would make the graph hand both the same value.
            return {
                "masked_ids": keras.KerasTensor((batch, length), "int32"),
                "mask_positions": keras.KerasTensor((batch, slots), "int32"),
                "mask_ids": keras.KerasTensor((batch, slots), "int32"),
                "mask_weights": keras.KerasTensor((batch, slots), "float32"),
            }
        logits, token_ids = inputs[0], inputs[1]
        return {
            "generator_logits": keras.KerasTensor(logits.shape, "float32"),
            "sampled_ids": keras.KerasTensor(logits.shape[:2], "int32"),
            "corrupted_ids": keras.KerasTensor(token_ids.shape, "int32"),
            "replaced_labels": keras.KerasTensor(token_ids.shape, "float32"),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mask_rate": self.mask_rate,
                "max_predictions": self.max_predictions,
                "mask_token_rate": self.mask_token_rate,
                "temperature": self.temperature,
                "mask_token_id": self.mask_token_id,
                "special_token_ids": self.special_token_ids,
                "seed": self.seed,
                "replacement": self.replacement,
                "temperature_start": self.temperature_start,
                "temperature_steps": self.temperature_steps,
                "random_token_rate": self.random_token_rate,
                "vocabulary_size": self.vocabulary_size,
            }
        )
        return config
