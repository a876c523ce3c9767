"""Shared set-up of the conversion tests: random transformers ELECTRA pairs
built and saved here (nothing is downloaded), corrupted batches, and the
parity check between their outputs and ours.
"""

import os

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from helpers import to_numpy  # noqa: E402

VOCAB = 101


MASK_ID = 4


# (discriminator, generator) sizes: embedding equal to / smaller than the
# hidden size, generators smaller than discriminators, a generator whose
# hidden size equals the embedding size (no projection).
CONFIGS = {
    "embedding_equals_hidden": (
        dict(
            embedding_size=32,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
        ),
        dict(
            embedding_size=32,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=1,
            intermediate_size=32,
        ),
    ),
    "embedding_smaller": (
        dict(
            embedding_size=16,
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=3,
            intermediate_size=96,
        ),
        dict(
            embedding_size=16,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
        ),
    ),
}

# The reference's untied generator: its own embeddings, as wide as its
# hidden layer (no projection). Not in CONFIGS: its towers cannot share.
UNTIED_CONFIGS = {
    "untied_generator": (
        dict(
            embedding_size=24,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
        ),
        dict(
            embedding_size=16,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
        ),
    ),
}


def hf_config(**sizes):
    return transformers.ElectraConfig(
        vocab_size=VOCAB,
        max_position_embeddings=48,
        type_vocab_size=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **sizes,
    )


def make_hf_pair(tmp_path, name="embedding_smaller", seed=0, tie=True):
    """A random transformers discriminator/generator pair saved to disk."""
    torch.manual_seed(seed)
    d_sizes, g_sizes = {**CONFIGS, **UNTIED_CONFIGS}[name]
    discriminator = transformers.ElectraForPreTraining(hf_config(**d_sizes))
    generator = transformers.ElectraForMaskedLM(hf_config(**g_sizes))
    with torch.no_grad():
        # Non-trivial LayerNorm and bias values, so that a wrong mapping
        # cannot hide behind the initial ones and zeros.
        for model in (discriminator, generator):
            for n, p in model.named_parameters():
                if "LayerNorm" in n or n.endswith("bias"):
                    p.add_(0.1 * torch.randn_like(p))
    if tie:
        generator.electra.embeddings.load_state_dict(
            discriminator.electra.embeddings.state_dict()
        )
    discriminator.eval()
    generator.eval()
    d_dir, g_dir = tmp_path / "discriminator", tmp_path / "generator"
    discriminator.save_pretrained(d_dir)
    generator.save_pretrained(g_dir)
    return discriminator, generator, str(d_dir), str(g_dir)


