"""Fine-tuning jobs: read task files, fine-tune, report, save.

This is what `keras-electra finetune` runs:

    keras-electra finetune --task classify --preset electra_run/preset \\
        --train train.csv --test test.csv --output polarity_run

Task files: see `keras_electra.data.task_files` (CSV/TSV with a header for
classify, `word<TAB>tag` lines for tag, SQuAD JSON or CSV for qa).

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

from keras_electra.data.task_files import read_classification_file
from keras_electra.data.task_files import read_qa_file
from keras_electra.data.task_files import read_tagged_file
from keras_electra.metrics.classification import classification_report
from keras_electra.metrics.squad import exact_match
from keras_electra.metrics.squad import f1_score
from keras_electra.utils.plotting import plot_confusion_matrix


def finetune(
    task,
    preset,
    train,
    test,
    output=None,
    epochs=3,
    batch_size=32,
    sequence_length=128,
    learning_rate=None,
    layerwise_decay=None,
    num_classes=None,
    text_column=None,
    pair_column=None,
    label_column="label",
    load_weights=True,
    max_train_examples=None,
    seed=0,
    verbose=1,
):
    """Fine-tune a preset on a task file and evaluate on a test file.

    Args:
        task: "classify", "tag" or "qa".
        preset: a keras-electra preset with a tokenizer (e.g. the `preset/`
            folder of a pre-training run), or a converted checkpoint.
        train, test: task files (see the module docstring).
        output: optional folder for the fine-tuned preset, `metrics.json`
            and, for classification, `confusion_matrix.png`.
        load_weights: False fine-tunes the same architecture from random
            weights (the baseline of
            `benchmarks/finetune_pretrained_vs_random.py`).

    Returns: a dict of test metrics (and the run's sizes and timings).
    """
    import keras

    import keras_electra
    from keras_electra.utils import preset_utils

    keras.utils.set_random_seed(seed)
    if task not in ("classify", "tag", "qa"):
        raise ValueError(f"Unknown task {task!r}: use classify, tag or qa.")
    path = preset_utils.resolve_preset(preset)
    if not preset_utils.preset_has_file(
        path, preset_utils.TOKENIZER_CONFIG_FILE
    ):
        raise ValueError(
            f"The preset '{preset}' has no tokenizer: fine-tune the preset/ "
            "folder of a pre-training run, or a converted checkpoint."
        )
    job = _Job(
        path=path,
        tokenizer=keras_electra.ElectraTokenizer.from_preset(path),
        train=train,
        test=test,
        epochs=epochs,
        batch_size=batch_size,
        sequence_length=sequence_length,
        learning_rate=learning_rate,
        layerwise_decay=layerwise_decay,
        load_weights=load_weights,
        max_train_examples=max_train_examples,
        seed=seed,
        verbose=verbose,
    )
    start = time.time()
    if task == "classify":
        result, model = _classify(
            job, num_classes, text_column, pair_column, label_column
        )
    elif task == "tag":
        result, model = _tag(job)
    else:
        result, model = _qa(job)
    result.update(
        task=task,
        preset=str(preset),
        pretrained=bool(load_weights),
        seconds=round(time.time() - start, 1),
    )
    if output:
        _write_outputs(output, task, result, model, job.tokenizer)
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


def _classify(job, num_classes, text_column, pair_column, label_column):
    import tensorflow as tf

    import keras_electra

    texts, pairs, labels = read_classification_file(
        job.train, text_column, pair_column, label_column, num_classes
    )
    if num_classes is None:
        num_classes = int(max(labels)) + 1
    # Checked against the classes found in training, with file and line.
    test_texts, test_pairs, test_labels = read_classification_file(
        job.test, text_column, pair_column, label_column, num_classes
    )
    index = job.subsample(len(texts))

    def raw(texts, pairs):
        # The task's own preprocessor packs raw strings (or pairs).
        texts = np.asarray(texts)
        return texts if pairs is None else (texts, np.asarray(pairs))

    y = np.asarray(labels, "float32" if num_classes == 1 else "int32")[index]
    model = keras_electra.ElectraTextClassifier.from_preset(
        job.path,
        num_classes=num_classes,
        load_weights=job.load_weights,
        preprocessor=keras_electra.ElectraTextClassifierPreprocessor(
            job.tokenizer, sequence_length=job.sequence_length
        ),
    )
    train_x = raw(
        [texts[i] for i in index],
        None if pairs is None else [pairs[i] for i in index],
    )
    job.fit(model, tf.data.Dataset.from_tensor_slices((train_x, y)), len(y))
    out = model.predict(raw(test_texts, test_pairs), batch_size=64, verbose=0)
    result = {
        "train_examples": int(len(index)),
        "test_examples": len(test_texts),
        "num_classes": num_classes,
    }
    if num_classes == 1:
        predictions = np.asarray(out).reshape(-1)
        truth = np.asarray(test_labels, "float32")
        result["mse"] = float(np.mean((predictions - truth) ** 2))
        result["pearson"] = float(np.corrcoef(predictions, truth)[0, 1])
    else:
        result.update(
            classification_report(test_labels, np.argmax(out, -1), num_classes)
        )
    return result, model


def _tag(job):
    import tensorflow as tf

    import keras_electra
    from keras_electra.models.electra_token_classifier import (
        first_piece_predictions,
    )

    sentences, tags = read_tagged_file(job.train)
    test_sentences, test_tags = read_tagged_file(job.test)
    names = sorted({t for sentence in tags for t in sentence})
    ids = {t: i for i, t in enumerate(names)}
    index = job.subsample(len(sentences))
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        job.tokenizer, sequence_length=job.sequence_length
    )
    model = keras_electra.ElectraTokenClassifier.from_preset(
        job.path,
        num_classes=len(names),
        load_weights=job.load_weights,
        preprocessor=preprocessor,
    )
    # Word lists of different lengths: ragged tensors through tf.data, and
    # the tagger's preprocessor aligns the labels inside `fit`.
    words = tf.ragged.constant([sentences[i] for i in index])
    labels = tf.ragged.constant(
        [[ids[t] for t in tags[i]] for i in index], dtype="int32"
    )
    job.fit(
        model, tf.data.Dataset.from_tensor_slices((words, labels)), len(index)
    )
    test_words = tf.ragged.constant(test_sentences)
    logits = model.predict(test_words, batch_size=64, verbose=0)
    # The same preprocessing marks each test word's first wordpiece.
    _, _, test_weights = preprocessor(test_words)
    predicted = first_piece_predictions(logits, test_weights)
    correct = total = unseen = truncated = 0
    for guess, truth in zip(predicted, test_tags):
        truncated += len(truth) - len(guess)
        for g, t in zip(guess, truth):
            total += 1
            unseen += t not in ids
            correct += ids.get(t, -1) == int(g)
        total += len(truth) - len(guess)  # cut-off words count as errors
    return {
        "train_examples": int(len(index)),
        "test_examples": len(test_sentences),
        "num_classes": len(names),
        "accuracy": correct / max(1, total),
        "test_words": total,
        "test_words_with_unseen_tags": unseen,
        "test_words_truncated": truncated,
        "tags": names,
    }, model


def _qa(job):
    import keras_electra

    questions, contexts, answers = read_qa_file(job.train)
    test_questions, test_contexts, test_answers = read_qa_file(job.test)
    index = job.subsample(len(questions))
    length = job.sequence_length
    preprocessor = keras_electra.ElectraQuestionAnswererPreprocessor(
        job.tokenizer,
        sequence_length=length,
        doc_stride=max(1, length // 3),
        max_question_length=min(64, length // 4),
    )
    # Windowing changes the number of rows, so it runs before the model
    # (the question answerer takes no preprocessor; see its docstring).
    batch = preprocessor.encode(
        [questions[i] for i in index],
        [contexts[i] for i in index],
        [answers[i][0] if answers[i] else None for i in index],
    )
    model = keras_electra.ElectraQuestionAnswerer.from_preset(
        job.path, load_weights=job.load_weights
    )
    job.fit(model, (batch.x, batch.y), len(batch))
    allow_no_answer = any(not a for a in answers + test_answers)
    predictions = preprocessor.answer(
        model, test_questions, test_contexts, allow_no_answer=allow_no_answer
    )
    truths = [[text for text, _ in a] for a in test_answers]
    return {
        "train_examples": int(len(index)),
        "train_windows": len(batch),
        "test_examples": len(test_questions),
        "exact_match": float(
            np.mean([exact_match(p, t) for p, t in zip(predictions, truths)])
        ),
        "f1": float(
            np.mean([f1_score(p, t) for p, t in zip(predictions, truths)])
        ),
    }, model


def _write_outputs(output, task, result, model, tokenizer):
    from keras_electra.utils import preset_utils

    os.makedirs(output, exist_ok=True)
    with preset_utils.atomic_directory(os.path.join(output, "model")) as tmp:
        model.save_to_preset(tmp)
        tokenizer.save_to_preset(tmp)
    with open(os.path.join(output, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    if task == "classify" and "confusion_matrix" in result:
        n = result["num_classes"]
        plot_confusion_matrix(
            result["confusion_matrix"],
            [str(i) for i in range(n)],
            os.path.join(output, "confusion_matrix.png"),
            title=f"Test confusion matrix (accuracy {result['accuracy']:.3f})",
        )
