"""What replaces the chosen tokens of ELECTRA's corruption: a registry.

`ElectraCorruption(replacement=name)` looks its strategy up here, and
`ElectraPretrainer` asks the strategy whether the generator runs at all
(`needs_generator`). A new strategy is one class with a `name`, a
`needs_generator` flag, a `description` for logs and a `sample` method,
plus one entry in `_BUILT_IN` (or a `register_replacement` call from
elsewhere).

This module loads no backend when imported (the command line reads the
names from it to build its parser before the Keras backend is chosen):
Keras is imported inside `sample` only.
"""


class Replacement:
    """A way to pick the tokens written into the chosen positions.

    Attributes:
        name: str. The `replacement` argument that selects it.
        needs_generator: bool. Whether the generator runs (and trains).
            Without it the pretrainer hands `sample` all-equal logits, the
            generator's weights do not train and its logged loss is the
            constant `log(vocabulary_size)`.
        description: str. What replaces the tokens, for logs.
    """

    name = None
    needs_generator = True
    description = ""

    def sample(self, generator_logits, seed_generator, temperature):
        """The ids to write at each prediction slot.

        Args:
            generator_logits: float32 `[batch, slots, vocabulary]`, the
                generator's (all equal where `needs_generator` is False).
            seed_generator: the corruption's `keras.random.SeedGenerator`.
            temperature: the sampling temperature of this step.

        Returns:
            int32 ids `[batch, slots]`.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"<replacement {self.name!r}: {self.description}>"


class GeneratorReplacement(Replacement):
    """ELECTRA: Gumbel-max samples of the generator's softmax."""

    name = "generator"
    needs_generator = True
    description = "the generator's samples"

    def sample(self, generator_logits, seed_generator, temperature):
        from keras_electra.layers import electra_masking

        return electra_masking.gumbel_sample(
            generator_logits, seed_generator, temperature
        )


class UniformReplacement(Replacement):
    """The reference's `uniform_generator`: tokens drawn uniformly from the
    vocabulary, the generator left out."""

    name = "uniform"
    needs_generator = False
    description = "uniform random tokens (generator unused)"

    def sample(self, generator_logits, seed_generator, temperature):
        import keras
        from keras import ops

        # What Gumbel-max over equal logits would draw, without the
        # `[batch, slots, vocabulary]` noise.
        return keras.random.randint(
            ops.shape(generator_logits)[:2],
            0,
            ops.shape(generator_logits)[-1],
            seed=seed_generator,
            dtype="int32",
        )


REPLACEMENTS = {}


def register_replacement(strategy):
    """Add `strategy` (a `Replacement`) under `strategy.name`; returns it."""
    if not isinstance(strategy.name, str) or not strategy.name:
        raise ValueError(
            f"A replacement strategy needs a `name`. Received: {strategy!r}"
        )
    if strategy.name in REPLACEMENTS:
        raise ValueError(
            f"A replacement strategy named {strategy.name!r} already exists; "
            "choose another name."
        )
    REPLACEMENTS[strategy.name] = strategy
    return strategy


def get_replacement(name):
    """The strategy registered as `name`."""
    if isinstance(name, str) and name in REPLACEMENTS:
        return REPLACEMENTS[name]
    raise ValueError(
        f"`replacement` must be one of {', '.join(REPLACEMENTS)}. "
        f"Received: {name!r}"
    )


_BUILT_IN = (
    GeneratorReplacement(),
    UniformReplacement(),
)
for _strategy in _BUILT_IN:
    register_replacement(_strategy)
