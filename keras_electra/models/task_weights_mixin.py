"""The weights a keras-electra task keeps in `task.weights.h5`."""

import keras


class TaskWeightsMixin:
    """`save_task_weights` / `load_task_weights` without the optimizer.

    keras-hub's `Task` saves everything outside the backbone into
    `task.weights.h5`, its optimizer's variables included; a reloaded model
    (a new optimizer, not yet built) then skips them with a warning
    ("Skipping variable loading for optimizer"). A preset holds the model,
    not its training state (pre-training checkpoints store that apart), so
    the tasks of this package leave the optimizer out, on save and on load
    (older presets that hold it load without the warning).

    Example:

    ```python
    classifier.save_task_weights("task.weights.h5")
    classifier.load_task_weights("task.weights.h5")
    ```
    """

    def save_task_weights(self, filepath):
        """Save the weights outside the backbone (not the optimizer's)."""
        _check_weights_file(filepath)
        if not self.has_task_weights():
            raise ValueError(
                f"Task {self} has no weights not in the `backbone`. "
                "`save_task_weights()` has nothing to save."
            )
        keras.saving.save_weights(
            self, filepath, objects_to_skip=self._not_task_weights()
        )

    def load_task_weights(self, filepath):
        """Load what `save_task_weights` wrote."""
        _check_weights_file(filepath)
        keras.saving.load_weights(
            self, filepath, objects_to_skip=self._not_task_weights()
        )

    def _not_task_weights(self):
        skip = list(self.backbone._flatten_layers())
        if getattr(self, "optimizer", None) is not None:
            skip.append(self.optimizer)
        return skip


def _check_weights_file(filepath):
    if not str(filepath).endswith(".weights.h5"):
        raise ValueError(
            "The filename must end in `.weights.h5`. "
            f"Received: filepath={filepath}"
        )
