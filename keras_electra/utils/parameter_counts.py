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

A token table padded for tensor cores (`pad_vocabulary_to_multiple_of`)
holds its extra rows as real variables, and the generator's output bias one
entry per row: they are counted, as Keras counts them, and each line that
counts them says how many of its parameters they are (no token ever uses
them; exports to other formats leave them out).
"""

import dataclasses

# `ElectraBackbone`'s defaults, for configs that leave them out.
_DEFAULTS = dict(max_sequence_length=512, num_segments=2)


def table_rows(config):
    """The token table's rows: `vocabulary_size`, padded up to a multiple
    of `pad_vocabulary_to_multiple_of` when that is set (as
    `ElectraEmbedding` pads it)."""
    rows = int(config["vocabulary_size"])
    multiple = config.get("pad_vocabulary_to_multiple_of")
    if multiple:
        rows = -(-rows // int(multiple)) * int(multiple)
    return rows


def padding_rows(config):
    """The token table's rows beyond the vocabulary (0 unless padded)."""
    return table_rows(config) - int(config["vocabulary_size"])


def _embedding_width(config):
    return config.get("embedding_dim") or config["hidden_dim"]


def embedding_parameters(config):
    """An embedding block's: token (with any padding rows), position and
    segment tables and the LayerNorm after their sum."""
    config = {**_DEFAULTS, **config}
    width = _embedding_width(config)
    rows = (
        table_rows(config)
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
    a token table `table_width` wide (default: the backbone's own); its
    output bias has one entry per row of the (padded) table."""
    hidden = config["hidden_dim"]
    width = table_width or config.get("embedding_dim") or hidden
    return hidden * width + width + 2 * width + table_rows(config)


def table_padding_parameters(config):
    """The parameters of a backbone `config`'s token-table padding rows."""
    return padding_rows(config) * _embedding_width(config)


@dataclasses.dataclass(frozen=True)
class Tower:
    """One model's parameters: its backbone, its head, how many of them
    are the embedding block it shares with the other tower (tied), and how
    many pad the token table (its rows, and the generator's output bias
    entries, beyond the vocabulary)."""

    backbone: int
    head: int
    shared: int = 0
    padding: int = 0

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
        padding=table_padding_parameters(discriminator_config),
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
        padding=(
            table_padding_parameters(generator_config)
            + padding_rows(generator_config)  # the output bias
        ),
    )
    return discriminator, generator


def _padding_note(count, whose="them"):
    """`"; N of {whose} pad the token table (...)"`, or "" if unpadded."""
    if not count:
        return ""
    return (
        f"; {count:,} of {whose} pad the token table "
        "(pad_vocabulary_to_multiple_of)"
    )


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
    # Tied, the discriminator's padding rows are the generator's.
    padding = generator.padding + (
        0 if generator.shared else discriminator.padding
    )
    both = f"Both towers: {distinct:,} distinct parameters"
    if padding:
        both += f" ({_padding_note(padding).lstrip('; ')})"
    return [
        f"Discriminator: {discriminator.total:,} parameters (backbone "
        f"{discriminator.backbone:,} + replaced-token head "
        f"{discriminator.head:,}{_padding_note(discriminator.padding)})",
        f"Generator: {generator.total:,} parameters (backbone "
        f"{generator.backbone:,} + masked-LM head {generator.head:,}{shared}"
        f"{_padding_note(generator.padding)})",
        both,
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
    padding = table_padding_parameters(backbone)
    if info.class_name == "ElectraDiscriminator":
        head = rtd_head_parameters(backbone)
        return [
            f"Discriminator: {count + head:,} parameters (backbone "
            f"{count:,} + replaced-token head {head:,}"
            f"{_padding_note(padding)})"
        ]
    if info.class_name == "ElectraMaskedLMPretrainer":
        head = mlm_head_parameters(backbone)
        whose = "the encoder's"
        return [
            f"Masked-LM encoder: {count:,} parameters (backbone; its "
            f"masked-LM head adds {head:,}"
            f"{_padding_note(padding, whose)})"
        ]
    if info.task is not None:
        return [
            f"Backbone: {count:,} parameters (the task's head not counted"
            f"{_padding_note(padding)})"
        ]
    if padding:
        note = _padding_note(padding).lstrip("; ")
        return [f"Backbone: {count:,} parameters ({note})"]
    return [f"Backbone: {count:,} parameters"]
