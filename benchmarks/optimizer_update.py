"""One optimizer update on PyTorch: operator calls and time, side by side.

Over the real trainable variables of a pretrainer built from a preset
(`electra_small` by default: 402 variables, generator and discriminator),
with random gradients, one run measures:

- `ElectraAdamW, per variable`: the update before the multi-tensor path
  (`optimizer._foreach = False`: `update_step` for each variable, Keras'
  per-tensor global-norm clip);
- `ElectraAdamW`: the multi-tensor update (`torch._foreach_*`, one
  `torch._foreach_norm` for the clip);
- `ElectraAdamW, layer-wise`: the same with the fine-tuning recipe's
  layer-wise learning-rate factors (decay 0.8 over the discriminator's
  layers), so the variables fall into one group per factor;
- `keras AdamW`: Keras' own AdamW (its `torch._foreach_*` Adam, which
  corrects the bias) with the same settings: decay 0.01 except biases and
  LayerNorm, global norm 1.0, epsilon 1e-6.

Operator calls are counted two ways for one update: `dispatched`, the aten
operators called from Python (a `TorchDispatchMode` sees each `_foreach_*`
call once), and `profiled`, every `aten::` event of `torch.profiler`,
nested calls included (on CPU a `_foreach_*` operator runs one operator per
tensor inside). Time is the median of `--updates` updates after `--warmup`,
synchronized on CUDA, the optimizers taking turns update by update (a
shared machine's load then weighs on all of them alike). The last columns
are the ratios to Keras' AdamW.

    python benchmarks/optimizer_update.py
    python benchmarks/optimizer_update.py --preset electra_tiny --updates 20

PyTorch only (the backend is set here); TensorFlow and JAX compile the
per-variable update into one program.
"""

import argparse
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "torch"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import keras_electra  # noqa: E402
from keras_electra.optimizers.electra_adamw import NO_DECAY_PATTERNS  # noqa: E402
from keras_electra.optimizers.finetuning import (  # noqa: E402
    layerwise_learning_rate_multipliers,
)


class _CountCalls(TorchDispatchMode):
    """Counts the aten operators dispatched while active."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def _synchronize():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _optimizers(pretrainer):
    schedule = keras_electra.ElectraLearningRateSchedule(
        5e-4, warmup_steps=10, decay_steps=1000
    )
    per_variable = keras_electra.ElectraAdamW(learning_rate=schedule)
    per_variable._foreach = False
    multipliers = layerwise_learning_rate_multipliers(
        pretrainer, pretrainer.discriminator.backbone, 0.8
    )
    keras_adamw = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        global_clipnorm=1.0,
    )
    keras_adamw.exclude_from_weight_decay(var_names=list(NO_DECAY_PATTERNS))
    return {
        "ElectraAdamW, per variable": per_variable,
        "ElectraAdamW": keras_electra.ElectraAdamW(learning_rate=schedule),
        "ElectraAdamW, layer-wise": keras_electra.ElectraAdamW(
            learning_rate=schedule, learning_rate_multipliers=multipliers
        ),
        "keras AdamW": keras_adamw,
    }


def count_calls(optimizer, grads, variables, warmup):
    """Operators of one update: dispatched from Python, and profiled."""
    optimizer.build(variables)
    for _ in range(warmup):
        optimizer.apply(grads, variables)
    _synchronize()
    with _CountCalls() as counter:
        optimizer.apply(grads, variables)
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU]
    ) as profile:
        optimizer.apply(grads, variables)
    profiled = sum(
        event.count
        for event in profile.key_averages()
        if event.key.startswith("aten::")
    )
    return counter.calls, profiled


def time_updates(optimizers, grads, variables, updates):
    """Median seconds per update of each optimizer, the optimizers taking
    turns (one update each per round), so that a shared machine's load
    falls on all of them alike."""
    times = {name: [] for name in optimizers}
    for _ in range(updates):
        for name, optimizer in optimizers.items():
            _synchronize()
            start = time.perf_counter()
            optimizer.apply(grads, variables)
            _synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="electra_small")
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        args.preset, vocabulary_size=30522, seed=0
    )
    variables = list(pretrainer.trainable_variables)
    rng = np.random.default_rng(0)
    grads = [
        keras.ops.convert_to_tensor(
            rng.normal(0, 1e-2, tuple(v.shape)).astype("float32")
        )
        for v in variables
    ]
    count = sum(int(np.prod(v.shape)) for v in variables)
    device = str(variables[0].value.device)
    print(
        f"{args.preset}: {len(variables)} variables, {count:,} parameters, "
        f"torch {torch.__version__} on {device}, median of {args.updates} "
        "updates"
    )
    optimizers = _optimizers(pretrainer)
    counts = {
        name: count_calls(optimizer, grads, variables, args.warmup)
        for name, optimizer in optimizers.items()
    }
    seconds = time_updates(optimizers, grads, variables, args.updates)
    rows = {name: (*counts[name], seconds[name]) for name in optimizers}
    base_calls, base_profiled, base_time = rows["keras AdamW"]
    header = (
        f"{'optimizer':28s} {'dispatched':>10s} {'profiled':>9s} "
        f"{'ms/update':>9s} {'x calls':>8s} {'x prof.':>8s} {'x time':>7s}"
    )
    print(header)
    print("-" * len(header))
    for name, (calls, profiled, seconds) in rows.items():
        print(
            f"{name:28s} {calls:10d} {profiled:9d} {seconds * 1e3:9.2f} "
            f"{calls / base_calls:8.2f} {profiled / base_profiled:8.2f} "
            f"{seconds / base_time:7.2f}"
        )


if __name__ == "__main__":
    main()
