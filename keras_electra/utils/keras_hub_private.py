"""The keras-hub private APIs keras-electra uses, in one place.

keras-hub's public API is `keras_hub.models`, `keras_hub.layers`,
`keras_hub.tokenizers`, ...; the names below live only under `keras_hub.src`
and carry no compatibility promise: a keras-hub release may move, rename or
change any of them. This module is the only one in keras-electra that
imports `keras_hub.src`; every other module imports these names from here,
so a keras-hub release that breaks one of them breaks this module alone, and
this file lists the whole exposure.

Tested with keras-hub 0.32.0. The upper bound of the keras-hub dependency
in `pyproject.toml` (`keras-hub>=0.32,<0.33`) exists because of these
imports: raise it once the test suite passes against the new release (and
this module is fixed if a name moved).

Importing this module imports keras-hub, hence Keras and its backend:
modules that must stay backend-free (`utils/preset_utils.py`, which
`keras-electra info` uses) import from it inside their functions.

The names, by use:

- preset files, local or remote (`hf://`, `kaggle://`): `get_file`,
  `load_json`, `check_file_exists`;
- the base classes of keras-electra's preset loaders
  (`conversion/preset_loader.py`): `PresetLoader`, `KerasPresetLoader`;
- built-in presets listed by `.presets` (`models/__init__.py`):
  `register_presets`;
- the tensor helpers of keras-hub's preprocessing layers (the tokenizer and
  the token classifier's preprocessor): `preprocessing_function`,
  `canonicalize_python_string_inputs`, `is_int_dtype`,
  `restore_outer_shape`.
"""

from keras_hub.src.utils.preset_utils import KerasPresetLoader
from keras_hub.src.utils.preset_utils import PresetLoader
from keras_hub.src.utils.preset_utils import check_file_exists
from keras_hub.src.utils.preset_utils import get_file
from keras_hub.src.utils.preset_utils import load_json
from keras_hub.src.utils.preset_utils import register_presets
from keras_hub.src.utils.tensor_utils import canonicalize_python_string_inputs
from keras_hub.src.utils.tensor_utils import is_int_dtype
from keras_hub.src.utils.tensor_utils import preprocessing_function
from keras_hub.src.utils.tensor_utils import restore_outer_shape

__all__ = [
    "KerasPresetLoader",
    "PresetLoader",
    "canonicalize_python_string_inputs",
    "check_file_exists",
    "get_file",
    "is_int_dtype",
    "load_json",
    "preprocessing_function",
    "register_presets",
    "restore_outer_shape",
]
