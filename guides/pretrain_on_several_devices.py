"""
Title: Pre-training ELECTRA on several devices, hosts and precisions
Author: keras-electra developers
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Data parallelism with keras.distribution, tf.distribute and torchrun, gradient accumulation and mixed precision, with the same pre-training job.
Accelerator: TPU
Expected time: smoke size 2-4 min on CPU (measured); full size about 20 min on CPU, 4 min on a GPU, 5 min on a TPU (estimates)
"""

"""
## Introduction

The same pre-training job runs on one CPU, eight GPUs or a TPU pod. What
changes is how the batch is split and how precise the arithmetic is:

- **Data parallelism**: each device computes the step on its slice of the
  global batch and the gradients are averaged. On JAX this is
  `keras.distribution.DataParallel` (one process per host; on a TPU pod,
  every host runs the same command); on TensorFlow `MirroredStrategy`; on
  PyTorch one process per GPU under `torchrun`.
- **Gradient accumulation**: a large global batch on few devices, by
  averaging the gradients of several micro-batches into one update.
- **Mixed precision**: `mixed_bfloat16` (TPUs, recent GPUs) or
  `mixed_float16` (older GPUs, with loss scaling) computes in 16 bits
  while the weights and the optimizer stay in float32.

The guide runs the `pretrain` job three ways on the devices it finds and
shows that the training curves agree: splitting the batch or accumulating
it changes where the arithmetic happens, not what is learned.
`SIZE = "smoke"` (below) runs 20 steps; on a CPU with JAX it splits the
CPU into two devices, so data parallelism really happens.
"""

import os

# "full" runs the guide as its header's times describe; "smoke" shrinks it
# to a few minutes on any CPU (tiny models, a slice of the data).
SIZE = "full"
if os.environ.get("KERAS_ELECTRA_GUIDE_SMOKE") == "1":  # the tests' switch
    SIZE = "smoke"
if SIZE not in ("full", "smoke"):
    raise ValueError(f'SIZE is {SIZE!r}: set it to "full" or "smoke".')
SMOKE = SIZE == "smoke"
os.environ.setdefault("KERAS_BACKEND", "jax")
if SMOKE:  # two CPU devices for JAX (set before JAX starts)
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_force_host_platform_device_count=2"
    )

import keras
import matplotlib.pyplot as plt

from keras_electra.data import learn_vocabulary
from keras_electra.data.default_corpus import default_corpus_path
from keras_electra.jobs.pretrain import pretrain
from keras_electra.utils import plotting
from keras_electra.utils.accelerator import describe_accelerator

STEPS = 20 if SMOKE else 300
BATCH = 8 if SMOKE else 128
print(describe_accelerator())

"""
## Data and vocabulary

The package's default corpus and a vocabulary learned from it, shared by
the three runs.
"""

corpus = default_corpus_path()
if SMOKE:
    with open(corpus, encoding="utf-8") as f:
        lines = [line for _, line in zip(range(3000), f)]
    corpus = "corpus_slice.txt"
    with open(corpus, "w", encoding="utf-8") as f:
        f.writelines(lines)
learn_vocabulary(corpus, 4000, "vocab.txt")

"""
## Three runs of one job

`pretrain()` is what `keras-electra pretrain` runs: checkpoints, resume,
logs and plots included. `distribution="data"` splits every batch over the
devices (JAX: `keras.distribution`; TensorFlow: `MirroredStrategy`; under
`torchrun` PyTorch is data parallel by itself).
`gradient_accumulation_steps=2` with half the batch makes the same global
batch from two micro-batches. The same seed gives the three runs the same
data, masking and initial weights.
"""

common = dict(
    corpus=corpus,
    vocabulary="vocab.txt",
    steps=STEPS,
    sequence_length=64,
    checkpoint_every=STEPS,
    log_every=2 if SMOKE else 10,
    verbose=0,
    overwrite=True,
)
runs = {
    "one device": dict(batch_size=BATCH),
    "data parallel": dict(batch_size=BATCH, distribution="data"),
    "accumulate 2 x half batch": dict(
        batch_size=BATCH // 2, gradient_accumulation_steps=2
    ),
}
for name, settings in runs.items():
    result = pretrain(name.replace(" ", "_"), **common, **settings)
    print(
        f"{name}: step {result['step']}, loss {result['history']['loss']:.4f}"
    )

"""
## The curves agree

Data parallelism computes the very same step (up to the order of float32
sums). Accumulation does too for everything that is a mean over the
batch; the corruption draws its random numbers per micro-batch, so its
curve follows the others without matching them exactly.
"""

plt.figure(figsize=(7, 4))
for name in runs:
    log = plotting.read_log(os.path.join(name.replace(" ", "_"), "log.csv"))
    plt.plot(log["step"], log["loss"], label=name, alpha=0.8)
plt.xlabel("step")
plt.ylabel("loss (MLM + 50 x RTD)")
plt.legend()
plt.title("One job, three ways to compute it")
plt.show()

"""
## Mixed precision

`dtype="mixed_bfloat16"` (or `--dtype` on the command line) computes the
towers in bfloat16 and keeps weights, optimizer, masking, sampling,
softmax and losses in float32. On a TPU or a recent GPU it is the fast
choice; on a CPU it is slower, so the guide only runs it at full size on
an accelerator.
"""

if not SMOKE and keras.distribution.list_devices()[0].split(":")[0] != "cpu":
    result = pretrain(
        "bfloat16",
        **common,
        batch_size=BATCH,
        distribution="data",
        dtype="mixed_bfloat16",
    )
    print(f"mixed_bfloat16: loss {result['history']['loss']:.4f}")

"""
## The same on the command line

```
# JAX, one host with 8 GPUs or a TPU VM (each host of a pod runs the same):
keras-electra pretrain --backend jax --distribution data \\
    --batch-size 1024 --dtype mixed_bfloat16 --shards shards/ \\
    --vocab vocab.txt --output run
# TensorFlow, every GPU of the machine:
keras-electra pretrain --backend tensorflow --distribution data ...
# PyTorch, one process per GPU:
torchrun --nproc_per_node 8 -m keras_electra.cli pretrain \\
    --backend torch --batch-size 1024 ...
# A large batch on one device:
keras-electra pretrain --batch-size 128 --gradient-accumulation-steps 8 ...
```

A run stopped on 8 devices resumes on 1 (or the reverse): checkpoints
hold the model, the optimizer and the data position, not the device
layout.
"""
