"""Training checkpoints of a pre-training run: write, find, restore.

Each checkpoint is a folder written atomically (a temporary folder, then a
rename): `preset/` (the pretrainer and tokenizer), `training_state.npz`
(optimizer slots and step, the model's seed states, torch's global RNG,
the run's wall time so far, the log's metric sums) and
`state.json` (the step).

A run folder behind a URL (`gs://`, `ram://`) gets no atomic rename: there
each checkpoint is written locally, then copied up with `state.json` last,
and only a folder that holds its `state.json` counts as a checkpoint (see
`preset_utils.atomic_directory`).
"""

import json
import os
import threading
import warnings

import keras
import numpy as np

from keras_electra.models.electra_masked_lm_pretrainer import (
    ElectraMaskedLMPretrainer,
)
from keras_electra.models.electra_pretrainer import ElectraPretrainer
from keras_electra.utils import file_system
from keras_electra.utils import preset_utils
from keras_electra.utils.preset_info import PresetInfo

STATE_FILE = "state.json"
TRAINING_STATE_FILE = "training_state.npz"
ELAPSED_KEY = "elapsed_seconds"


def checkpoint_dirs(output):
    """The run's checkpoint folders, oldest first. Behind a URL, only those
    whose `state.json` (copied last) is there: the others are partial."""
    found = sorted(
        file_system.glob(file_system.join(output, "checkpoints", "ckpt-*"))
    )
    if not file_system.has_scheme(output):
        return found
    return [
        path
        for path in found
        if file_system.isfile(file_system.join(path, STATE_FILE))
    ]


def partial_checkpoint_dirs(output):
    """Checkpoint folders behind a URL whose copy did not finish (no
    `state.json`); none for a local folder (renamed whole)."""
    if not file_system.has_scheme(output):
        return []
    found = file_system.glob(file_system.join(output, "checkpoints", "ckpt-*"))
    whole = set(checkpoint_dirs(output))
    return sorted(path for path in found if path not in whole)


def save_checkpoint(
    output, pretrainer, tokenizer, step, keep, seconds=0.0, arrays=None
):
    """Write checkpoint `step` atomically, now; `arrays` are more arrays
    for the training state (the log's metric sums)."""
    state = training_state(pretrainer, seconds, arrays)
    _write(output, pretrainer, tokenizer, step, keep, state)


def training_state(pretrainer, seconds=0.0, arrays=None):
    """The arrays of `training_state.npz`, copied to the host."""
    state = dict(arrays or {})
    state.update(
        (key, _host_copy(variable))
        for key, variable in training_state_variables(pretrainer)
    )
    state.update(global_rng_state())
    state[ELAPSED_KEY] = np.float64(seconds)  # the run's wall time
    return state


def _write(output, pretrainer, tokenizer, step, keep, state):
    path = file_system.join(output, "checkpoints", f"ckpt-{step:08d}")
    with preset_utils.atomic_directory(path, last=(STATE_FILE,)) as tmp:
        pretrainer.save_to_preset(os.path.join(tmp, "preset"), tokenizer)
        np.savez(os.path.join(tmp, TRAINING_STATE_FILE), **state)
        # Plain writes: the whole folder appears at once or not at all.
        with open(os.path.join(tmp, STATE_FILE), "w", encoding="utf-8") as f:
            json.dump({"step": int(step)}, f)
    for old in checkpoint_dirs(output)[:-keep] if keep else []:
        file_system.rmtree(old, ignore_errors=True)


def _host_copy(variable):
    # A copy, never a view: training goes on updating the variable's
    # buffer in place (PyTorch, TensorFlow) or reusing it (JAX's donated
    # buffers) while the copy is written.
    return np.array(keras.ops.convert_to_numpy(variable), copy=True)


