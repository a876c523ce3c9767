"""`conversion/tf1_checkpoint.py`: Google's TF1 checkpoints."""

import numpy as np
from conversion_helpers import write_tf1_checkpoint
from helpers import WORDS
from helpers import to_numpy

import keras_electra
from keras_electra import conversion
from keras_electra.conversion import state_dict


def test_tf1_checkpoint_import(tmp_path):
    values = write_tf1_checkpoint(str(tmp_path), np.random.default_rng(0))
    (tmp_path / "vocab.txt").write_text(
        "\n".join(WORDS + [f"w{i}" for i in range(60 - len(WORDS))]) + "\n"
    )
    pretrainer, tokenizer = conversion.load_tf1(tmp_path)
    d, g = pretrainer.discriminator, pretrainer.generator
    # Sizes read from the shapes; heads by the reference's hidden // 64.
    assert (
        d.backbone.num_layers,
        d.backbone.hidden_dim,
        d.backbone.num_heads,
        d.backbone.intermediate_dim,
    ) == (2, 128, 2, 96)
    assert (
        g.backbone.num_layers,
        g.backbone.hidden_dim,
        g.backbone.num_heads,
        g.backbone.intermediate_dim,
    ) == (1, 64, 1, 40)
    assert tokenizer.vocabulary_size() == 60 and pretrainer.mask_token_id == 4

    def same(ours, name, transform=lambda v: v):
        np.testing.assert_array_equal(
            to_numpy(ours), transform(values[name]), err_msg=name
        )

    same(
        d.backbone.embedding.token_embedding.embeddings,
        "electra/embeddings/word_embeddings",
    )
    same(
        g.backbone.embedding.layer_norm.gamma,
        "electra/embeddings/LayerNorm/gamma",
    )
    same(
        g.backbone.embeddings_projection.kernel,
        "generator/embeddings_project/kernel",
    )
    attention = d.backbone.transformer_layers[1]._self_attention_layer
    same(
        attention.query_dense.kernel,
        "electra/encoder/layer_1/attention/self/query/kernel",
        lambda v: v.reshape(128, 2, 64),
    )
    same(
        attention.output_dense.kernel,
        "electra/encoder/layer_1/attention/output/dense/kernel",
        lambda v: v.reshape(2, 64, 128),
    )
    same(d.rtd_logits.kernel, "discriminator_predictions/dense_1/kernel")
    same(g.mlm_head._bias, "generator_predictions/output_bias")
    same(
        g.mlm_head._intermediate_layer_norm.beta,
        "generator_predictions/LayerNorm/beta",
    )
    # One variable of ours per TF1 variable (the 5 shared ones counted once).
    count = len(state_dict.entries_for(d)) + len(state_dict.entries_for(g)) - 5
    assert count == len(values)
    # from_preset reads the folder too, with an explicit head count.
    backbone = keras_electra.ElectraBackbone.from_preset(str(tmp_path))
    assert backbone.hidden_dim == 128
    other, _ = conversion.load_tf1(tmp_path, num_heads=4)
    assert other.discriminator.backbone.num_heads == 4


def test_tf1_untied_generator_import(tmp_path):
    values = write_tf1_checkpoint(
        str(tmp_path), np.random.default_rng(1), untied=True
    )
    pretrainer, _ = conversion.load_tf1(tmp_path)
    assert not pretrainer.tie_embeddings
    g = pretrainer.generator.backbone
    assert g.embedding_dim == g.hidden_dim == 64
    assert g.embeddings_projection is None
    np.testing.assert_array_equal(
        to_numpy(g.embedding.token_embedding.embeddings),
        values["generator/embeddings/word_embeddings"],
    )
    np.testing.assert_array_equal(
        to_numpy(
            pretrainer.discriminator.backbone.embedding.token_embedding.embeddings
        ),
        values["electra/embeddings/word_embeddings"],
    )
    # The generator's MLM output layer is tied to its own table.
    ids = np.array([[2, 7, 4, 9, 3]], "int32")
    x = {
        "token_ids": ids,
        "segment_ids": np.zeros_like(ids),
        "padding_mask": np.ones_like(ids),
        "mask_positions": np.array([[2]], "int32"),
    }
    assert pretrainer.generator.predict(x, verbose=0).shape == (1, 1, 60)
