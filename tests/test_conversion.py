"""Checkpoint conversion: transformers, TF1 and keras-hub, with parity.

The reference models are randomly initialised transformers ELECTRAs built
here and saved to temporary folders (nothing is downloaded).
"""

import json
import os
import warnings

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from helpers import WORDS  # noqa: E402
from helpers import to_numpy  # noqa: E402

import keras_electra  # noqa: E402
from keras_electra import conversion  # noqa: E402
from keras_electra.conversion import state_dict  # noqa: E402
from keras_electra.conversion.state_dict import CheckpointError  # noqa: E402

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
    d_sizes, g_sizes = CONFIGS[name]
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


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("length", [13, 37])
def test_transformers_import_matches_logits_and_losses(tmp_path, name, length):
    discriminator, generator, d_dir, g_dir = make_hf_pair(tmp_path, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tied embeddings: no warning
        pretrainer, tokenizer = conversion.load_transformers(d_dir, g_dir)
    assert tokenizer is None
    # The embedding block is one object shared by both towers.
    assert (
        pretrainer.generator.backbone.embedding
        is pretrainer.discriminator.backbone.embedding
    )
    b = corrupted_batch(length)
    assert_parity(
        our_outputs(pretrainer, b), hf_outputs(discriminator, generator, b)
    )


def test_round_trip_export_import(tmp_path):
    discriminator, generator, d_dir, g_dir = make_hf_pair(
        tmp_path / "in", "embedding_equals_hidden"
    )
    pretrainer, _ = conversion.load_transformers(d_dir, g_dir)
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=WORDS)
    out = tmp_path / "out"
    conversion.export_transformers(pretrainer, out, tokenizer)

    loaded = {}
    for tower, cls in (
        ("discriminator", transformers.ElectraForPreTraining),
        ("generator", transformers.ElectraForMaskedLM),
    ):
        model, info = cls.from_pretrained(out / tower, output_loading_info=True)
        assert not info["missing_keys"], info
        assert not info["unexpected_keys"], info
        assert not info["mismatched_keys"], info
        loaded[tower] = model.eval()
    b = corrupted_batch(21, seed=3)
    reference = hf_outputs(discriminator, generator, b)
    assert_parity(our_outputs(pretrainer, b), reference)
    exported = hf_outputs(loaded["discriminator"], loaded["generator"], b)
    assert_parity(exported, reference)
    # The tied output projection of the exported generator is the shared
    # word table.
    assert (
        loaded["generator"].generator_lm_head.weight.data_ptr()
        == loaded[
            "generator"
        ].electra.embeddings.word_embeddings.weight.data_ptr()
    )

    # Import again: identical weights, tokenizer and special ids kept.
    again, again_tokenizer = conversion.load_transformers(
        out / "discriminator", out / "generator"
    )
    for a, b_ in zip(pretrainer.weights, again.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b_), err_msg=a.path)
    assert again_tokenizer.get_vocabulary() == WORDS
    assert again.mask_token_id == 4 and again.cls_token_id == 2

    # transformers' own tokenizer reads the exported files the same way.
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(
        out / "discriminator"
    )
    text = "The quick brown foxes jumps over the lazy dog."
    ours = [2] + [int(i) for i in to_numpy(tokenizer(text))] + [3]
    assert hf_tokenizer(text)["input_ids"] == ours


def test_untied_pretrainer_exports_and_imports_both_tables(tmp_path):
    pretrainer, _ = conversion.load_transformers(
        *make_hf_pair(tmp_path / "in", "embedding_equals_hidden")[2:],
        tie_embeddings=False,
    )
    gen_table = pretrainer.generator.backbone.token_embedding.embeddings
    gen_table.assign(to_numpy(gen_table) + 0.5)
    out = tmp_path / "out"
    conversion.export_transformers(
        pretrainer, out, keras_electra.ElectraTokenizer(vocabulary=WORDS)
    )
    with pytest.warns(UserWarning, match="tie_embeddings=False"):
        tied, _ = conversion.load_transformers(
            out / "discriminator", out / "generator"
        )
    assert tied.tie_embeddings
    untied, _ = conversion.load_transformers(
        out / "discriminator", out / "generator", tie_embeddings=False
    )
    for tower in ("generator", "discriminator"):
        np.testing.assert_array_equal(
            to_numpy(
                getattr(untied, tower).backbone.token_embedding.embeddings
            ),
            to_numpy(
                getattr(pretrainer, tower).backbone.token_embedding.embeddings
            ),
        )