class CheckpointWriter:
    """Writes a run's checkpoints in the background.

    `save(step, ...)` copies the model's weights and the training state to
    the host (the only part the training thread waits for: a copy from the
    device, no file I/O) and returns; a thread then writes the checkpoint
    folder as `save_checkpoint` does, atomically (a temporary folder,
    renamed when complete), so a process killed mid-write leaves the
    previous checkpoints as they were. The copy goes into a second
    instance of the model (`shadow`, built once, in host memory) that the
    thread saves, so training never waits for the files
    and never races with them. One write is in flight at a time: the next
    `save` waits for the previous write first. `wait()` waits for the
    write in flight and raises its error, if any; the job calls it before
    the final save, on an interrupt and at the end.

    With `background=False` (several processes, where the chief's write
    must not overlap collective work, or to save memory: the shadow holds
    a second copy of the weights) `save` writes before it returns.

    Args:
        output: the run folder.
        pretrainer: the model being trained.
        tokenizer: saved with each checkpoint's preset.
        keep: recent checkpoints kept (0: all).
        background: write in a thread.

    Example:

    ```python
    writer = CheckpointWriter("run", pretrainer, tokenizer, keep=3)
    writer.save(100, seconds=12.5)
    ...
    writer.wait()
    ```
    """

    def __init__(self, output, pretrainer, tokenizer, keep, background=True):
        self.output = output
        self.pretrainer = pretrainer
        self.tokenizer = tokenizer
        self.keep = keep
        self.background = background
        self.shadow = None
        self.saved_step = None
        self._thread = None
        self._error = None

    def save(self, step, seconds=0.0, arrays=None):
        self.wait()
        if not self.background:
            save_checkpoint(
                self.output,
                self.pretrainer,
                self.tokenizer,
                step,
                self.keep,
                seconds=seconds,
                arrays=arrays,
            )
            self.saved_step = step
            return
        state = training_state(self.pretrainer, seconds, arrays)
        weights = [_host_copy(w) for w in self.pretrainer.weights]
        self.prepare()
        self._thread = threading.Thread(
            target=self._write,
            args=(step, weights, state),
            name=f"checkpoint-{step}",
            daemon=False,
        )
        self._thread.start()
        self.saved_step = step

    def prepare(self):
        """Build the shadow model now (the job calls it before training,
        so that a model the writer cannot rebuild, or memory it cannot
        get, shows at the start rather than at the first checkpoint)."""
        if self.background and self.shadow is None:
            self.shadow = _shadow(self.pretrainer)

    def _write(self, step, weights, state):
        try:
            # (Keras' device scope is per thread.)
            with keras.device("cpu"):
                for variable, value in zip(self.shadow.weights, weights):
                    variable.assign(value)
            _write(
                self.output, self.shadow, self.tokenizer, step, self.keep, state
            )
        except BaseException as e:  # noqa: BLE001 - raised by `wait`
            self._error = e

    def wait(self):
        """Wait for the write in flight; raise its error, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _shadow(pretrainer):
    """A second instance of `pretrainer` (same config, same variables in
    the same order) for the background writer, in host memory: on the
    CPU, outside any distribution of the variables."""
    distribution = keras.distribution.distribution()
    with warnings.catch_warnings(), keras.device("cpu"):
        # The towers' compile settings travel in the config; the shadow is
        # never trained, so Keras' note that it did not compile them is
        # noise.
        warnings.filterwarnings("ignore", ".*compile\\(\\)` was not called")
        if distribution is not None:
            keras.distribution.set_distribution(None)
        try:
            shadow = type(pretrainer).from_config(pretrainer.get_config())
        finally:
            if distribution is not None:
                keras.distribution.set_distribution(distribution)
    ours = [(w.path, tuple(w.shape)) for w in pretrainer.weights]
    theirs = [(w.path, tuple(w.shape)) for w in shadow.weights]
    if ours != theirs:
        raise RuntimeError(
            "The background checkpoint writer could not rebuild the model "
            f"({len(theirs)} variables against {len(ours)}); run with "
            "background checkpoints off."
        )
    return shadow


def latest_checkpoint(output, verbose, dtype=None):
    """Load the newest readable checkpoint, falling back to older ones;
    `dtype` is the run's policy (by default, Keras' global one)."""
    for path in reversed(checkpoint_dirs(output)):
        try:
            state_file = file_system.join(path, STATE_FILE)
            with file_system.open_file(state_file, encoding="utf-8") as f:
                step = json.load(f)["step"]
            preset = file_system.join(path, "preset")
            pretrainer = pretrainer_class(preset).from_preset(
                preset, dtype=dtype
            )
            state = _read_training_state(
                file_system.join(path, TRAINING_STATE_FILE)
            )
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


def _read_training_state(path):
    if not file_system.has_scheme(path):
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    with file_system.open_file(path, "rb") as f:
        with np.load(f) as data:
            return {k: data[k] for k in data.files}


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
