"""The package as users install it: the console script, outside the source.

CI installs the wheel (not editable) and runs the suite from an empty folder
(`.ci/run`); these tests then exercise what a user's first commands do.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import CORPUS
from helpers import VOCAB_FILE
from helpers import needs_shared

import keras_electra


def test_every_subpackage_is_importable():
    """A subpackage missing from the wheel fails here (and in from_preset)."""
    import importlib

    for name in (
        "callbacks",
        "conversion",
        "conversion.preset_loader",
        "data",
        "jobs.pretrain",
        "jobs.finetune",
        "layers",
        "metrics",
        "models",
        "optimizers",
        "tokenizers",
        "utils",
    ):
        importlib.import_module(f"keras_electra.{name}")
    assert "electra_tiny" in keras_electra.presets()


@needs_shared
def test_pretrain_command_then_classifier_from_its_preset(tmp_path):
    """`keras-electra pretrain --steps 5`, then `ElectraTextClassifier.
    from_preset(<its preset>, num_classes=2).fit(raw strings)`."""
    script = shutil.which("keras-electra")
    if script is None:
        pytest.skip("the keras-electra console script is not on PATH")
    corpus = tmp_path / "news.txt"
    with open(CORPUS / "news.txt", encoding="utf-8") as f:
        corpus.write_text("".join(next(f) for _ in range(300)))
    backend = os.environ.get("KERAS_BACKEND", "jax")
    result = subprocess.run(
        [
            script,
            "pretrain",
            "--backend",
            backend,
            "--corpus",
            str(corpus),
            "--vocab",
            str(VOCAB_FILE),
            "--steps",
            "5",
            "--batch-size",
            "4",
            "--sequence-length",
            "32",
            "--output",
            "run",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Done at step 5" in result.stdout
    preset = tmp_path / "run" / "preset"
    assert (preset / "model.weights.h5").is_file()
    classifier = keras_electra.ElectraTextClassifier.from_preset(
        str(preset), num_classes=2
    )
    history = classifier.fit(["a fine film", "a dull film"], [1, 0], verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert sys.modules["keras_electra"] is keras_electra
