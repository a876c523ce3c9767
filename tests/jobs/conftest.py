"""Fixtures of the pre-training job's tests: real text and a micro preset."""

import pytest
from helpers import CORPUS
from helpers import tiny_pretrainer

from keras_electra.utils import preset_utils


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """About 600 news articles from the shared corpus."""
    if not (CORPUS / "news.txt").exists():
        pytest.skip(f"shared data not found at {CORPUS}")
    path = tmp_path_factory.mktemp("corpus") / "news.txt"
    with open(CORPUS / "news.txt", encoding="utf-8") as f:
        path.write_text(
            "".join(line for _, line in zip(range(1800), f)), encoding="utf-8"
        )
    return str(path)


@pytest.fixture(scope="module")
def micro_preset(tmp_path_factory):
    """A weightless preset (like the built-ins) of a very small ELECTRA."""
    folder = tmp_path_factory.mktemp("preset") / "micro"
    folder.mkdir()
    pretrainer = tiny_pretrainer(vocabulary_size=30522, dropout=0.1)
    (folder / "config.json").write_text(
        preset_utils.serialize_to_json(pretrainer.backbone)
    )
    (folder / "task.json").write_text(
        preset_utils.serialize_to_json(pretrainer)
    )
    return str(folder)
