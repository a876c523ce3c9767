"""Raw text -> pre-training examples -> sharded TFRecords -> tf.data.

`build_shards` writes examples once, in parallel and resumably;
`shard_dataset` streams them into `fit` on any backend; `text_dataset` skips
the shards and tokenizes on the fly for quick experiments.
"""

import hashlib
import json
import multiprocessing
import os
import time

import numpy as np

from keras_electra.data.example_builder import ExampleBuilder
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import file_segments
from keras_electra.data.text import iter_documents

FEATURES = ("input_ids", "input_mask", "segment_ids")
MANIFEST = "manifest.json"
TOKENIZE_BATCH = 4096
# 2: documents dealt by (segment + document within segment) and each shard
# written in its own seeded order of the corpus' 1 MiB segments.
SHARD_LAYOUT = 2
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
    ids = tokenizer.special_token_ids()
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


# --- shards ----------------------------------------------------------------


def shard_name(index, num_shards):
    return f"shard-{index:05d}-of-{num_shards:05d}.tfrecord"


def _manifest(files, vocabulary_file, sequence_length, num_shards, seed, opts):
    digest = hashlib.sha256()
    with open(vocabulary_file, "rb") as f:
        digest.update(f.read())
    return {
        "inputs": [
            {"path": os.path.abspath(p), "bytes": os.path.getsize(p)}
            for p in files
        ],
        "vocabulary_sha256": digest.hexdigest(),
        "sequence_length": int(sequence_length),
        "num_shards": int(num_shards),
        "seed": int(seed),
        # How documents are dealt to shards; a build with another layout
        # cannot be resumed into this folder.
        "layout": SHARD_LAYOUT,
        **opts,
    }


def build_shards(
    inputs,
    output_dir,
    vocabulary_file,
    sequence_length=128,
    num_shards=16,
    num_processes=None,
    seed=0,
    lowercase=True,
    strip_accents=True,
    blank_lines_separate_documents=True,
    on_decode_error="stop",
    overwrite=False,
    verbose=True,
):
    """Write pre-training examples from text into sharded TFRecord files.

    The files are cut into 1 MiB segments; document `j` of segment `g` goes
    to shard `(g + j) % num_shards`, so every shard samples the whole corpus,
    and each shard is written in its own seeded order of the segments, so
    the shards read side by side by `shard_dataset` are at different places
    of the corpus (not all in its first file at once). Each shard is
    built by one worker process, written to a temporary file and renamed
    when complete, so re-running with the same arguments skips finished
    shards (a killed build resumes where it stopped). A `manifest.json`
    records the inputs and settings; a different build into the same folder
    is refused unless `overwrite=True`.

    Returns a dict with `files`, `examples`, `tokens`, `seconds` and
    `tokens_per_second` (over the shards built by this call).
    """
    files = expand_inputs(inputs)
    os.makedirs(output_dir, exist_ok=True)
    opts = {
        "lowercase": bool(lowercase),
        "strip_accents": bool(strip_accents),
        "blank_lines_separate_documents": bool(blank_lines_separate_documents),
    }
    manifest = _manifest(
        files, vocabulary_file, sequence_length, num_shards, seed, opts
    )
    manifest_path = os.path.join(output_dir, MANIFEST)
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            previous = json.load(f)
        if previous != manifest:
            if not overwrite:
                raise ValueError(
                    f"'{output_dir}' holds shards built from other inputs or "
                    "settings (see its manifest.json). Choose another folder "
                    "or pass overwrite=True (--overwrite) to rebuild."
                )
            for name in os.listdir(output_dir):
                if name.startswith("shard-"):
                    os.remove(os.path.join(output_dir, name))
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)

    todo = [
        i
        for i in range(num_shards)
        if not os.path.exists(
            os.path.join(output_dir, shard_name(i, num_shards))
        )
    ]
    if verbose and len(todo) < num_shards:
        print(f"{num_shards - len(todo)} of {num_shards} shards already built.")
    jobs = [
        dict(
            files=files,
            output_dir=output_dir,
            index=i,
            num_shards=num_shards,
            vocabulary_file=vocabulary_file,
            sequence_length=sequence_length,
            seed=seed,
            on_decode_error=on_decode_error,
            **opts,
        )
        for i in todo
    ]
    start = time.time()
    totals = {"examples": 0, "tokens": 0}
    if jobs:
        import keras

        progress = keras.utils.Progbar(
            len(jobs), unit_name="shard", verbose=1 if verbose else 0
        )
        processes = num_processes or min(len(jobs), os.cpu_count() or 1)
        if processes > 1:
            context = multiprocessing.get_context("spawn")
            with context.Pool(processes) as pool:
                results = pool.imap_unordered(_build_one_shard, jobs)
                for done, result in enumerate(results, start=1):
                    _accumulate(totals, result, progress, done, start)
        else:
            for done, job in enumerate(jobs, start=1):
                _accumulate(
                    totals, _build_one_shard(job), progress, done, start
                )
    seconds = time.time() - start
    totals.update(
        files=sorted(
            os.path.join(output_dir, shard_name(i, num_shards))
            for i in range(num_shards)
        ),
        seconds=seconds,
        tokens_per_second=totals["tokens"] / seconds if jobs else 0.0,
    )
    if verbose and jobs:
        print(
            f"Built {len(jobs)} shard(s): {totals['examples']:,} examples, "
            f"{totals['tokens']:,} tokens in {seconds:.1f}s "
            f"({totals['tokens_per_second']:,.0f} tokens/s)."
        )
    return totals


