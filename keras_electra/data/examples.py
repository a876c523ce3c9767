"""Raw text -> pre-training examples -> tf.data.

`iter_examples` packs documents into examples as the reference does;
`text_dataset` tokenizes on the fly and mixes the corpus as it reads it
(`data/shards.py` writes the same examples once, as TFRecords).
"""

import numpy as np

from keras_electra.data.example_builder import ExampleBuilder
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import file_segments
from keras_electra.data.text import iter_documents

FEATURES = ("input_ids", "input_mask", "segment_ids")
TOKENIZE_BATCH = 4096
SEGMENT_BYTES = 1 << 20


def iter_examples(
    files,
    tokenizer,
    sequence_length,
    seed=0,
    document_filter=None,
    blank_lines_separate_documents=True,
    on_decode_error="stop",
    stats=None,
):
    """Yield packed examples (dicts of int32 arrays) from text files.

    Sentences are tokenized in large batches (one tokenizer call per
    `TOKENIZE_BATCH` sentences), which is what makes Python-side building
    fast. `document_filter(index)` selects documents (used for sharding).
    `stats`, a dict, receives `documents`, `sentences` and `tokens` counts.
    """
    ids = tokenizer.pretrainer_token_ids()
    builder = ExampleBuilder(
        sequence_length,
        cls_token_id=ids["cls_token_id"],
        sep_token_id=ids["sep_token_id"],
        pad_token_id=ids["pad_token_id"],
        seed=seed,
    )
    stats = stats if stats is not None else {}
    for key in ("documents", "sentences", "tokens"):
        stats.setdefault(key, 0)

    pending = []  # sentences, with None marking the end of a document

    def flush():
        sentences = [s for s in pending if s is not None]
        tokenized = iter(_tokenize(tokenizer, sentences))
        for item in pending:
            if item is None:
                example = builder.end_document()
            else:
                token_ids = next(tokenized)
                stats["tokens"] += len(token_ids)
                example = builder.add_sentence(token_ids)
            if example is not None:
                yield example
        pending.clear()

    documents = iter_documents(
        files,
        blank_lines_separate_documents=blank_lines_separate_documents,
        on_decode_error=on_decode_error,
    )
    for index, document in enumerate(documents):
        if document_filter is not None and not document_filter(index):
            continue
        stats["documents"] += 1
        stats["sentences"] += len(document)
        pending.extend(document)
        pending.append(None)
        if len(pending) >= TOKENIZE_BATCH:
            yield from flush()
    yield from flush()


def _tokenize(tokenizer, sentences):
    if not sentences:
        return []
    ragged = tokenizer(sentences)
    if hasattr(ragged, "to_list"):
        return ragged.to_list()
    return [list(np.asarray(row)) for row in ragged]


def to_model_inputs(example):
    import tensorflow as tf

    return {
        "token_ids": tf.cast(example["input_ids"], "int32"),
        "segment_ids": tf.cast(example["segment_ids"], "int32"),
        "padding_mask": tf.cast(example["input_mask"], "int32"),
    }


def shuffle_batch_skip(ds, batch_size, shuffle_buffer, seed, skip_batches):
    """Shared tail of the pipelines: seeded shuffle, batch, resume, prefetch.

    Skipping after batching moves a resumed run to exactly the batch where
    it stopped, since the order is a function of `seed` only.
    """
    import tensorflow as tf

    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.batch(batch_size, drop_remainder=True)
    if skip_batches:
        ds = ds.skip(skip_batches)
    return ds.prefetch(tf.data.AUTOTUNE)


def mixed_examples(
    files,
    tokenizer,
    sequence_length,
    seed=0,
    streams=16,
    segment_bytes=SEGMENT_BYTES,
    on_decode_error="stop",
):
    """Yield packed examples from the whole corpus at once, not file by file.

    The files are cut into byte segments of about `segment_bytes`
    (`file_segments`), the segments are shuffled with `seed`, and `streams`
    of them are read side by side, each next example coming from a stream
    drawn at random. Without this, a corpus made of several files (or one
    file ordered by date or topic) reaches training one file after another,
    and the model sees a sudden change of domain partway through the run
    (visible as a jump of the generator's loss). The order is a function of
    `seed` only, so runs resume exactly.
    """
    rng = np.random.default_rng(seed)
    segments = file_segments(files, segment_bytes)
    queue = [segments[i] for i in rng.permutation(len(segments))]
    queue.reverse()  # pop() from the end

    def open_stream():
        segment = queue.pop()
        return iter_examples(
            [segment],
            tokenizer,
            sequence_length,
            seed=int(rng.integers(2**31)),
            on_decode_error=on_decode_error,
        )

    active = [open_stream() for _ in range(min(streams, len(queue)))]
    while active:
        index = int(rng.integers(len(active)))
        example = next(active[index], None)
        if example is not None:
            yield example
        elif queue:
            active[index] = open_stream()
        else:
            active.pop(index)


def text_dataset(
    inputs,
    tokenizer,
    batch_size,
    sequence_length=128,
    seed=0,
    repeat=True,
    shuffle_buffer=10_000,
    skip_batches=0,
    on_decode_error="stop",
):
    """Tokenize text on the fly (no shards), for quick experiments.

    The corpus is mixed as it is read (`mixed_examples`: 1 MiB segments of
    every file in a seeded order, 16 read side by side), then shuffled in a
    buffer of `shuffle_buffer` examples; each epoch uses a new order.
    """
    import tensorflow as tf

    files = expand_inputs(inputs)

    def generate():
        epoch = 0
        while True:
            yield from mixed_examples(
                files,
                tokenizer,
                sequence_length,
                seed=seed + epoch,
                on_decode_error=on_decode_error,
            )
            epoch += 1
            if not repeat:
                return

    signature = {
        name: tf.TensorSpec([sequence_length], tf.int32) for name in FEATURES
    }
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    ds = ds.map(to_model_inputs)
    return shuffle_batch_skip(
        ds, batch_size, shuffle_buffer, seed, skip_batches
    )
