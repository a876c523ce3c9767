"""`ElectraTokenClassifierPreprocessor`: word labels on first wordpieces."""

import numpy as np
import pytest
import tensorflow as tf

import keras_electra
from keras_electra.models.electra_token_classifier import (
    first_piece_predictions,
)


def _assert_the_tf_data_path_agrees(preprocessor, words, tags, python):
    """Mapped over a batched `tf.data` pipeline, the same arrays come out."""
    ds = (
        tf.data.Dataset.from_tensor_slices(
            (tf.ragged.constant(words), tf.ragged.constant(tags))
        )
        .batch(len(words))
        .map(preprocessor)
    )
    (tx, ty, tw), (x, y, w) = next(iter(ds)), python
    for key in ("token_ids", "segment_ids", "padding_mask"):
        np.testing.assert_array_equal(tx[key].numpy(), x[key])
    np.testing.assert_array_equal(ty.numpy(), y)
    np.testing.assert_array_equal(tw.numpy(), w)


def test_token_labels_on_first_wordpieces(tokenizer):
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    words = [["The", "dog", "runs", "."], ["cats"]]
    tags = [[1, 2, 3, 4], [5]]
    x, y, w = preprocessor(words, tags)
    # runs -> run ##s: the tag on "run", weight 0 on "##s"; cats -> [UNK]? no:
    # "cats" -> cat ##s.
    np.testing.assert_array_equal(x["token_ids"][0], [2, 5, 6, 7, 8, 20, 3, 0])
    np.testing.assert_array_equal(y[0], [0, 1, 2, 3, 0, 4, 0, 0])
    np.testing.assert_array_equal(w[0], [0, 1, 1, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(x["token_ids"][1], [2, 9, 8, 3, 0, 0, 0, 0])
    np.testing.assert_array_equal(w[1], [0, 1, 0, 0, 0, 0, 0, 0])
    _assert_the_tf_data_path_agrees(preprocessor, words, tags, (x, y, w))
    # Truncation keeps [SEP] and drops whole trailing words' labels.
    x, y, w = preprocessor([["the"] * 10], [[1] * 10])
    assert x["token_ids"][0, -1] == 3 and w[0].sum() == 6
    logits = np.zeros((1, 8, 3))
    logits[0, 1:7, 2] = 1.0
    assert first_piece_predictions(logits, w)[0].tolist() == [2] * 6


def test_words_without_wordpieces_keep_the_labels_aligned(tokenizer):
    # An empty word and a zero-width space give no wordpiece: they take no
    # position, and the next words keep their own labels (in both paths).
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    words = [["the", "", "dog", "cat"], ["the", "\u200b", "film"]]
    tags = [[1, 2, 3, 4], [5, 6, 7]]
    x, y, w = preprocessor(words, tags)
    np.testing.assert_array_equal(x["token_ids"][0], [2, 5, 6, 9, 3, 0, 0, 0])
    np.testing.assert_array_equal(y[0], [0, 1, 3, 4, 0, 0, 0, 0])
    np.testing.assert_array_equal(w[0], [0, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(x["token_ids"][1], [2, 5, 12, 3, 0, 0, 0, 0])
    np.testing.assert_array_equal(y[1], [0, 5, 7, 0, 0, 0, 0, 0])
    _assert_the_tf_data_path_agrees(preprocessor, words, tags, (x, y, w))


def test_a_row_with_too_few_labels_is_named(tokenizer):
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    with pytest.raises(ValueError, match="Row 1 has 2 words but 1 labels"):
        preprocessor([["the", "dog"], ["the", "cat"]], [[1, 2], [3]])
