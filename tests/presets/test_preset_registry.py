"""keras-electra's presets registered the keras-hub way (`.presets` on every
class), and keras-hub's private APIs imported in one module only."""

import ast
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import tiny_backbone

import keras_electra
import keras_electra.conversion  # registers the preset formats
from keras_electra.models import electra_presets
from keras_electra.utils import keras_hub_private
from keras_electra.utils import preset_utils
from keras_electra.utils.released_presets import RELEASED

BUILTIN = ["electra_base", "electra_large", "electra_small", "electra_tiny"]
RELEASED_NAMES = [
    "electra_base_uncased_en",
    "electra_large_uncased_en",
    "electra_small_uncased_en",
]
ALL = sorted(BUILTIN + RELEASED_NAMES)
ADAPTER = "utils/keras_hub_private.py"
PACKAGE = os.path.dirname(os.path.abspath(keras_electra.__file__))


@pytest.fixture
def no_fetching(tmp_path, monkeypatch):
    """An empty cache, and a released pair that fails if it is resolved."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("KERAS_ELECTRA_CACHE", str(cache))

    def refuse(name):
        raise AssertionError(f"'{name}' was fetched or converted")

    monkeypatch.setitem(preset_utils._REGISTERED, "released", refuse)
    return cache


def test_backbone_lists_builtin_and_released_presets(no_fetching):
    presets = keras_electra.ElectraBackbone.presets
    assert sorted(presets) == ALL
    for name in BUILTIN:
        metadata = presets[name]["metadata"]
        folder = preset_utils.builtin_preset_dir() / name
        assert presets[name]["kaggle_handle"] == str(folder)
        assert (folder / preset_utils.CONFIG_FILE).is_file()
        saved = preset_utils.load_json(str(folder), "metadata.json")
        assert metadata["description"].startswith(saved["description"])
        assert metadata["params"] == saved["parameter_count"]
    for name in RELEASED_NAMES:
        metadata = presets[name]["metadata"]
        assert metadata["description"].startswith(RELEASED[name].description)
        assert "first use" in metadata["description"]
        assert RELEASED[name].discriminator in metadata["description"]
        assert RELEASED[name].generator in metadata["description"]
        assert isinstance(metadata["params"], int) and metadata["params"] > 0
    assert list(no_fetching.iterdir()) == []


def test_released_counts_match_the_same_size_builtins():
    # Google's checkpoints have the paper's sizes, as the built-ins do.
    presets = keras_electra.ElectraBackbone.presets
    for size in ("small", "base", "large"):
        released = presets[f"electra_{size}_uncased_en"]["metadata"]
        builtin = presets[f"electra_{size}"]["metadata"]
        assert released["params"] == builtin["params"]


@pytest.mark.parametrize(
    "cls",
    [
        "ElectraPretrainer",
        "ElectraMaskedLMPretrainer",
        "ElectraDiscriminator",
        "ElectraGenerator",
        "ElectraTextClassifier",
        "ElectraTextClassifierPreprocessor",
        "ElectraTokenClassifier",
        "ElectraTokenClassifierPreprocessor",
        "ElectraQuestionAnswerer",
        "ElectraMaskedLMPreprocessor",
        "ElectraTokenizer",
    ],
)
def test_every_class_lists_the_same_presets(cls, no_fetching):
    presets = getattr(keras_electra, cls).presets
    assert sorted(presets) == ALL
    assert presets == keras_electra.ElectraBackbone.presets
    assert list(no_fetching.iterdir()) == []


def test_building_the_entries_fetches_nothing(no_fetching, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a preset file was fetched")

    monkeypatch.setattr(preset_utils, "get_file", refuse)
    monkeypatch.setattr(keras_hub_private, "get_file", refuse)
    entries = {
        **electra_presets.builtin_preset_entries(),
        **electra_presets.released_preset_entries(),
    }
    assert sorted(entries) == ALL
    assert entries == electra_presets.backbone_presets
    assert list(no_fetching.iterdir()) == []


def test_keras_hub_base_classes_list_them_too():
    import keras_hub

    assert set(ALL) <= set(keras_hub.models.Backbone.presets)
    assert set(ALL) <= set(keras_hub.models.Task.presets)


def test_from_preset_builtin_still_works(no_fetching):
    backbone = keras_electra.ElectraBackbone.from_preset("electra_tiny")
    assert (
        backbone.count_params()
        == (
            keras_electra.ElectraBackbone.presets["electra_tiny"]["metadata"][
                "params"
            ]
        )
    )
    pretrainer = keras_electra.ElectraPretrainer.from_preset("electra_tiny")
    assert pretrainer.discriminator.backbone.num_layers == 2
    assert list(no_fetching.iterdir()) == []


def test_a_local_folder_named_like_a_released_preset_still_wins(
    tmp_path, monkeypatch, no_fetching
):
    # keras-hub swaps a registered name for its handle before reading a
    # folder: the registration must not send the user's folder elsewhere.
    monkeypatch.chdir(tmp_path)
    name = "electra_small_uncased_en"
    saved = tiny_backbone()
    saved.save_to_preset(name)
    loaded = keras_electra.ElectraBackbone.from_preset(name)
    assert loaded.count_params() == saved.count_params()
    for a, b in zip(saved.weights, loaded.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    assert list(no_fetching.iterdir()) == []


def _fresh_python(code):
    env = dict(os.environ, KERAS_BACKEND=keras.config.backend())
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_tokenizer_lists_them_when_no_model_was_imported():
    out = _fresh_python(
        "import sys\n"
        "import keras_electra\n"
        "print('KERAS', 'keras' in sys.modules)\n"
        "presets = keras_electra.ElectraTokenizer.presets\n"
        "print('PRESETS', ','.join(sorted(presets)))\n"
    )
    assert "KERAS False" in out
    assert f"PRESETS {','.join(ALL)}" in out


def test_a_model_module_imported_first_registers_without_a_cycle():
    out = _fresh_python(
        "from keras_electra.models.electra_pretrainer import "
        "ElectraPretrainer\n"
        "print('PRESETS', ','.join(sorted(ElectraPretrainer.presets)))\n"
    )
    assert f"PRESETS {','.join(ALL)}" in out


def _package_files():
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                relative = os.path.relpath(path, PACKAGE)
                yield relative.replace(os.sep, "/"), path


def test_keras_hub_private_apis_are_imported_in_one_module():
    found = []
    for relative, path in _package_files():
        with open(path, encoding="utf-8") as f:
            if "keras_hub.src" in f.read():
                found.append(relative)
    assert found == [ADAPTER]


def test_the_adapter_reexports_only_names_the_package_uses():
    used = set()
    for relative, path in _package_files():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "keras_electra.utils.keras_hub_private"
            ):
                used.update(alias.name for alias in node.names)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "keras_hub_private"
                and relative != ADAPTER
            ):
                used.add(node.attr)
    assert used == set(keras_hub_private.__all__)
    for name in keras_hub_private.__all__:
        assert hasattr(keras_hub_private, name)
