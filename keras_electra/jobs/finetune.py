"""Fine-tuning jobs: read task files, fine-tune, report, save.

This is what `keras-electra finetune` runs:

    keras-electra finetune --task classify --preset electra_run/preset \\
        --train train.csv --test test.csv --output polarity_run

The tasks (classify, tag, qa) are the entries of
`keras_electra.jobs.finetune_tasks.FINETUNING_TASKS`: each reads its task
files (see `keras_electra.data.task_files`: CSV/TSV with a header for
classify, `word<TAB>tag` lines for tag, SQuAD JSON or CSV for qa), builds
its model and preprocessor, trains through the shared `_Job.fit` and
evaluates. `finetune()` looks the task up, checks the preset and the
options, runs the entry and writes the outputs.

The classifier and the tagger train through their own preprocessors: raw
strings (or word lists) go into a shuffled `tf.data` pipeline that `fit`
preprocesses. The question answerer's windows change the number of rows,
so its preprocessor encodes before the model.

Small data gets enough updates: without `epochs`, training runs
`DEFAULT_EPOCHS` (3) epochs, or more when those would make fewer than
`MIN_UPDATES` optimizer updates, up to `MAX_EPOCHS` (`default_epochs`;
the constants are in `jobs/options.py`). A given `epochs` is obeyed
exactly. The result records the epochs and updates, and a `warnings`
list (a classifier whose test predictions collapsed to one class).
"""

import dataclasses
import json
import os
import sys
import time

import numpy as np

from keras_electra.jobs.finetune_tasks import get_finetuning_task
from keras_electra.jobs.options import DEFAULT_EPOCHS
from keras_electra.jobs.options import MAX_EPOCHS
from keras_electra.jobs.options import MIN_UPDATES
from keras_electra.jobs.options import FinetuneConfig
from keras_electra.utils.option_errors import spell


