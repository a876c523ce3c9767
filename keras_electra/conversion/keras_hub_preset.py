"""keras-hub `ElectraBackbone` presets, in and out.

keras-hub's ELECTRA backbone has the same layers as ours (keras-hub
`TransformerEncoder` blocks, the same embedding tables), with two
differences that matter when weights move between them:

- its blocks use the tanh approximation of GELU, ours the exact erf form of
  the paper and of Google's and transformers' code. The two functions differ
  by at most 4.7e-4 (near x = +-2.7), so the same weights give slightly
  different hidden states: 2.6e-6 at most on the random test models of
  `tests/conversion/` (weights of scale 0.02); we have not measured
  it on trained weights, where activations are larger;
- it adds a pooler (`pooled_dense`, tanh) that ELECTRA never trains: the
  reference classifier reads the [CLS] hidden state directly. Importing
  drops it; exporting initialises it randomly (keras-hub's own ELECTRA
  presets carry an untrained one too).

keras-hub presets hold the encoder only, so the discriminator's head is
not part of an export, and an import gives an `ElectraBackbone` (or an
`ElectraDiscriminator` whose head starts from random weights).

Our two departures from the reference do not travel: a token table padded
for tensor cores (`pad_vocabulary_to_multiple_of`) is exported without its
extra rows and padded with zero rows on import when that override is
given; keras-hub has one dropout rate, so an export carries `dropout` and
not `attention_dropout` (pass it again as an override on import).
"""

import os
import warnings

from keras_electra.conversion.state_dict import CheckpointError
from keras_electra.conversion.state_dict import fit_rows
from keras_electra.utils import preset_utils

KERAS_HUB_CLASS = "keras_hub>ElectraBackbone"


def _layer_pairs(ours, hub):
    """(our layer, keras-hub layer) pairs holding the same weights, the
    token tables first (`_copy_weights` fits their rows)."""
    embedding = ours.embedding
    pairs = [
        (embedding.token_embedding, hub.token_embedding),
        (embedding.position_embedding, hub.position_embedding),
        (embedding.segment_embedding, hub.segment_embedding),
        (embedding.layer_norm, hub.embeddings_layer_norm),
    ]
    if ours.embeddings_projection is not None:
        pairs.append((ours.embeddings_projection, hub.embeddings_projection))
    pairs.extend(zip(ours.transformer_layers, hub.transformer_layers))
    return pairs


def _copy_weights(pairs, to_hub):
    """Copy each pair's weights from ours to keras-hub's (`to_hub`) or
    back; the token table's rows are fitted to the destination's (our
    table may be padded for tensor cores, keras-hub's never is)."""
    for index, (ours, hub) in enumerate(pairs):
        source, target = (ours, hub) if to_hub else (hub, ours)
        values = source.get_weights()
        if index == 0:  # the token table
            rows = target.get_weights()[0].shape[0]
            values = [fit_rows(value, rows) for value in values]
        target.set_weights(values)


def load_backbone(preset, dtype=None, load_weights=True, **overrides):
    """Our `ElectraBackbone` from a keras-hub `ElectraBackbone` preset."""
    import keras_hub

    from keras_electra.models.electra_backbone import ElectraBackbone

    preset = os.fspath(preset)
    config = preset_utils.load_json(preset, preset_utils.CONFIG_FILE)["config"]
    hub = keras_hub.models.ElectraBackbone.from_preset(
        preset, load_weights=load_weights
    )
    arguments = {
        "vocabulary_size": config["vocab_size"],
        "num_layers": config["num_layers"],
        "num_heads": config["num_heads"],
        "hidden_dim": config["hidden_dim"],
        "intermediate_dim": config["intermediate_dim"],
        "embedding_dim": config["embedding_dim"],
        "dropout": config.get("dropout", 0.1),
        "max_sequence_length": config.get("max_sequence_length", 512),
        "num_segments": config.get("num_segments", 2),
        **overrides,
    }
    backbone = ElectraBackbone(dtype=dtype, **arguments)
    if load_weights:
        _copy_weights(_layer_pairs(backbone, hub), to_hub=False)
    return backbone


def load_tokenizer(preset):
    """Our `ElectraTokenizer` with a keras-hub preset's vocabulary, or None."""
    preset = os.fspath(preset)
    if not preset_utils.preset_has_file(
        preset, preset_utils.TOKENIZER_CONFIG_FILE
    ):
        return None
    import keras_hub

    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    hub = keras_hub.models.ElectraTokenizer.from_preset(preset)
    return ElectraTokenizer(
        vocabulary=hub.get_vocabulary(),
        lowercase=hub.lowercase,
        strip_accents=hub.strip_accents,
    )


def load_discriminator(preset, dtype=None, load_weights=True, **overrides):
    """An `ElectraDiscriminator` on a keras-hub backbone (head untrained)."""
    from keras_electra.models.electra_discriminator import ElectraDiscriminator

    backbone = load_backbone(preset, dtype, load_weights, **overrides)
    if load_weights:
        warnings.warn(
            f"'{preset}' is a keras-hub backbone preset, which holds no "
            "replaced-token-detection head: the discriminator's head "
            "(rtd_dense, rtd_logits) starts from random weights.",
            stacklevel=3,
        )
    return ElectraDiscriminator(backbone)


def save_backbone(model, preset_dir, tokenizer=None):
    """Write our backbone (or a model's) as a keras-hub `ElectraBackbone`
    preset that `keras_hub.models.ElectraBackbone.from_preset` loads."""
    import keras_hub

    backbone = getattr(model, "backbone", model)
    if backbone.layer_norm_epsilon != 1e-12:
        raise CheckpointError(
            "keras-hub's ElectraBackbone fixes layer_norm_epsilon at 1e-12; "
            f"this model uses {backbone.layer_norm_epsilon}."
        )
    hub = keras_hub.models.ElectraBackbone(
        vocab_size=backbone.vocabulary_size,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim,
        embedding_dim=backbone.embedding_dim,
        intermediate_dim=backbone.intermediate_dim,
        dropout=backbone.dropout,
        max_sequence_length=backbone.max_sequence_length,
        num_segments=backbone.num_segments,
    )
    _copy_weights(_layer_pairs(backbone, hub), to_hub=True)
    with preset_utils.atomic_directory(preset_dir) as tmp:
        hub.save_to_preset(tmp)
        if tokenizer is not None:
            keras_hub.models.ElectraTokenizer(
                vocabulary=tokenizer.get_vocabulary(),
                lowercase=tokenizer.lowercase,
                strip_accents=tokenizer.strip_accents,
            ).save_to_preset(tmp)
