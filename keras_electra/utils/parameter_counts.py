"""How many parameters a preset's models hold, from its configs alone.

The one count of keras-electra's models, computed from constructor
arguments (no backend, no weights), so `keras-electra info` and the
pre-training console say the same numbers. It equals Keras'
`count_params()` of the built models (the tests check every kind of
tower and embedding sharing):

- the discriminator: its backbone plus its replaced-token head (a dense
  layer as wide as the hidden layer and a one-unit output);
- the generator: its backbone plus its masked-LM head (a dense layer to
  the token table's width, a LayerNorm and one output bias per token; the
  output weights are the token table). Tied (ELECTRA), its embedding block
  is the discriminator's: counted in both towers, once in the whole;
- a backbone's `metadata.json` `parameter_count` (keras-hub's) is the
  backbone alone, without any head.
"""

import dataclasses

# `ElectraBackbone`'s defaults, for configs that leave them out.
_DEFAULTS = dict(max_sequence_length=512, num_segments=2)


def embedding_parameters(config):
    """An embedding block's: token, position and segment tables and the
    LayerNorm after their sum."""
    config = {**_DEFAULTS, **config}
    width = config.get("embedding_dim") or config["hidden_dim"]
    rows = (
        config["vocabulary_size"]
        + config["max_sequence_length"]
        + config["num_segments"]
    )
    return rows * width + 2 * width


def backbone_parameters(config):
    """An `ElectraBackbone`'s (`config`: its constructor arguments): the
    embedding block, the projection to the hidden width when the
    embeddings are narrower, and the transformer layers."""
    hidden = config["hidden_dim"]
    inner = config["intermediate_dim"]
    width = config.get("embedding_dim") or hidden
    count = embedding_parameters(config)
    if width != hidden:
        count += width * hidden + hidden
    attention = 4 * (hidden * hidden + hidden) + 2 * hidden
    feed_forward = (hidden * inner + inner) + (inner * hidden + hidden)
    count += config["num_layers"] * (attention + feed_forward + 2 * hidden)
    return count


def rtd_head_parameters(config):
    """The discriminator's replaced-token head over a backbone `config`."""
    hidden = config["hidden_dim"]
    return hidden * hidden + hidden + hidden + 1


def mlm_head_parameters(config, table_width=None):
    """A masked-LM head over a backbone `config`, whose output weights are
    a token table `table_width` wide (default: the backbone's own)."""
    hidden = config["hidden_dim"]
    width = table_width or config.get("embedding_dim") or hidden
    return hidden * width + width + 2 * width + config["vocabulary_size"]


@dataclasses.dataclass(frozen=True)
class Tower:
    """One model's parameters: its backbone, its head, and how many of them
    are the embedding block it shares with the other tower (tied)."""

    backbone: int
    head: int
    shared: int = 0

    @property
    def total(self):
        return self.backbone + self.head


def pretrainer_towers(discriminator_config, generator_config, sharing):
    """The discriminator's and the generator's `Tower`s of an
    `ElectraPretrainer` from its two backbone configs and its
    `embedding_sharing` ("tied", "untied" or "gdes")."""
    discriminator = Tower(
        backbone_parameters(discriminator_config),
        rtd_head_parameters(discriminator_config),
    )
    # Tied, the generator's embedding block is the discriminator's (its
    # config says the same sizes). With GDES, the generator's own table is
    # the shared one, to which the discriminator adds its own residual
    # table: no variable is in both.
    shared = embedding_parameters(generator_config) if sharing == "tied" else 0
    generator = Tower(
        backbone_parameters(generator_config),
        mlm_head_parameters(generator_config),
        shared,
    )
    return discriminator, generator


def describe_towers(discriminator, generator):
    """Two lines on a pretrainer's `Tower`s, each saying what it counts,
    and one on the whole."""
    shared = ""
    if generator.shared:
        shared = (
            f"; {generator.shared:,} of them are the embeddings it shares "
            "with the discriminator"
        )
    distinct = discriminator.total + generator.total - generator.shared
    return [
        f"Discriminator: {discriminator.total:,} parameters (backbone "
        f"{discriminator.backbone:,} + replaced-token head "
        f"{discriminator.head:,})",
        f"Generator: {generator.total:,} parameters (backbone "
        f"{generator.backbone:,} + masked-LM head {generator.head:,}{shared})",
        f"Both towers: {distinct:,} distinct parameters",
    ]


def describe_preset(info):
    """`keras-electra info`'s lines on a `PresetInfo`'s parameters, each
    saying what it counts."""
    backbone = info.backbone_config
    task = info.task_config
    generator = info.generator_backbone_config
    if generator is not None:
        # As `resolve_embedding_sharing` reads them (`layers/`, a floor up):
        # older presets have only the boolean.
        sharing = task.get("embedding_sharing") or (
            "untied" if task.get("tie_embeddings") is False else "tied"
        )
        return describe_towers(*pretrainer_towers(backbone, generator, sharing))
    count = backbone_parameters(backbone)
    if info.class_name == "ElectraDiscriminator":
        head = rtd_head_parameters(backbone)
        return [
            f"Discriminator: {count + head:,} parameters (backbone "
            f"{count:,} + replaced-token head {head:,})"
        ]
    if info.class_name == "ElectraMaskedLMPretrainer":
        head = mlm_head_parameters(backbone)
        return [
            f"Masked-LM encoder: {count:,} parameters (backbone; its "
            f"masked-LM head adds {head:,})"
        ]
    if info.task is not None:
        return [f"Backbone: {count:,} parameters (the task's head not counted)"]
    return [f"Backbone: {count:,} parameters"]