def default_epochs(num_examples, batch_size):
    """The epochs of a fine-tuning run whose `epochs` is not given.

    `DEFAULT_EPOCHS` (3, the paper's recipe), or more when those would
    make fewer than `MIN_UPDATES` (60) optimizer updates, but at most
    `MAX_EPOCHS` (20). A new user's 160-row file at batch 32 made 15
    updates in 3 epochs and predicted one class (accuracy 0.425); 50
    updates gave 0.925. It gets 12 epochs (60 updates). The shared tasks
    (3,200 and 4,000 sentences; 800 tagged sentences, 75 updates) keep 3
    epochs, so published recipes do not change.

    Args:
        num_examples: the training examples (rows of one epoch).
        batch_size: examples per update.

    Returns: a number of epochs.
    """
    per_epoch = max(1, -(-int(num_examples) // int(batch_size)))
    if DEFAULT_EPOCHS * per_epoch >= MIN_UPDATES:
        return DEFAULT_EPOCHS
    return min(MAX_EPOCHS, -(-MIN_UPDATES // per_epoch))


def default_output(task, parent="."):
    """A new folder for the command line's fine-tuning without `--output`:
    `finetune_<task>`, else `finetune_<task>-2`, `-3`, ...: the first that
    does not exist in `parent` (nothing is overwritten).

    The folder is created here, empty, so that two runs started in the
    same folder cannot pick the same one; the caller removes it
    (`os.rmdir`) if its run writes nothing.

    Returns: the folder's path.
    """
    name = f"finetune_{task}"
    path, n = os.path.join(parent, name), 1
    while True:
        try:
            os.mkdir(path)
            return os.path.normpath(path)
        except FileExistsError:
            n += 1
            path = os.path.join(parent, f"{name}-{n}")


def finetune(
    task=None,
    preset=None,
    train=None,
    test=None,
    *,
    config=None,
    verbose=1,
    command_line=False,
    **options,
):
    """Fine-tune a preset on a task file and evaluate on a test file.

    Args:
        task: a task of `FINETUNING_TASKS`: "classify", "tag" or "qa".
        preset: a keras-electra preset with a tokenizer (e.g. the `preset/`
            folder of a pre-training run), or a converted checkpoint.
        train, test: task files (see the module docstring).
        config: a `FinetuneConfig` (`jobs/options.py`, where every option
            is documented with its default); the arguments above and
            `options` override its fields: `output` (a folder for the
            fine-tuned preset, `metrics.json` and the task's own files),
            `epochs` (default: 3, or more for small data, see
            `default_epochs`), `batch_size`, `sequence_length`,
            `learning_rate`, `layerwise_decay`, `max_train_examples`,
            `seed`, `load_weights` (False fine-tunes the same architecture
            from random weights, the baseline of
            `benchmarks/finetune_pretrained_vs_random.py`) and the task's
            own options (classify: `num_classes`, `text_column`,
            `pair_column`, `label_column`), which other tasks refuse.
            Without `output` nothing is written: the fine-tuned model is
            dropped and only the metrics are returned (the command line
            always writes, by default into a new `finetune_<task>`).
        verbose: 0 prints nothing; otherwise the epochs chosen and any
            warning are printed.
        command_line: spell options in printed notes and warnings as flags
            (`--epochs`), as the command line does; Python's spelling
            (`` `epochs` ``) otherwise, and always in the result.

    Returns: a dict of test metrics and the run's sizes (`epochs`,
    `updates`), timings and `warnings` (one line each; e.g. a classifier
    whose test predictions are nearly all one class).
    """
    named = dict(task=task, preset=preset, train=train, test=test)
    options.update({k: v for k, v in named.items() if v is not None})
    config = FinetuneConfig.from_overrides(config, **options)
    entry = get_finetuning_task(config.task)

    import keras

    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
    from keras_electra.utils.preset_info import PresetInfo

    keras.utils.set_random_seed(config.seed)
    info = PresetInfo.read(config.preset)
    if not info.has_tokenizer:
        raise ValueError(
            f"The preset '{config.preset}' has no tokenizer: fine-tune the "
            "preset/ folder of a pre-training run, or a converted "
            "checkpoint."
        )
    job = _Job(
        path=info.path,
        tokenizer=ElectraTokenizer.from_preset(info.path),
        train=config.train,
        test=config.test,
        epochs=config.epochs,
        batch_size=config.batch_size,
        sequence_length=config.sequence_length,
        learning_rate=config.learning_rate,
        layerwise_decay=config.layerwise_decay,
        load_weights=config.load_weights,
        max_train_examples=config.max_train_examples,
        seed=config.seed,
        verbose=verbose,
        command_line=command_line,
    )
    start = time.time()
    task_options = {name: getattr(config, name) for name in entry.options}
    result, model = entry.run(job, **task_options)
    result.update(
        task=config.task,
        preset=str(config.preset),
        pretrained=bool(config.load_weights),
        epochs=job.epochs_run,
        epochs_given=config.epochs is not None,
        updates=job.updates,
        seconds=round(time.time() - start, 1),
        warnings=[spell(t, **values) for t, values in job.warnings],
    )
    if verbose:
        for template, values in job.warnings:
            print(f"Warning: {job.spell(template, **values)}", file=sys.stderr)
    if config.output:
        _write_outputs(config.output, entry, result, model, job.tokenizer)
    return result


@dataclasses.dataclass
class _Job:
    """The settings every task's fine-tuning shares.

    `epochs` is None for the default rule (`default_epochs`); `fit` sets
    `epochs_run` and `updates`. A task records warnings with `warn`.
    """

    path: str
    tokenizer: object
    train: str
    test: str
    epochs: int
    batch_size: int
    sequence_length: int
    learning_rate: float
    layerwise_decay: float
    load_weights: bool
    max_train_examples: int
    seed: int
    verbose: int
    command_line: bool = False
    epochs_run: int = None
    updates: int = None
    warnings: list = dataclasses.field(default_factory=list)

    def spell(self, template, **values):
        """`template` with `{o.name}` spelled for the caller."""
        return spell(template, self.command_line, **values)

    def warn(self, template, **values):
        """Record a warning: one line whose options are `{o.name}`; the
        result holds it and `finetune()` prints it (when `verbose`)."""
        self.warnings.append((template, values))

    def subsample(self, n):
        """Indices of the training examples to use (all, or a sample)."""
        index = np.arange(n)
        limit = self.max_train_examples
        if limit and limit < n:
            rng = np.random.default_rng(self.seed)
            index = np.sort(rng.choice(n, limit, replace=False))
        return index

    def fit(self, model, data, n, unit="examples"):
        """Compile with the recipe for `n` examples, then train on `data`.

        `data` is an unbatched `tf.data.Dataset` of raw examples: it is
        shuffled anew each epoch and batched here; the task's own
        preprocessor runs over it inside `fit`. A tuple of arrays (already
        preprocessed) is shuffled by Keras instead. Without `epochs`,
        `default_epochs(n, batch_size)` are run. `unit` names the `n` rows
        in the printed note ("windows" for the question answerer's).
        """
        epochs = self.epochs or default_epochs(n, self.batch_size)
        steps = max(1, -(-n // self.batch_size)) * epochs
        self.epochs_run, self.updates = epochs, steps
        if self.verbose:
            template, values = self._epochs_note(n, epochs, steps, unit)
            print(self.spell(template, **values))
        from keras_electra.utils.accelerator import enable_tf32

        # TF32 float32 matmuls on CUDA under PyTorch, as the other
        # backends do by default (a no-op elsewhere).
        enable_tf32(model.dtype_policy)
        model.compile(
            num_train_steps=steps,
            learning_rate=self.learning_rate,
            layerwise_decay=self.layerwise_decay,
        )
        if isinstance(data, tuple):
            x, y = data
            return model.fit(
                x,
                y,
                batch_size=self.batch_size,
                epochs=epochs,
                shuffle=True,
                verbose=self.verbose,
            )
        data = data.shuffle(n, seed=self.seed, reshuffle_each_iteration=True)
        return model.fit(
            data.batch(self.batch_size),
            epochs=epochs,
            shuffle=False,  # the dataset shuffles itself, each epoch
            verbose=self.verbose,
        )

    def _epochs_note(self, n, epochs, steps, unit="examples"):
        """The line that says how long training runs, and why."""
        template = (
            "Training {n:,} {unit} for {epochs} epoch{s} ({steps} "
            "update{u} of batch {batch})"
        )
        if self.epochs is not None or epochs == DEFAULT_EPOCHS:
            template += "."
        elif steps >= MIN_UPDATES:
            template += (
                ": small data gets at least {least} updates; set {o.epochs} "
                "to choose."
            )
        else:
            template += (
                ": small data gets up to {most} epochs, toward {least} "
                "updates; set {o.epochs} to choose."
            )
        values = dict(n=n, unit=unit, epochs=epochs, steps=steps)
        values.update(batch=self.batch_size)
        values.update(s="s"[: epochs - 1], u="s"[: steps - 1])
        return template, dict(values, least=MIN_UPDATES, most=MAX_EPOCHS)


def _write_outputs(output, entry, result, model, tokenizer):
    from keras_electra.utils import file_system
    from keras_electra.utils import preset_utils

    # `output` may be a URL (`gs://...`): the model is written locally,
    # then copied there, its config.json last (see `atomic_directory`).
    file_system.makedirs(output, exist_ok=True)
    model_folder = file_system.join(output, "model")
    with preset_utils.atomic_directory(model_folder) as tmp:
        model.save_to_preset(tmp)
        tokenizer.save_to_preset(tmp)
        entry.write_model_files(tmp, result)
    metrics = file_system.join(output, "metrics.json")
    with file_system.open_file(metrics, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    entry.write_files(output, result)
