"""Test set-up: the installed-package check, a fixed seed per test, and
the fixtures many test files share."""

import os
import pathlib

from keras_electra.utils.backend_setup import load_backend

# The backends' C++ start-up lines stay out of the test output, as they stay
# out of the command line's (`KERAS_ELECTRA_VERBOSE=1` shows them).
load_backend(verbose=bool(os.environ.get("KERAS_ELECTRA_VERBOSE")))

import keras  # noqa: E402
import pytest  # noqa: E402
from helpers import CORPUS  # noqa: E402
from helpers import TASK_VOCABULARY  # noqa: E402
from helpers import VOCAB_FILE  # noqa: E402
from helpers import tiny_pretrainer  # noqa: E402

import keras_electra  # noqa: E402
from keras_electra.utils import preset_utils  # noqa: E402

if os.environ.get("KERAS_ELECTRA_REQUIRE_INSTALLED"):
    # CI runs the suite against the wheel users install, not the checkout.
    _source = pathlib.Path(__file__).resolve().parents[1] / "keras_electra"
    _imported = pathlib.Path(keras_electra.__file__).resolve().parent
    if _imported == _source:
        raise RuntimeError(
            f"keras_electra was imported from the source tree ({_imported}), "
            "not from the installed wheel. Run pytest from outside the "
            "checkout with the package installed (see .ci/run)."
        )


def pytest_collection_modifyitems(config, items):
    # keras-hub's TestCase inherits TensorFlow's `test_session`, a helper
    # that pytest would collect and skip in every class ("Not a test").
    items[:] = [item for item in items if item.name != "test_session"]


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="module")
def tokenizer():
    """A tokenizer over `TASK_VOCABULARY` (the fine-tuning tests' words)."""
    return keras_electra.ElectraTokenizer(vocabulary=TASK_VOCABULARY)


@pytest.fixture(scope="module")
def preset(tmp_path_factory, tokenizer):
    """A tiny pre-trained-looking preset with its tokenizer."""
    path = tmp_path_factory.mktemp("preset") / "tiny"
    keras.utils.set_random_seed(0)
    tiny_pretrainer(dropout=0.0).save_to_preset(str(path), tokenizer=tokenizer)
    return str(path)


@pytest.fixture(scope="module")
def bert_tokenizer():
    """The shared BERT/ELECTRA uncased vocabulary's tokenizer."""
    if not VOCAB_FILE.exists():
        pytest.skip(f"shared data not found at {VOCAB_FILE.parent}")
    return keras_electra.ElectraTokenizer(vocabulary=str(VOCAB_FILE))


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
