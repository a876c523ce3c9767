"""Google's released pairs by preset name: resolved on first use, cached,
continued on the user's text, then fine-tuned.

The hub cannot be reached here, so a random transformers pair saved to a
temporary folder stands in for the `hf://` handles; the resolution code is
the one that fetches the real ones.
"""

import json

import numpy as np
import pytest
from conversion_helpers import VOCAB
from conversion_helpers import make_hf_pair
from helpers import WORDS
from helpers import to_numpy

import keras_electra
from keras_electra.jobs.pretrain import pretrain
from keras_electra.utils import preset_utils
from keras_electra.utils import released_presets

NAME = "electra_small_uncased_en"


def hub_pair(folder, seed=0):
    """A random transformers pair with its vocabulary, as the hub has it."""
    discriminator, _, d_dir, g_dir = make_hf_pair(folder, seed=seed)
    vocabulary = WORDS + [f"w{i}" for i in range(VOCAB - len(WORDS))]
    for tower in (d_dir, g_dir):
        with open(f"{tower}/vocab.txt", "w", encoding="utf-8") as f:
            f.write("\n".join(vocabulary) + "\n")
        with open(f"{tower}/tokenizer_config.json", "w") as f:
            json.dump({"do_lower_case": True}, f)
    entry = released_presets.ReleasedPreset(
        d_dir, g_dir, "stand-in", settings={"learning_rate": 2e-4}
    )
    return discriminator, entry


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A local pair in place of the handles of `NAME`, and a fresh cache."""
    discriminator, entry = hub_pair(tmp_path / "hub")
    monkeypatch.setitem(released_presets.RELEASED, NAME, entry)
    monkeypatch.setenv("KERAS_ELECTRA_CACHE", str(tmp_path / "cache"))
    return discriminator, tmp_path / "cache" / NAME


def test_the_names_are_listed_and_unknown_names_say_so():
    assert NAME in keras_electra.presets(released=True)
    assert NAME not in keras_electra.presets()
    assert "electra_base_uncased_en" in preset_utils.released_presets()
    assert released_presets.RELEASED["electra_base_uncased_en"].generator == (
        "hf://google/electra-base-generator"
    )
    with pytest.raises(ValueError, match="released pairs: electra_base"):
        preset_utils.resolve_preset("electra_medium_uncased_en")


def test_continue_pretraining_then_fine_tune_by_name(
    stand_in, corpus, tmp_path, capsys
):
    discriminator, cache = stand_in
    pretrainer = keras_electra.ElectraPretrainer.from_preset(NAME)
    assert "Fetching and converting" in capsys.readouterr().out
    assert (cache / "released_from.json").is_file()
    assert pretrainer.tie_embeddings
    assert pretrainer.learning_rate == 2e-4  # the size's, from the entry
    google = discriminator.electra.embeddings.word_embeddings.weight
    table = pretrainer.backbone.token_embedding.embeddings
    np.testing.assert_array_equal(to_numpy(table), google.detach().numpy())
    # Cached: the second call converts nothing.
    keras_electra.ElectraBackbone.from_preset(NAME)
    assert "Fetching" not in capsys.readouterr().out

    result = pretrain(
        str(tmp_path / "run"),
        preset=NAME,
        corpus=corpus,
        steps=3,
        batch_size=4,
        sequence_length=16,
        warmup_steps=1,
        verbose=0,
    )
    continued = keras_electra.ElectraPretrainer.from_preset(result["preset"])
    after = to_numpy(continued.backbone.token_embedding.embeddings)
    assert after.shape == (VOCAB, 16)
    assert not np.allclose(after, google.detach().numpy())
    tokenizer = keras_electra.ElectraTokenizer.from_preset(result["preset"])
    assert tokenizer.get_vocabulary()[: len(WORDS)] == WORDS

    for preset in (result["preset"], NAME):
        classifier = keras_electra.ElectraTextClassifier.from_preset(
            preset, num_classes=2, sequence_length=16
        )
        classifier.compile(num_train_steps=2)
        history = classifier.fit(
            ["the quick brown fox", "the lazy dog"] * 4,
            np.array([0, 1] * 4),
            batch_size=4,
            verbose=0,
        )
        assert np.isfinite(history.history["loss"][-1])


def test_a_changed_handle_is_converted_again(stand_in, tmp_path, monkeypatch):
    _, cache = stand_in
    keras_electra.ElectraBackbone.from_preset(NAME)
    source = json.loads((cache / "released_from.json").read_text())
    other, entry = hub_pair(tmp_path / "other", seed=5)
    monkeypatch.setitem(released_presets.RELEASED, NAME, entry)
    backbone = keras_electra.ElectraBackbone.from_preset(NAME)
    assert json.loads((cache / "released_from.json").read_text()) != source
    np.testing.assert_array_equal(
        to_numpy(backbone.token_embedding.embeddings),
        other.electra.embeddings.word_embeddings.weight.detach().numpy(),
    )


def test_offline_a_released_name_fails_in_one_line_naming_the_fix(
    tmp_path, monkeypatch, capsys
):
    from keras_electra import cli
    from keras_electra.conversion import released

    monkeypatch.setenv("KERAS_ELECTRA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_fetch(*args, **kwargs):
        raise AssertionError("fetched while offline")

    monkeypatch.setattr(
        released.transformers_checkpoint, "load_pretrainer", no_fetch
    )
    # `info` answers from the table, without fetching.
    assert cli.main(["info", NAME]) == 0
    out = capsys.readouterr().out
    assert "hf://google/electra-small-discriminator" in out
    assert "Not fetched yet" in out
    # A run names the cause and the local-copy route, before any work.
    code = cli.main(["pretrain", "--preset", NAME, "--output", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "HF_HUB_OFFLINE" in err[0] and "keras-electra convert" in err[0]
    assert not (tmp_path / "cache").exists()