def _accumulate(totals, result, progress, done, start):
    totals["examples"] += result["examples"]
    totals["tokens"] += result["tokens"]
    rate = totals["tokens"] / max(time.time() - start, 1e-9)
    progress.update(done, values=[("tokens/s", rate)])


def _build_one_shard(job):
    """Worker: build one shard (runs in a fresh process under `spawn`)."""
    import tensorflow as tf

    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    tokenizer = ElectraTokenizer(
        vocabulary=job["vocabulary_file"],
        lowercase=job["lowercase"],
        strip_accents=job["strip_accents"],
    )
    index, num_shards = job["index"], job["num_shards"]
    path = os.path.join(job["output_dir"], shard_name(index, num_shards))
    tmp = f"{path}.tmp-{os.getpid()}"
    stats = {}
    examples = 0
    segments = file_segments(job["files"], SEGMENT_BYTES)
    order = np.random.default_rng([job["seed"], index]).permutation(
        len(segments)
    )
    with tf.io.TFRecordWriter(tmp) as writer:
        for g in order:
            for example in iter_examples(
                [segments[g]],
                tokenizer,
                job["sequence_length"],
                seed=job["seed"] * 100_003 + index * 1_009 + int(g),
                document_filter=lambda j, g=int(g): (
                    (g + j) % num_shards == index
                ),
                blank_lines_separate_documents=job[
                    "blank_lines_separate_documents"
                ],
                on_decode_error=job["on_decode_error"],
                stats=stats,
            ):
                writer.write(serialize_example(example))
                examples += 1
    os.replace(tmp, path)
    return {"examples": examples, "tokens": stats.get("tokens", 0)}


def serialize_example(example):
    import tensorflow as tf

    feature = {
        name: tf.train.Feature(
            int64_list=tf.train.Int64List(value=example[name].tolist())
        )
        for name in FEATURES
    }
    return tf.train.Example(
        features=tf.train.Features(feature=feature)
    ).SerializeToString()


# --- datasets ----------------------------------------------------------------


def _to_model_inputs(example):
    import tensorflow as tf

    return {
        "token_ids": tf.cast(example["input_ids"], "int32"),
        "segment_ids": tf.cast(example["segment_ids"], "int32"),
        "padding_mask": tf.cast(example["input_mask"], "int32"),
    }


def shard_files(path):
    """The shard files of a folder built by `build_shards` (or a glob)."""
    import glob

    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "shard-*.tfrecord")))
    else:
        files = sorted(glob.glob(path))
    if not files:
        raise ValueError(
            f"No shards found at '{path}'. Build them with "
            "`keras-electra build-data` or pass raw text with --corpus."
        )
    return files


def read_sequence_length(files):
    """The example length stored in the first record of `files`."""
    import tensorflow as tf

    for record in tf.data.TFRecordDataset(files[:1]).take(1):
        example = tf.train.Example.FromString(record.numpy())
        return len(example.features.feature["input_ids"].int64_list.value)
    raise ValueError(f"The shard '{files[0]}' holds no examples.")


def shard_dataset(
    path,
    batch_size,
    sequence_length=None,
    shuffle_buffer=10_000,
    seed=0,
    repeat=True,
    skip_batches=0,
):
    """Stream shards into `fit`: shuffle across shards, repeat, batch.

    The order is a deterministic function of `seed`, so `skip_batches`
    resumes a run at exactly the batch where it stopped.
    """
    import tensorflow as tf

    files = shard_files(path)
    stored = read_sequence_length(files)
    if sequence_length is not None and sequence_length != stored:
        raise ValueError(
            f"The shards at '{path}' hold examples of length {stored}, not "
            f"{sequence_length}. Rebuild them with --sequence-length "
            f"{sequence_length} or train with --sequence-length {stored}."
        )
    spec = {
        name: tf.io.FixedLenFeature([stored], tf.int64) for name in FEATURES
    }
    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.map(
        lambda record: _to_model_inputs(
            tf.io.parse_single_example(record, spec)
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return _shuffle_batch_skip(
        ds, batch_size, shuffle_buffer, seed, skip_batches
    )


def _shuffle_batch_skip(ds, batch_size, shuffle_buffer, seed, skip_batches):
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
    ds = ds.map(_to_model_inputs)
    return _shuffle_batch_skip(
        ds, batch_size, shuffle_buffer, seed, skip_batches
    )
