"""Test set-up: a fixed seed per test, and the installed-package check."""

import os
import pathlib

import keras
import pytest

import keras_electra

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


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