def test_from_preset_reads_transformers_folders(tmp_path):
    discriminator, generator, d_dir, g_dir = make_hf_pair(tmp_path)
    b = corrupted_batch(17)
    reference = hf_outputs(discriminator, generator, b)

    ours = keras_electra.ElectraDiscriminator.from_preset(d_dir)
    np.testing.assert_allclose(
        to_numpy(ours(keras_inputs(b, b["corrupted"]))),
        reference["discriminator_logits"],
        atol=1e-4,
    )
    gen = keras_electra.ElectraGenerator.from_preset(g_dir)
    logits = gen(
        {
            **keras_inputs(b, b["masked"]),
            "mask_positions": b["positions"].astype("int32"),
        }
    )
    np.testing.assert_allclose(
        to_numpy(logits), reference["generator_logits"], atol=1e-4
    )
    backbone = keras_electra.ElectraBackbone.from_preset(d_dir)
    assert backbone.hidden_dim == 48 and backbone.embedding_dim == 16
    # A folder holding both towers loads as a pretrainer.
    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        str(tmp_path), mask_rate=0.25
    )
    assert pretrainer.mask_rate == 0.25
    assert_parity(our_outputs(pretrainer, b), reference)
    with pytest.raises(CheckpointError, match="needs both towers"):
        keras_electra.ElectraPretrainer.from_preset(d_dir)


def test_untied_embeddings_warn_and_use_the_discriminators(tmp_path):
    discriminator, _, d_dir, g_dir = make_hf_pair(tmp_path, tie=False)
    with pytest.warns(UserWarning, match="discriminator's .* is used"):
        pretrainer, _ = conversion.load_transformers(d_dir, g_dir)
    np.testing.assert_array_equal(
        to_numpy(pretrainer.generator.backbone.token_embedding.embeddings),
        discriminator.electra.embeddings.word_embeddings.weight.detach().numpy(),
    )


def test_pytorch_bin_checkpoints_load(tmp_path):
    discriminator, _, d_dir, _ = make_hf_pair(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    torch.save(discriminator.state_dict(), bin_dir / "pytorch_model.bin")
    (bin_dir / "config.json").write_text(
        (tmp_path / "discriminator" / "config.json").read_text()
    )
    model = keras_electra.ElectraDiscriminator.from_preset(str(bin_dir))
    b = corrupted_batch(11)
    np.testing.assert_allclose(
        to_numpy(model(keras_inputs(b, b["corrupted"]))),
        _hf_discriminator_logits(discriminator, b),
        atol=1e-4,
    )


def _hf_discriminator_logits(discriminator, b):
    with torch.no_grad():
        return discriminator(
            input_ids=torch.tensor(b["corrupted"]),
            attention_mask=torch.tensor(b["padding_mask"]),
            token_type_ids=torch.tensor(b["segment_ids"]),
        ).logits.numpy()


# --- TF1 checkpoints ------------------------------------------------------


def write_tf1_checkpoint(path, rng):
    """A small checkpoint with the reference's variable names (and optimizer
    slots, which the converter must skip)."""
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


# --- keras-hub ------------------------------------------------------------


def test_keras_hub_export_and_import(tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    _, _, d_dir, _ = make_hf_pair(tmp_path)
    discriminator = keras_electra.ElectraDiscriminator.from_preset(d_dir)
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=WORDS)
    out = tmp_path / "hub"
    conversion.export_keras_hub(discriminator, out, tokenizer)

    hub = keras_hub.models.ElectraBackbone.from_preset(str(out))
    hub_tokenizer = keras_hub.models.ElectraTokenizer.from_preset(str(out))
    assert hub_tokenizer.get_vocabulary() == WORDS
    b = corrupted_batch(19)
    x = keras_inputs(b, b["corrupted"])
    theirs = to_numpy(hub(x)["sequence_output"])
    ours = to_numpy(discriminator.backbone(x))
    # Same weights; only keras-hub's tanh-approximate GELU differs.
    gap = np.max(np.abs(theirs - ours))
    assert 0 < gap < 1e-2, gap

    backbone = keras_electra.ElectraBackbone.from_preset(str(out))
    for a, b_ in zip(discriminator.backbone.weights, backbone.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b_))
    imported, imported_tokenizer = conversion.load_keras_hub(str(out))
    assert imported_tokenizer.get_vocabulary() == WORDS
    with pytest.warns(UserWarning, match="random weights"):
        keras_electra.ElectraDiscriminator.from_preset(str(out))
    with pytest.raises(CheckpointError, match="no generator head"):
        keras_electra.ElectraGenerator.from_preset(str(out))


# --- bad input ------------------------------------------------------------


def test_not_an_electra_folder(tmp_path):
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="'bert' model"):
        keras_electra.ElectraDiscriminator.from_preset(str(folder))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        conversion.load_transformers(str(empty))
    with pytest.raises(CheckpointError, match="no TF1 checkpoint"):
        conversion.load_tf1(str(empty))


