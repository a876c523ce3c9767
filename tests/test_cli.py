"""`keras_electra/cli.py`: the `keras-electra` command line."""

import subprocess
import sys

import numpy as np
import pytest
from helpers import VOCAB_FILE
from helpers import to_numpy

import keras_electra
from keras_electra import cli


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    code = cli.main(
        [
            "pretrain",
            "--corpus",
            str(tmp_path / "nothing.txt"),
            "--output",
            str(tmp_path / "o"),
            "--vocab",
            str(VOCAB_FILE),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "does not exist" in err and "Traceback" not in err
    assert cli.main(["info", "electra_small"]) == 0
    out = capsys.readouterr().out
    assert "13,483,008" in out and "mask_rate=0.15" in out
    assert cli.main(["info"]) == 0
    assert "electra_tiny" in capsys.readouterr().out
    assert cli.main(["info", "electra_nope"]) == 2
    assert "Built-in presets" in capsys.readouterr().err


def test_convert_and_export_commands(tmp_path, capsys):
    from conversion_helpers import assert_parity
    from conversion_helpers import corrupted_batch
    from conversion_helpers import hf_discriminator_logits
    from conversion_helpers import hf_outputs
    from conversion_helpers import keras_inputs
    from conversion_helpers import make_hf_pair
    from conversion_helpers import our_outputs
    from conversion_helpers import transformers

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
        hf_discriminator_logits(discriminator, b),
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


def test_help_describes_every_command_and_version(capsys):
    from keras_electra.cli import build_parser
    from keras_electra.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith("keras-electra ")
    commands = build_parser()._subparsers._group_actions[0].choices
    assert len(commands) == 8
    for name in commands:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out
        assert "examples:" in text and f"keras-electra {name}" in text, name
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = capsys.readouterr().out
    assert "(default: 32)" in text and "(default: None)" not in text


def test_info_loads_no_backend(tmp_path):
    code = (
        "import sys\n"
        "from keras_electra import cli\n"
        "assert cli.main(['info', 'electra_tiny']) == 0\n"
        "loaded = [m for m in ('keras', 'tensorflow', 'jax', 'torch')\n"
        "          if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    assert "num_train_steps" in done.stdout and done.stderr == ""


def test_info_names_a_damaged_weights_file(preset, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(preset, copy)
    weights = copy / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])  # a cut-off write
    assert cli.main(["info", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "weights: DAMAGED" in out and "task weights: yes" in out
