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
"""

import dataclasses
import json
import os
import time

import numpy as np

from keras_electra.jobs.finetune_tasks import get_finetuning_task
from keras_electra.jobs.options import FinetuneConfig


def finetune(
    task=None,
    preset=None,
    train=None,
    test=None,
    *,
    config=None,
    verbose=1,
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
            `epochs`, `batch_size`, `sequence_length`, `learning_rate`,
            `layerwise_decay`, `max_train_examples`, `seed`,
            `load_weights` (False fine-tunes the same architecture from
            random weights, the baseline of
            `benchmarks/finetune_pretrained_vs_random.py`) and the task's
            own options (classify: `num_classes`, `text_column`,
            `pair_column`, `label_column`), which other tasks refuse.
        verbose: 0 prints nothing.

    Returns: a dict of test metrics (and the run's sizes and timings).
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
    )
    start = time.time()
    task_options = {name: getattr(config, name) for name in entry.options}
    result, model = entry.run(job, **task_options)
    result.update(
        task=config.task,
        preset=str(config.preset),
        pretrained=bool(config.load_weights),
        seconds=round(time.time() - start, 1),
    )
    if config.output:
        _write_outputs(config.output, entry, result, model, job.tokenizer)
    return result


@dataclasses.dataclass
class _Job:
    """The settings every task's fine-tuning shares."""

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

    def subsample(self, n):
        """Indices of the training examples to use (all, or a sample)."""
        index = np.arange(n)
        limit = self.max_train_examples
        if limit and limit < n:
            rng = np.random.default_rng(self.seed)
            index = np.sort(rng.choice(n, limit, replace=False))
        return index

    def fit(self, model, data, n):
        """Compile with the recipe for `n` examples, then train on `data`.

        `data` is an unbatched `tf.data.Dataset` of raw examples: it is
        shuffled anew each epoch and batched here; the task's own
        preprocessor runs over it inside `fit`. A tuple of arrays (already
        preprocessed) is shuffled by Keras instead.
        """
        steps = max(1, -(-n // self.batch_size)) * self.epochs
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
                epochs=self.epochs,
                shuffle=True,
                verbose=self.verbose,
            )
        data = data.shuffle(n, seed=self.seed, reshuffle_each_iteration=True)
        return model.fit(
            data.batch(self.batch_size),
            epochs=self.epochs,
            shuffle=False,  # the dataset shuffles itself, each epoch
            verbose=self.verbose,
        )


def _write_outputs(output, entry, result, model, tokenizer):
    from keras_electra.utils import preset_utils

    os.makedirs(output, exist_ok=True)
    with preset_utils.atomic_directory(os.path.join(output, "model")) as tmp:
        model.save_to_preset(tmp)
        tokenizer.save_to_preset(tmp)
    with open(os.path.join(output, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    entry.write_files(output, result)
