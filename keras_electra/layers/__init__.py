"""ELECTRA's layers.

The public names are imported lazily, so that a module of this package
that needs no backend (`electra_replacement`, whose names the command line
reads before the Keras backend is chosen) can be imported without Keras.
"""

import importlib

_EXPORTS = {
    "ElectraEmbedding": "keras_electra.layers.electra_embedding",
    "ElectraMaskedLMHead": "keras_electra.layers.electra_masked_lm_head",
    "electra_kernel_initializer": "keras_electra.layers.initializers",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(
        f"module 'keras_electra.layers' has no attribute '{name}'"
    )


def __dir__():
    return sorted([*globals(), *_EXPORTS])
