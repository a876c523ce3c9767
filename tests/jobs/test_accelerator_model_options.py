"""The backbone's accelerator options as pre-training options:
`attention_dropout` (0: Keras' fused attention) and
`pad_vocabulary_to_multiple_of` (a token table padded for tensor cores),
from the command line to the saved preset, for both objectives."""

import json

import pytest
from helpers import TASK_VOCABULARY
from helpers import once_per_suite
from helpers import tiny_pretrainer

import keras_electra
from keras_electra import cli
from keras_electra.jobs.options import PretrainConfig
from keras_electra.jobs.options import PretrainingError
from keras_electra.jobs.pretrain import pretrain
from keras_electra.utils import preset_utils

FLAGS = ["--attention-dropout", "0", "--pad-vocabulary-to-multiple-of", "64"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A weightless preset of a tiny ELECTRA over the 120 test words, their
    vocabulary and a corpus of them: a run of a few seconds."""
    folder = tmp_path_factory.mktemp("accelerator")
    preset = folder / "preset"
    preset.mkdir()
    pretrainer = tiny_pretrainer(dropout=0.1)
    (preset / "config.json").write_text(
        preset_utils.serialize_to_json(pretrainer.backbone)
    )
    (preset / "task.json").write_text(
        preset_utils.serialize_to_json(pretrainer)
    )
    vocabulary = folder / "vocab.txt"
    vocabulary.write_text("\n".join(TASK_VOCABULARY) + "\n")
    words = TASK_VOCABULARY[5:]
    lines = [
        " ".join(words[(i * 7 + j) % len(words)] for j in range(12))
        for i in range(64)
    ]
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    return dict(preset=str(preset), vocabulary=str(vocabulary), corpus=corpus)


def _argv(inputs, output, *extra):
    return [
        "pretrain",
        "--preset",
        inputs["preset"],
        "--corpus",
        str(inputs["corpus"]),
        "--vocab",
        inputs["vocabulary"],
        "--output",
        str(output),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--sequence-length",
        "16",
        "--checkpoint-every",
        "2",
        *extra,
    ]


def test_options_are_checked_in_the_callers_words(capsys):
    config = PretrainConfig(
        attention_dropout=0, pad_vocabulary_to_multiple_of=64.0
    )
    assert config.attention_dropout == 0.0
    assert config.pad_vocabulary_to_multiple_of == 64
    assert isinstance(config.pad_vocabulary_to_multiple_of, int)
    # Unset, the preset's values hold (the reference: neither).
    assert PretrainConfig().attention_dropout is None
    assert PretrainConfig().pad_vocabulary_to_multiple_of is None
    for bad, message in (
        (dict(attention_dropout=1.0), "`attention_dropout` must be a rate"),
        (dict(attention_dropout=-0.1), "`attention_dropout` must be a rate"),
        (dict(attention_dropout=True), "`attention_dropout` must be a rate"),
        (
            dict(pad_vocabulary_to_multiple_of=0),
            "`pad_vocabulary_to_multiple_of` must be a positive number",
        ),
        (
            dict(pad_vocabulary_to_multiple_of=6.4),
            "`pad_vocabulary_to_multiple_of` must be a whole number",
        ),
    ):
        with pytest.raises(PretrainingError, match=message):
            PretrainConfig(**bad)
    # Both objectives take them: they are the encoder's, not ELECTRA's.
    PretrainConfig(objective="mlm", attention_dropout=0.0)
    for argv, said in (
        (["--attention-dropout", "1.5"], "--attention-dropout must be a rate"),
        (
            ["--pad-vocabulary-to-multiple-of", "-64"],
            "--pad-vocabulary-to-multiple-of must be a positive number of "
            "rows (64 or 128",
        ),
    ):
        assert cli.main(["pretrain", *argv]) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, err


@pytest.mark.parametrize("objective", ["rtd", "mlm"])
def test_both_objectives_build_their_encoders_with_the_options(
    objective, inputs, tmp_path
):
    from keras_electra.jobs import pretrain_setup

    config = PretrainConfig(
        preset=inputs["preset"],
        vocabulary=inputs["vocabulary"],
        output=str(tmp_path / "unused"),
        objective=objective,
        attention_dropout=0.0,
        pad_vocabulary_to_multiple_of=64,
    )
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=inputs["vocabulary"])
    model = pretrain_setup.new_pretrainer(config, tokenizer)
    if objective == "rtd":
        towers = [model.discriminator.backbone, model.generator.backbone]
        # One padded table for both towers; the generator predicts real ids.
        assert towers[0].embedding is towers[1].embedding
        head = model.generator.mlm_head
    else:
        towers = [model.backbone]
        head = model.mlm_head
    for backbone in towers:
        assert backbone.attention_dropout == 0.0
        assert backbone.dropout == 0.1  # the preset's, elsewhere
        assert backbone.vocabulary_size == 120
        assert backbone.padded_vocabulary_size == 128
    assert head.predicted_vocabulary_size == 120
    # Unset, the preset's own encoder.
    plain = pretrain_setup.new_pretrainer(
        PretrainConfig(
            preset=inputs["preset"],
            output=str(tmp_path / "unused"),
            objective=objective,
        ),
        tokenizer,
    )
    assert plain.backbone.attention_dropout is None
    assert plain.backbone.padded_vocabulary_size == 120


# The options train on every backend in
# tests/models/test_pretraining_options.py; this is the command line's part.
@once_per_suite
def test_the_command_line_trains_and_saves_the_options(
    inputs, tmp_path, capsys
):
    from keras_electra.jobs import pretrain_setup

    # The masked-LM objective: the quicker run of the two (the same
    # set-up builds both, above).
    out = tmp_path / "run"
    argv = _argv(inputs, out, "--objective", "mlm", *FLAGS)
    assert cli.main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    run = json.loads((out / "run.json").read_text())
    assert run["attention_dropout"] == 0.0
    assert run["pad_vocabulary_to_multiple_of"] == 64
    # The saved preset's encoder (what fine-tuning loads) has them.
    stored = json.loads((out / "preset" / "config.json").read_text())
    assert stored["config"]["attention_dropout"] == 0.0
    assert stored["config"]["pad_vocabulary_to_multiple_of"] == 64
    backbone = keras_electra.ElectraBackbone.from_preset(str(out / "preset"))
    assert backbone.padded_vocabulary_size == 128

    # They define the model: a resumed run keeps them, and says so.
    for flags in (
        ["--pad-vocabulary-to-multiple-of", "128"],
        ["--attention-dropout", "0.1"],
    ):
        resumed = _argv(inputs, out, "--objective", "mlm", "--resume")
        assert cli.main(resumed + flags) == 2
        err = capsys.readouterr().err
        assert flags[0] in err and "was started with other settings" in err
    # A preset with weights keeps its table: a new padding is refused
    # before any work, naming the fix; the same padding is the preset's.
    again = dict(
        preset=str(out / "preset"),
        corpus=str(inputs["corpus"]),
        sequence_length=16,
        verbose=0,
    )
    with pytest.raises(PretrainingError, match="Drop `pad_vocabulary_to"):
        pretrain(
            str(tmp_path / "again"), pad_vocabulary_to_multiple_of=128, **again
        )
    assert not (tmp_path / "again").exists()
    pretrain_setup.check_inputs(
        PretrainConfig(
            preset=str(out / "preset"),
            corpus=[str(inputs["corpus"])],
            sequence_length=16,
            pad_vocabulary_to_multiple_of=64,
        )
    )