def test_mismatched_towers_are_named(tmp_path):
    _, _, d_dir, g_dir = make_hf_pair(tmp_path)
    config = json.loads(open(f"{g_dir}/config.json").read())
    for field, value in (("vocab_size", 90), ("embedding_size", 8)):
        bad = {**config, field: value}
        with open(f"{g_dir}/config.json", "w") as f:
            json.dump(bad, f)
        with pytest.raises(CheckpointError, match=f"{field} differ"):
            conversion.load_transformers(d_dir, g_dir)


def test_missing_and_misplaced_weights_are_named(tmp_path):
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file

    _, _, d_dir, g_dir = make_hf_pair(tmp_path)
    state = load_file(f"{d_dir}/model.safetensors")
    key = "electra.encoder.layer.1.attention.self.value.bias"
    del state[key]
    save_file(state, f"{d_dir}/model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=key.replace(".", r"\.")):
        conversion.load_transformers(d_dir)
    # A discriminator folder where a generator is expected.
    with pytest.raises(CheckpointError, match="not an ElectraForMaskedLM"):
        keras_electra.ElectraGenerator.from_preset(d_dir)
    os.remove(f"{d_dir}/model.safetensors")
    with pytest.raises(CheckpointError, match="no weights"):
        conversion.load_transformers(d_dir)


def test_convert_and_export_commands(tmp_path, capsys):
    from keras_electra.cli import main

    discriminator, generator, d_dir, g_dir = make_hf_pair(tmp_path / "hf")
    preset = tmp_path / "preset"
    assert (
        main(
            [
                "convert",
                "--from",
                "transformers",
                "--discriminator",
                d_dir,
                "--generator",
                g_dir,
                "--output",
                str(preset),
            ]
        )
        == 0
    )
    pretrainer = keras_electra.ElectraPretrainer.from_preset(str(preset))
    b = corrupted_batch(15)
    assert_parity(
        our_outputs(pretrainer, b), hf_outputs(discriminator, generator, b)
    )

    out = tmp_path / "exported"
    assert main(["export", "--to", "transformers", str(preset), str(out)]) == 0
    model = transformers.ElectraForPreTraining.from_pretrained(
        out / "discriminator"
    )
    assert model.config.embedding_size == 16
    assert (
        main(
            ["export", "--to", "keras-hub", str(preset), str(tmp_path / "hub")]
        )
        == 0
    )
    assert (tmp_path / "hub" / "model.weights.h5").is_file()

    # One tower alone becomes a discriminator preset.
    single = tmp_path / "single"
    assert (
        main(
            [
                "convert",
                "--from",
                "transformers",
                "--discriminator",
                d_dir,
                "--output",
                str(single),
            ]
        )
        == 0
    )
    alone = keras_electra.ElectraDiscriminator.from_preset(str(single))
    np.testing.assert_allclose(
        to_numpy(alone(keras_inputs(b, b["corrupted"]))),
        _hf_discriminator_logits(discriminator, b),
        atol=1e-4,
    )

    assert (
        main(
            [
                "convert",
                "--from",
                "transformers",
                "--discriminator",
                str(tmp_path),
                "--output",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "no config.json" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                "--to",
                "transformers",
                "electra_tiny",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert "holds no weights" in capsys.readouterr().err


def test_fine_tuning_tasks_load_transformers_folders(tmp_path):
    discriminator, _, d_dir, _ = make_hf_pair(tmp_path)
    b = corrupted_batch(12)
    with torch.no_grad():
        hidden = discriminator.electra(
            input_ids=torch.tensor(b["corrupted"]),
            attention_mask=torch.tensor(b["padding_mask"]),
            token_type_ids=torch.tensor(b["segment_ids"]),
        ).last_hidden_state.numpy()
    classifier = keras_electra.ElectraTextClassifier.from_preset(
        d_dir, num_classes=3
    )
    assert classifier.preprocessor is None  # the folder has no vocab.txt
    np.testing.assert_allclose(
        to_numpy(classifier.backbone(keras_inputs(b, b["corrupted"]))),
        hidden,
        atol=1e-4,
    )
    assert classifier.predict(
        keras_inputs(b, b["corrupted"]), verbose=0
    ).shape == (3, 3)
    # With a vocabulary the task gets a preprocessor: raw strings in.
    out = tmp_path / "with_vocab"
    conversion.export_transformers(
        keras_electra.ElectraDiscriminator.from_preset(d_dir),
        out,
        keras_electra.ElectraTokenizer(vocabulary=WORDS),
    )
    tagger = keras_electra.ElectraTokenClassifier.from_preset(
        str(out), num_classes=4
    )
    assert isinstance(
        tagger.preprocessor, keras_electra.ElectraTokenClassifierPreprocessor
    )
    qa = keras_electra.ElectraQuestionAnswerer.from_preset(str(out))
    assert qa.backbone.hidden_dim == 48
    preprocessor = keras_electra.ElectraTextClassifierPreprocessor.from_preset(
        str(out), sequence_length=8
    )
    assert preprocessor.tokenizer.get_vocabulary() == WORDS
