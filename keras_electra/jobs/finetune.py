"""Fine-tuning jobs: read task files, fine-tune, report, save.

This is what `keras-electra finetune` runs:

    keras-electra finetune --task classify --preset electra_run/preset \\
        --train train.csv --test test.csv --output polarity_run

Task files: see `keras_electra.data.task_files` (CSV/TSV with a header for
classify, `word<TAB>tag` lines for tag, SQuAD JSON or CSV for qa).

The classifier trains through its own preprocessor (raw strings into
`fit`); the tagger and the question answerer are fed arrays their
preprocessors make (QA windows change the number of rows).

Over 400 lines: the job and its argument checks, each with an error that
says how to fix the input, kept together so the job reads top to bottom.
"""

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
    tokenizer = keras_electra.ElectraTokenizer.from_preset(path)
    rng = np.random.default_rng(seed)
    start = time.time()
    if task == "classify":
        result, model = _classify(
            path,
            tokenizer,
            train,
            test,
            epochs,
            batch_size,
            sequence_length,
            learning_rate,
            layerwise_decay,
            num_classes,
            text_column,
            pair_column,
            label_column,
            load_weights,
            max_train_examples,
            rng,
            verbose,
        )
    elif task == "tag":
        result, model = _tag(
            path,
            tokenizer,
            train,
            test,
            epochs,
            batch_size,
            sequence_length,
            learning_rate,
            layerwise_decay,
            load_weights,
            max_train_examples,
            rng,
            verbose,
        )
    else:
        result, model = _qa(
            path,
            tokenizer,
            train,
            test,
            epochs,
            batch_size,
            sequence_length,
            learning_rate,
            layerwise_decay,
            load_weights,
            max_train_examples,
            rng,
            verbose,
        )
    result.update(
        task=task,
        preset=str(preset),
        pretrained=bool(load_weights),
        seconds=round(time.time() - start, 1),
    )
    if output:
        _write_outputs(output, task, result, model, tokenizer)
    return result


def _subsample(rng, n, limit):
    index = np.arange(n)
    if limit and limit < n:
        index = np.sort(rng.choice(n, limit, replace=False))
    return index


def _compile(model, steps, learning_rate, layerwise_decay):
    model.compile(
        num_train_steps=steps,
        learning_rate=learning_rate,
        layerwise_decay=layerwise_decay,
    )


def _steps(n, batch_size, epochs):
    return max(1, -(-n // batch_size)) * epochs


def _classify(
    path,
    tokenizer,
    train,
    test,
    epochs,
    batch_size,
    sequence_length,
    learning_rate,
    layerwise_decay,
    num_classes,
    text_column,
    pair_column,
    label_column,
    load_weights,
    max_train_examples,
    rng,
    verbose,
):
    import keras_electra

    texts, pairs, labels = read_classification_file(
        train, text_column, pair_column, label_column, num_classes
    )
    if num_classes is None:
        num_classes = int(max(labels)) + 1
    # Checked against the classes found in training, with file and line.
    test_texts, test_pairs, test_labels = read_classification_file(
        test, text_column, pair_column, label_column, num_classes
    )
    index = _subsample(rng, len(texts), max_train_examples)

    def raw(texts, pairs):
        # The task's own preprocessor packs raw strings (or pairs).
        texts = np.asarray(texts)
        return texts if pairs is None else (texts, np.asarray(pairs))

    y = np.asarray(labels, "float32" if num_classes == 1 else "int32")[index]
    model = keras_electra.ElectraTextClassifier.from_preset(
        path,
        num_classes=num_classes,
        load_weights=load_weights,
        preprocessor=keras_electra.ElectraTextClassifierPreprocessor(
            tokenizer, sequence_length=sequence_length
        ),
    )
    _compile(
        model,
        _steps(len(index), batch_size, epochs),
        learning_rate,
        layerwise_decay,
    )
    model.fit(
        raw(
            [texts[i] for i in index],
            None if pairs is None else [pairs[i] for i in index],
        ),
        y,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=verbose,
    )
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


def _tag(
    path,
    tokenizer,
    train,
    test,
    epochs,
    batch_size,
    sequence_length,
    learning_rate,
    layerwise_decay,
    load_weights,
    max_train_examples,
    rng,
    verbose,
):
    import keras_electra
    from keras_electra.models.electra_token_classifier import (
        first_piece_predictions,
    )

    sentences, tags = read_tagged_file(train)
    test_sentences, test_tags = read_tagged_file(test)
    names = sorted({t for sentence in tags for t in sentence})
    ids = {t: i for i, t in enumerate(names)}
    index = _subsample(rng, len(sentences), max_train_examples)
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    x, y, weights = preprocessor(
        [sentences[i] for i in index],
        [[ids[t] for t in tags[i]] for i in index],
    )
    model = keras_electra.ElectraTokenClassifier.from_preset(
        path,
        num_classes=len(names),
        load_weights=load_weights,
        preprocessor=None,
    )
    _compile(
        model,
        _steps(len(index), batch_size, epochs),
        learning_rate,
        layerwise_decay,
    )
    model.fit(
        x,
        y,
        sample_weight=weights,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=verbose,
    )
    test_x, _, test_weights = preprocessor(test_sentences)
    logits = model.predict(test_x, batch_size=64, verbose=0)
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


def _qa(
    path,
    tokenizer,
    train,
    test,
    epochs,
    batch_size,
    sequence_length,
    learning_rate,
    layerwise_decay,
    load_weights,
    max_train_examples,
    rng,
    verbose,
):
    import keras_electra

    questions, contexts, answers = read_qa_file(train)
    test_questions, test_contexts, test_answers = read_qa_file(test)
    index = _subsample(rng, len(questions), max_train_examples)
    preprocessor = keras_electra.ElectraQuestionAnswererPreprocessor(
        tokenizer,
        sequence_length=sequence_length,
        doc_stride=max(1, sequence_length // 3),
        max_question_length=min(64, sequence_length // 4),
    )
    batch = preprocessor.encode(
        [questions[i] for i in index],
        [contexts[i] for i in index],
        [answers[i][0] if answers[i] else None for i in index],
    )
    model = keras_electra.ElectraQuestionAnswerer.from_preset(
        path, load_weights=load_weights
    )
    _compile(
        model,
        _steps(len(batch), batch_size, epochs),
        learning_rate,
        layerwise_decay,
    )
    model.fit(
        batch.x,
        batch.y,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=verbose,
    )
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
