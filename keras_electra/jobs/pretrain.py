"""The main job: pre-train ELECTRA on text, with checkpoints and resume.

`pretrain()` is what `keras-electra pretrain` runs. The output folder holds:

- `preset/`: the final preset (discriminator backbone, whole pretrainer,
  tokenizer), loadable with `ElectraBackbone.from_preset` for fine-tuning;
- `checkpoints/ckpt-<step>/`: periodic checkpoints, each written atomically
  (temporary folder, then rename): a preset plus `training_state.npz`
  (optimizer slots and step, random-generator states) and `state.json`;
- `log.csv`, `tensorboard/`, `training_curves.png` and
  `replaced_tokens.png` (one corrupted sequence: what was replaced, what
  the discriminator flags);
- `run.json`: the run's settings, so `--resume` continues the same run.

A resumed run restores weights, optimizer state, step count, random seeds
and data position (the data order is a function of the seed, and the
pipeline skips the batches already seen), so an interrupted-and-resumed run
ends with the same weights as an uninterrupted one.

The job runs in three stages, each in its own module: set-up
(`pretrain_setup.py`: checks, data, tokenizer, model -> one frozen `Run`),
training (`pretrain_training.py`: callbacks, `fit`, interrupts) and report
(`pretrain_report.py`: description, preset, plots). Its options are
`jobs/options.py`'s `PretrainConfig`, the command line's too.
"""

import contextlib

from keras_electra.jobs import pretrain_setup
from keras_electra.jobs import pretrain_training
from keras_electra.jobs.options import PretrainConfig
from keras_electra.jobs.options import PretrainingError  # noqa: F401
from keras_electra.jobs.pretrain_setup import RUN_FILE  # noqa: F401


def pretrain(
    output=None, config=None, *, verbose=1, stop_after=None, **options
):
    """Pre-train an ELECTRA and write a preset; see the module docstring.

    Args:
        output: the run's folder (the `output` option; default
            `electra_run`).
        config: a `PretrainConfig` (default: the defaults); `options`
            override its fields. Every option is documented there, with
            its default: the data (`corpus`, `shards`, `vocabulary`), the
            model (`preset`, `objective` and ELECTRA's `replacement`,
            `temperature`, `embedding_sharing`, `generator_size`, ...),
            the schedule (`steps`, `batch_size`, `learning_rate`, ...),
            devices and precision (`distribution`, `dtype`,
            `gradient_accumulation_steps`) and the run folder (`resume`:
            continue its run with the stored settings, only the run's
            length, logging, checkpoints kept and devices may change;
            `overwrite`: replace it).
        verbose: 0 prints nothing.
        stop_after: stop after this many steps in this call without saving
            anything after the last periodic checkpoint, as a killed run
            would; for tests of resumption.
        **options: fields of `PretrainConfig`.

    Returns:
        A dict with `preset` (the final preset folder, or None if the run
        stopped early), `step`, `history` (last logged metrics),
        `interrupted` (the exit status after a signal) and `nan_step`.
    """
    if output is not None:
        options["output"] = output
    requested = PretrainConfig.from_overrides(config, **options)
    given = set(options)
    if config is not None:
        given |= {
            field.name
            for field in PretrainConfig.options()
            if getattr(config, field.name) != field.default
        }
    plan = pretrain_setup.plan_run(requested, given, verbose)
    parallel, summary = _distribution(plan.config)
    # Variables are created, trained and saved under the distribution; the
    # previous one is restored afterwards.
    with parallel.scope() if parallel else contextlib.nullcontext():
        run = pretrain_setup.prepare_run(plan, summary)
        return pretrain_training.train(run, stop_after=stop_after)


def _distribution(config):
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.utils.distribution import make_distribution

    return make_distribution(
        config.distribution,
        config.batch_size,
        config.mesh,
        layout_map=ElectraBackbone.get_layout_map,
    )
