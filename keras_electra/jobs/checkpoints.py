"""Training checkpoints of a pre-training run: write, find, restore.

Each checkpoint is a folder written atomically (a temporary folder, then a
rename): `preset/` (the pretrainer and tokenizer), `training_state.npz`
(optimizer slots and step, the model's seed states, torch's global RNG,
the run's wall time so far, the log's metric sums) and
`state.json` (the step).
"""

import glob
import json
import os
import shutil

import keras
import numpy as np

from keras_electra.models.electra_masked_lm_pretrainer import (
    ElectraMaskedLMPretrainer,
)
from keras_electra.models.electra_pretrainer import ElectraPretrainer
from keras_electra.utils import preset_utils
from keras_electra.utils.preset_info import PresetInfo

STATE_FILE = "state.json"
TRAINING_STATE_FILE = "training_state.npz"
ELAPSED_KEY = "elapsed_seconds"


def checkpoint_dirs(output):
    return sorted(glob.glob(os.path.join(output, "checkpoints", "ckpt-*")))


def save_checkpoint(
    output, pretrainer, tokenizer, step, keep, seconds=0.0, arrays=None
):
    """Write checkpoint `step` atomically; `arrays` are more arrays for
    the training state (the log's metric sums)."""
    path = os.path.join(output, "checkpoints", f"ckpt-{step:08d}")
    with preset_utils.atomic_directory(path) as tmp:
        pretrainer.save_to_preset(os.path.join(tmp, "preset"), tokenizer)
        state = dict(arrays or {})
        state.update(
            (key, keras.ops.convert_to_numpy(variable))
            for key, variable in training_state_variables(pretrainer)
        )
        state.update(global_rng_state())
        state[ELAPSED_KEY] = np.float64(seconds)  # the run's wall time
        np.savez(os.path.join(tmp, TRAINING_STATE_FILE), **state)
        # Plain writes: the whole folder appears at once or not at all.
        with open(os.path.join(tmp, STATE_FILE), "w", encoding="utf-8") as f:
            json.dump({"step": int(step)}, f)
    for old in checkpoint_dirs(output)[:-keep] if keep else []:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(output, verbose, dtype=None):
    """Load the newest readable checkpoint, falling back to older ones;
    `dtype` is the run's policy (by default, Keras' global one)."""
    for path in reversed(checkpoint_dirs(output)):
        try:
            with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
                step = json.load(f)["step"]
            preset = os.path.join(path, "preset")
            pretrainer = pretrainer_class(preset).from_preset(
                preset, dtype=dtype
            )
            with np.load(os.path.join(path, TRAINING_STATE_FILE)) as data:
                state = {k: data[k] for k in data.files}
        except Exception as e:  # noqa: BLE001 - any unreadable file
            print(
                f"Warning: checkpoint '{path}' is unreadable "
                f"({type(e).__name__}: {str(e)[:200]}); falling back to the "
                "previous one."
            )
            continue
        if verbose:
            print(f"Resuming from {path} (step {step}).")
        return pretrainer, step, state
    if verbose:
        print(f"No readable checkpoint in '{output}'; starting from step 0.")
    return None


def pretrainer_class(preset):
    """The pre-training task a checkpoint's preset holds: the MLM baseline
    or (by default) `ElectraPretrainer`."""
    if PresetInfo.read(preset).class_name == ElectraMaskedLMPretrainer.__name__:
        return ElectraMaskedLMPretrainer
    return ElectraPretrainer


def training_state_variables(pretrainer):
    """(key, variable) pairs a checkpoint stores besides the preset weights.

    The optimizer's slots and step, and the model's non-trainable variables
    (the seed states of masking, sampling and dropout).
    """
    pairs = [
        (f"optimizer_{i:05d}", v)
        for i, v in enumerate(pretrainer.optimizer.variables)
    ]
    pairs += [
        (f"model_{i:05d}", v)
        for i, v in enumerate(pretrainer.non_trainable_variables)
    ]
    return pairs


def restore_training_state(pretrainer, state):
    pretrainer.optimizer.build(pretrainer.trainable_variables)
    for key, variable in training_state_variables(pretrainer):
        variable.assign(state[key])


class RestoreGlobalRNG:
    """Restores the global RNG right before the first resumed step.

    Keras may run the model once when `fit` starts (to build it), which draws
    from the global generator; restoring earlier would be undone by that.
    `then` (no arguments) runs right after, once.
    """

    def __init__(self, state, then=None):
        self.state = state
        self.then = then
        self.done = False

    def __call__(self, batch, logs=None):
        if not self.done:
            restore_global_rng_state(self.state)
            if self.then is not None:
                self.then()
            self.done = True


def global_rng_state():
    """Random state that lives outside Keras' seed variables.

    On PyTorch, Keras' dropout draws from torch's global generator (unless a
    layer has an explicit seed), so a faithful resume must restore it too.
    """
    if keras.config.backend() != "torch":
        return {}
    import torch

    return {"torch_rng_state": torch.get_rng_state().numpy()}


def restore_global_rng_state(state):
    if "torch_rng_state" in state:
        import torch

        torch.set_rng_state(torch.from_numpy(state["torch_rng_state"]))
