"""
Title: Continuing Google's ELECTRA on your domain, then fine-tuning
Author: keras-electra developers
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Load Google's released ELECTRA-Small pair, pre-train it further on in-domain text, and compare fine-tuning from both.
Accelerator: GPU
Expected time: smoke size 2-3 min on CPU (measured); full size about 4 h on CPU, 8 min on a GPU, 5 min on a TPU (estimates)
"""

"""
## Introduction

A general-purpose encoder often gains from more pre-training on text like
the text of your task ("domain-adaptive pre-training"). ELECTRA makes this
cheap: Google released both towers, generator and discriminator, so the
joint objective continues exactly where it stopped.

`electra_small_uncased_en` names Google's released ELECTRA-Small pair. On
first use keras-electra fetches the transformers checkpoints from the
Hugging Face Hub, converts them (one shared embedding block, as the
reference trains them) and caches a preset with the released vocabulary.

Here the domain is movie reviews: we continue pre-training on the review
sentences of the polarity task (their text only, no labels), then
fine-tune a sentiment classifier from Google's weights and from the
continued ones, with the same recipe and seed.

`SIZE = "smoke"` (below) stands in a tiny random pair for Google's (no
Hub access needed) and trains for a few steps on CPU.
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
import numpy as np

import keras_electra
from keras_electra.callbacks import TrainingLog
from keras_electra.data import example_task
from keras_electra.data import learn_vocabulary
from keras_electra.data import text_dataset
from keras_electra.data.task_files import read_classification_file
from keras_electra.utils import plotting
from keras_electra.utils.accelerator import describe_accelerator

STEPS = 20 if SMOKE else 2000
keras.utils.set_random_seed(0)
print(describe_accelerator())

"""
## Domain text and the task

The polarity task's training sentences become the pre-training corpus (one
sentence per line; a blank line every 20 lines makes "documents").
"""

polarity = example_task("polarity")
texts, _, labels = read_classification_file(polarity["train"])
test_texts, _, test_labels = read_classification_file(polarity["test"])
if SMOKE:
    texts, labels = texts[:300], labels[:300]
with open("reviews.txt", "w", encoding="utf-8") as f:
    for i, text in enumerate(texts):
        f.write(text + ("\n\n" if i % 20 == 19 else "\n"))
print(len(texts), "review sentences")

"""
## Google's pair

`ElectraPretrainer.from_preset("electra_small_uncased_en")` holds both
released towers with the paper's settings for the size; its tokenizer is
the released uncased vocabulary.
"""

if SMOKE:  # a tiny random pair with its own vocabulary stands in
    tokenizer = learn_vocabulary("reviews.txt", 2000, "vocab.txt")
    keras_electra.ElectraPretrainer.from_preset(
        "electra_tiny",
        vocabulary_size=tokenizer.vocabulary_size(),
        **tokenizer.pretrainer_token_ids(),
    ).save_to_preset("google_stand_in", tokenizer=tokenizer)
    RELEASED = "google_stand_in"
else:
    RELEASED = "electra_small_uncased_en"
tokenizer = keras_electra.ElectraTokenizer.from_preset(RELEASED)
pretrainer = keras_electra.ElectraPretrainer.from_preset(RELEASED)
print(
    f"discriminator {pretrainer.discriminator.count_params():,} parameters, "
    f"generator {pretrainer.generator.count_params():,}"
)

"""
## Continued pre-training

A lower peak rate than from scratch (1e-4 instead of the paper's 5e-4 for
Small) and a short warm-up keep the released weights from being shaken
loose. The curves show the released discriminator already far above the
prior's line: it detects replacements from the first step.
"""

dataset = text_dataset(
    "reviews.txt", tokenizer, batch_size=32, sequence_length=128
)
pretrainer.compile(
    learning_rate=1e-4, num_train_steps=STEPS, warmup_steps=STEPS // 10
)
log = TrainingLog(STEPS, csv_path="log.csv", log_every=5 if SMOKE else 50)
pretrainer.fit(
    dataset, steps_per_epoch=STEPS, epochs=1, callbacks=[log], verbose=0
)
pretrainer.save_to_preset("reviews_electra", tokenizer=tokenizer)
plotting.training_curves_figure(
    plotting.read_log("log.csv"),
    title="Continued pre-training on review sentences",
    vocabulary_size=tokenizer.vocabulary_size(),
)
plt.show()

"""
## Fine-tuning from both

The same classifier, recipe and seed, from the released weights and from
the continued ones.
"""


def fine_tune(preset):
    keras.utils.set_random_seed(0)
    classifier = keras_electra.ElectraTextClassifier.from_preset(
        preset,
        num_classes=2,
        preprocessor=keras_electra.ElectraTextClassifierPreprocessor(
            tokenizer, sequence_length=64
        ),
    )
    epochs = 1 if SMOKE else 3
    classifier.compile(num_train_steps=-(-len(texts) // 32) * epochs)
    classifier.fit(
        np.array(texts),
        np.array(labels),
        batch_size=32,
        epochs=epochs,
        verbose=2,
    )
    scores = classifier.predict(np.array(test_texts), verbose=0)
    return float(np.mean(np.argmax(scores, -1) == np.array(test_labels)))


scores = {
    "released": fine_tune(RELEASED),
    "continued on reviews": fine_tune("reviews_electra"),
}
print(scores)
plt.figure(figsize=(5, 3))
plt.bar(list(scores), list(scores.values()), color=["gray", "tab:blue"])
plt.ylim(min(scores.values()) - 0.05, 1.0)
plt.ylabel("test accuracy (polarity)")
plt.title("Fine-tuned from ...")
plt.show()

"""
One seed on 800 test sentences is a noisy comparison (a standard error of
about 1.5 points): repeat with several seeds before you trust a gap.

## From the command line

```
keras-electra pretrain --preset electra_small_uncased_en \\
    --corpus my_domain/ --learning-rate 1e-4 --steps 20000 \\
    --output my_domain_electra
keras-electra finetune --task classify --preset my_domain_electra/preset \\
    --train train.csv --test test.csv
```
"""