def corrupted_batch(length, seed=0):
    """Ids with padding, [MASK]ed positions and some replaced tokens."""
    rng = np.random.default_rng(seed)
    batch = 3
    original = rng.integers(5, VOCAB, (batch, length))
    padding_mask = np.ones((batch, length), "int64")
    padding_mask[1, length - 4 :] = 0
    padding_mask[2, length // 2 :] = 0
    original[padding_mask == 0] = 0
    segment_ids = np.zeros_like(original)
    segment_ids[:, length // 3 :] = 1
    segment_ids[padding_mask == 0] = 0
    positions = np.stack(
        [
            rng.choice(int(padding_mask[i].sum()), 3, replace=False)
            for i in range(batch)
        ]
    )
    masked = original.copy()
    np.put_along_axis(masked, positions, MASK_ID, axis=1)
    corrupted = original.copy()
    sampled = rng.integers(5, VOCAB, positions.shape)
    sampled[:, 0] = np.take_along_axis(original, positions, 1)[:, 0]
    np.put_along_axis(corrupted, positions, sampled, axis=1)
    labels = ((corrupted != original) & (padding_mask == 1)).astype("int64")
    return dict(
        original=original,
        masked=masked,
        corrupted=corrupted,
        labels=labels,
        positions=positions,
        segment_ids=segment_ids,
        padding_mask=padding_mask,
    )


def keras_inputs(b, token_ids):
    return {
        "token_ids": token_ids.astype("int32"),
        "segment_ids": b["segment_ids"].astype("int32"),
        "padding_mask": b["padding_mask"].astype("int32"),
    }


def hf_outputs(discriminator, generator, b):
    """transformers' logits and losses on the batch."""
    t = torch.tensor
    mlm_labels = np.full_like(b["original"], -100)
    np.put_along_axis(
        mlm_labels,
        b["positions"],
        np.take_along_axis(b["original"], b["positions"], 1),
        1,
    )
    with torch.no_grad():
        g = generator(
            input_ids=t(b["masked"]),
            attention_mask=t(b["padding_mask"]),
            token_type_ids=t(b["segment_ids"]),
            labels=t(mlm_labels),
        )
        d = discriminator(
            input_ids=t(b["corrupted"]),
            attention_mask=t(b["padding_mask"]),
            token_type_ids=t(b["segment_ids"]),
            labels=t(b["labels"]),
        )
    generator_logits = np.take_along_axis(
        g.logits.numpy(), b["positions"][..., None], axis=1
    )
    return dict(
        generator_logits=generator_logits,
        generator_loss=g.loss.item(),
        discriminator_logits=d.logits.numpy(),
        discriminator_loss=d.loss.item(),
    )


def our_outputs(pretrainer, b):
    generator_logits = pretrainer.generator(
        {
            **keras_inputs(b, b["masked"]),
            "mask_positions": b["positions"].astype("int32"),
        }
    )
    discriminator_logits = pretrainer.discriminator(
        keras_inputs(b, b["corrupted"])
    )
    y_pred = {
        "generator_logits": generator_logits,
        "mask_ids": np.take_along_axis(b["original"], b["positions"], 1).astype(
            "int32"
        ),
        "mask_weights": np.ones(b["positions"].shape, "float32"),
        "discriminator_logits": discriminator_logits,
        "replaced_labels": b["labels"].astype("float32"),
        "padding_mask": b["padding_mask"].astype("float32"),
    }
    y_pred = {k: keras.ops.convert_to_tensor(v) for k, v in y_pred.items()}
    return dict(
        generator_logits=to_numpy(generator_logits),
        generator_loss=float(to_numpy(pretrainer.generator_loss(y_pred))),
        discriminator_logits=to_numpy(discriminator_logits),
        discriminator_loss=float(
            to_numpy(pretrainer.discriminator_loss(y_pred))
        ),
    )


def assert_parity(ours, reference):
    for key in ("generator_logits", "discriminator_logits"):
        np.testing.assert_allclose(
            ours[key], reference[key], rtol=0, atol=1e-4, err_msg=key
        )
    for key in ("generator_loss", "discriminator_loss"):
        np.testing.assert_allclose(
            ours[key], reference[key], rtol=1e-5, err_msg=key
        )


def hf_discriminator_logits(discriminator, b):
    with torch.no_grad():
        return discriminator(
            input_ids=torch.tensor(b["corrupted"]),
            attention_mask=torch.tensor(b["padding_mask"]),
            token_type_ids=torch.tensor(b["segment_ids"]),
        ).logits.numpy()


def write_tf1_checkpoint(path, rng, untied=False):
    """A small checkpoint with the reference's variable names (and optimizer
    slots, which the converter must skip). `untied`: as the reference's
    `untied_generator_embeddings` writes it (the generator's own embeddings
    under `generator/embeddings`, as wide as its hidden layer)."""
    tf = pytest.importorskip("tensorflow")
    V, E, P, H, GH, FF, GI = 60, 24, 32, 128, 64, 96, 40
    values = {
        "electra/embeddings/word_embeddings": (V, E),
        "electra/embeddings/position_embeddings": (P, E),
        "electra/embeddings/token_type_embeddings": (2, E),
        "electra/embeddings/LayerNorm/gamma": (E,),
        "electra/embeddings/LayerNorm/beta": (E,),
        "electra/embeddings_project/kernel": (E, H),
        "electra/embeddings_project/bias": (H,),
        "generator/embeddings_project/kernel": (E, GH),
        "generator/embeddings_project/bias": (GH,),
        "discriminator_predictions/dense/kernel": (H, H),
        "discriminator_predictions/dense/bias": (H,),
        "discriminator_predictions/dense_1/kernel": (H, 1),
        "discriminator_predictions/dense_1/bias": (1,),
        "generator_predictions/dense/kernel": (GH, E),
        "generator_predictions/dense/bias": (E,),
        "generator_predictions/LayerNorm/gamma": (E,),
        "generator_predictions/LayerNorm/beta": (E,),
        "generator_predictions/output_bias": (V,),
    }
    for scope, hidden, inter, layers in (
        ("electra", H, FF, 2),
        ("generator", GH, GI, 1),
    ):
        for i in range(layers):
            p = f"{scope}/encoder/layer_{i}"
            for n in ("query", "key", "value"):
                values[f"{p}/attention/self/{n}/kernel"] = (hidden, hidden)
                values[f"{p}/attention/self/{n}/bias"] = (hidden,)
            values[f"{p}/attention/output/dense/kernel"] = (hidden, hidden)
            values[f"{p}/attention/output/dense/bias"] = (hidden,)
            values[f"{p}/intermediate/dense/kernel"] = (hidden, inter)
            values[f"{p}/intermediate/dense/bias"] = (inter,)
            values[f"{p}/output/dense/kernel"] = (inter, hidden)
            values[f"{p}/output/dense/bias"] = (hidden,)
            for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
                values[f"{p}/{ln}/gamma"] = (hidden,)
                values[f"{p}/{ln}/beta"] = (hidden,)
    if untied:
        for name in ("kernel", "bias"):
            del values[f"generator/embeddings_project/{name}"]
        values.update(
            {
                "generator/embeddings/word_embeddings": (V, GH),
                "generator/embeddings/position_embeddings": (P, GH),
                "generator/embeddings/token_type_embeddings": (2, GH),
                "generator/embeddings/LayerNorm/gamma": (GH,),
                "generator/embeddings/LayerNorm/beta": (GH,),
                "generator_predictions/dense/kernel": (GH, GH),
                "generator_predictions/dense/bias": (GH,),
                "generator_predictions/LayerNorm/gamma": (GH,),
                "generator_predictions/LayerNorm/beta": (GH,),
            }
        )
    values = {
        k: rng.normal(0, 0.05, s).astype("float32") for k, s in values.items()
    }
    slots = {
        f"{k}/adam_m": np.zeros_like(v) for k, v in list(values.items())[:3]
    }
    graph = tf.Graph()
    with graph.as_default():
        variables = [
            tf.compat.v1.get_variable(name, initializer=value)
            for name, value in {**values, **slots}.items()
        ]
        variables.append(tf.compat.v1.train.get_or_create_global_step())
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(path, "model.ckpt"), global_step=7)
    return values
