"""Pre-training examples written once as sharded TFRecords, and streamed.

`build_shards` writes examples in parallel and resumably; `shard_dataset`
streams them into `fit` on any backend, in an order that a resumed run
enters at any batch without reading what came before.

The corpus, the vocabulary and the shards' folder may be local paths or
URLs (`gs://...`: `utils/file_system`, TensorFlow's filesystem layer);
TFRecords are read and written by `tf.data` and `tf.io`, which take both.
"""

import contextlib
import hashlib
import json
import multiprocessing
import os
import time

import numpy as np

from keras_electra.data.documents import Documents
from keras_electra.data.documents import as_documents
from keras_electra.data.examples import FEATURES
from keras_electra.data.examples import SEGMENT_BYTES
from keras_electra.data.examples import iter_examples
from keras_electra.data.examples import to_model_inputs
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import file_segments
from keras_electra.data.text import uses_text_field
from keras_electra.utils import file_system

MANIFEST = "manifest.json"
CHECK_SUFFIX = ".json"  # beside each shard: its size, checksum, records


# 2: documents dealt by (segment + document within segment) and each shard
# written in its own seeded order of the corpus' 1 MiB segments.
SHARD_LAYOUT = 2


def shard_name(index, num_shards):
    return f"shard-{index:05d}-of-{num_shards:05d}.tfrecord"


def _manifest(files, vocabulary_file, sequence_length, num_shards, seed, opts):
    """The build's record; `files` may be a `Documents` (named only)."""
    digest = hashlib.sha256()
    with file_system.open_file(vocabulary_file, "rb") as f:
        digest.update(f.read())
    if isinstance(files, Documents):
        inputs = [{"documents": files.name}]
    else:
        inputs = [
            {
                "path": file_system.abspath(p),
                "bytes": file_system.getsize(p),
            }
            for p in files
        ]
    return {
        "inputs": inputs,
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
    show_backend_logs=False,
    text_field="text",
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

    The worker processes import TensorFlow with its C++ start-up lines
    hidden, as the command line does, unless `show_backend_logs`
    (`--verbose`).

    `inputs` are files, globs or folders of text, compressed text, JSON
    lines or Parquet (`corpus_formats`; `text_field` names the JSON field
    or Parquet column); a compressed file is one segment, whatever its
    size. They may instead be texts given in Python (an iterable of
    strings that is not a list or tuple, a `tf.data.Dataset` of strings, a
    `Documents`), one document each: those are read once, in this
    process, in chunks of about 1 MiB that take the place of segments
    (document `j` of chunk `g` goes to shard `(g + j) % num_shards`), and
    every shard is written in the chunks' order. The manifest cannot tell
    two such inputs apart: a folder that holds a complete build with the
    same settings is kept as it is unless `overwrite=True`.

    The inputs, `output_dir` and `vocabulary_file` may be URLs
    (`gs://bucket/shards`: `keras_electra.utils.file_system`). On an
    object store (Google Cloud Storage, S3) the rename that puts a shard
    in place is a copy and a delete, not atomic: a build killed between
    the two leaves the complete shard and its temporary copy beside it. A
    `ram://` path (TensorFlow's in-memory filesystem, private to a process)
    is built in this process only: `num_processes` is then 1 (a larger
    one is lowered to 1, with a note when `verbose`).

    Returns a dict with `files`, `examples`, `tokens`, `seconds` and
    `tokens_per_second` (over the shards built by this call).
    """
    if file_system.exists(output_dir) and not file_system.isdir(output_dir):
        raise ValueError(
            f"'{output_dir}' is a file: give a folder for the shards."
        )
    for name, value in (
        ("sequence_length", sequence_length),
        ("num_shards", num_shards),
    ):
        if int(value) < (8 if name == "sequence_length" else 1):
            raise ValueError(
                f"--{name.replace('_', '-')} {value} is too small "
                f"({'8 or more' if name == 'sequence_length' else '1 or more'}"
                ")."
            )
    from keras_electra.tokenizers.electra_tokenizer import read_vocabulary_file

    documents = as_documents(inputs)
    if documents is not None:
        documents.check(text_field)
        files = documents
    else:
        files = expand_inputs(inputs, text_field)
    read_vocabulary_file(vocabulary_file)  # checked before any work
    file_system.makedirs(output_dir, exist_ok=True)
    opts = {
        "lowercase": bool(lowercase),
        "strip_accents": bool(strip_accents),
        "blank_lines_separate_documents": bool(blank_lines_separate_documents),
    }
    manifest = _manifest(
        files, vocabulary_file, sequence_length, num_shards, seed, opts
    )
    if documents is not None or uses_text_field(files):
        manifest["text_field"] = text_field
    manifest_path = file_system.join(output_dir, MANIFEST)
    if file_system.exists(manifest_path):
        with file_system.open_file(manifest_path, encoding="utf-8") as f:
            previous = json.load(f)
        if previous != manifest or (documents is not None and overwrite):
            if not overwrite:
                raise ValueError(
                    f"'{output_dir}' holds shards built from other inputs or "
                    "settings (see its manifest.json). Choose another folder "
                    "or pass overwrite=True (--overwrite) to rebuild."
                )
            for name in file_system.listdir(output_dir):
                if name.startswith("shard-"):
                    file_system.remove(file_system.join(output_dir, name))
    with file_system.open_file(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)

    paths = [
        file_system.join(output_dir, shard_name(i, num_shards))
        for i in range(num_shards)
    ]
    damaged = shard_problems(
        [p for p in paths if file_system.exists(p)], checksums=True
    )
    for path in damaged:
        file_system.remove(path)
    if verbose and damaged:
        print(describe_problems(damaged).split(". Run")[0] + "; rebuilding.")
    todo = [i for i, path in enumerate(paths) if not file_system.exists(path)]
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
            text_field=text_field,
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
        if processes > 1 and _in_memory(files, output_dir, vocabulary_file):
            # Worker processes do not see this process' ram:// files.
            if verbose and num_processes:
                print(
                    f"num_processes={num_processes} lowered to 1: ram:// "
                    "files live in this process' memory, which worker "
                    "processes do not see."
                )
            processes = 1
        if documents is not None:
            results = _build_shards_from_documents(documents, jobs)
            for done, result in enumerate(results, start=1):
                _accumulate(totals, result, progress, done, start)
        elif processes > 1:
            from keras_electra.utils.backend_setup import start_quiet_worker

            context = multiprocessing.get_context("spawn")
            with context.Pool(
                processes,
                initializer=start_quiet_worker,
                initargs=(show_backend_logs,),
            ) as pool:
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
            file_system.join(output_dir, shard_name(i, num_shards))
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


def _in_memory(files, output_dir, vocabulary_file):
    """Whether a path of the build is on `ram://`, which only this process
    sees."""
    paths = [output_dir, vocabulary_file]
    if not isinstance(files, Documents):
        paths.extend(files)
    return any(file_system.is_in_memory(path) for path in paths)


def _accumulate(totals, result, progress, done, start):
    totals["examples"] += result["examples"]
    totals["tokens"] += result["tokens"]
    rate = totals["tokens"] / max(time.time() - start, 1e-9)
    progress.update(done, values=[("tokens/s", rate)])


def _job_tokenizer(job):
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    return ElectraTokenizer(
        vocabulary=job["vocabulary_file"],
        lowercase=job["lowercase"],
        strip_accents=job["strip_accents"],
    )


def _shard_paths(job):
    """A job's shard and the temporary file it is written to."""
    name = shard_name(job["index"], job["num_shards"])
    path = file_system.join(job["output_dir"], name)
    return path, f"{path}.tmp-{os.getpid()}"


def _segment_examples(job, tokenizer, segment, g, stats):
    """The examples of shard `job["index"]` from segment (or chunk) `g`."""
    index, num_shards = job["index"], job["num_shards"]
    return iter_examples(
        [segment],
        tokenizer,
        job["sequence_length"],
        seed=job["seed"] * 100_003 + index * 1_009 + int(g),
        document_filter=lambda j: (int(g) + j) % num_shards == index,
        blank_lines_separate_documents=job["blank_lines_separate_documents"],
        on_decode_error=job["on_decode_error"],
        stats=stats,
        text_field=job["text_field"],
    )


def _finish_shard(path, tmp, examples):
    """Rename a written shard into place, its record beside it (atomic
    renames on a local disk; copies and deletes on an object store)."""
    # The shard's size, checksum and record count beside it, written first:
    # a shard without its record is rebuilt, a damaged one is named.
    record = {
        "bytes": file_system.getsize(tmp),
        "sha256": _sha256(tmp),
        "records": examples,
    }
    with file_system.open_file(f"{tmp}.json", "w", encoding="utf-8") as f:
        json.dump(record, f)
    file_system.replace(f"{tmp}.json", path + CHECK_SUFFIX)
    file_system.replace(tmp, path)


def _build_one_shard(job):
    """Worker: build one shard (runs in a fresh process under `spawn`)."""
    import tensorflow as tf

    tokenizer = _job_tokenizer(job)
    path, tmp = _shard_paths(job)
    stats = {}
    examples = 0
    segments = file_segments(job["files"], SEGMENT_BYTES)
    order = np.random.default_rng([job["seed"], job["index"]]).permutation(
        len(segments)
    )
    with tf.io.TFRecordWriter(tmp) as writer:
        for g in order:
            for example in _segment_examples(
                job, tokenizer, segments[g], g, stats
            ):
                writer.write(serialize_example(example))
                examples += 1
    _finish_shard(path, tmp, examples)
    return {"examples": examples, "tokens": stats.get("tokens", 0)}


def _build_shards_from_documents(documents, jobs):
    """Build the shards of `jobs` at once from texts given in Python, read
    once in this process in chunks of about `SEGMENT_BYTES` (chunk `g`
    standing for segment `g`); each shard is written in the chunks'
    order."""
    import tensorflow as tf

    tokenizer = _job_tokenizer(jobs[0])
    paths = [_shard_paths(job) for job in jobs]
    stats = [{} for _ in jobs]
    examples = [0] * len(jobs)
    first = jobs[0]
    chunks = documents.chunks(
        SEGMENT_BYTES, first["on_decode_error"], first["text_field"]
    )
    with contextlib.ExitStack() as stack:
        writers = [
            stack.enter_context(tf.io.TFRecordWriter(tmp)) for _, tmp in paths
        ]
        for g, chunk in enumerate(chunks):
            chunk = Documents(chunk, documents.name)
            for i, job in enumerate(jobs):
                for example in _segment_examples(
                    job, tokenizer, chunk, g, stats[i]
                ):
                    writers[i].write(serialize_example(example))
                    examples[i] += 1
    for (path, tmp), count in zip(paths, examples):
        _finish_shard(path, tmp, count)
    return [
        {"examples": count, "tokens": stat.get("tokens", 0)}
        for count, stat in zip(examples, stats)
    ]


def _sha256(path):
    digest = hashlib.sha256()
    with file_system.open_file(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shard_problems(files, checksums=False):
    """`{shard: what is wrong}` for shards whose size (and, with
    `checksums`, content) differs from what `build_shards` recorded beside
    them. Shards of older builds, without a record, are taken as they are.
    """
    problems = {}
    for path in files:
        check = path + CHECK_SUFFIX
        if not file_system.isfile(check):
            continue
        try:
            with file_system.open_file(check, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            problems[path] = "its record (.json beside it) is unreadable"
            continue
        size = file_system.getsize(path)
        if size != record["bytes"]:
            problems[path] = (
                f"{size:,} bytes where {record['bytes']:,} were written"
            )
        elif checksums and _sha256(path) != record["sha256"]:
            problems[path] = "its content differs from what was written"
    return problems


def describe_problems(problems):
    """One sentence naming damaged shards and the fix."""
    names = [
        f"{os.path.basename(path)} ({why})" for path, why in problems.items()
    ]
    folder = os.path.dirname(next(iter(problems)))
    return (
        f"Damaged shard(s) in '{folder}': {'; '.join(names)}. Run "
        "`keras-electra build-data` again with the same arguments: it "
        "rebuilds only the damaged shards."
    )


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


def shard_files(path):
    """The shard files of a folder built by `build_shards` (or a glob),
    local or a URL."""
    if file_system.isdir(path):
        files = sorted(
            file_system.glob(file_system.join(path, "shard-*.tfrecord"))
        )
    else:
        files = sorted(file_system.glob(path))
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


def record_counts(files):
    """The number of records of each shard: from the record `build_shards`
    wrote beside it, or counted by reading the shard (shards of older
    builds, other TFRecord files).

    Example:
    ```python
    from keras_electra.data.shards import record_counts, shard_files

    record_counts(shard_files("shards"))  # [2714, 3048, ...]
    ```
    """
    import tensorflow as tf

    counts = []
    for path in files:
        record = None
        try:
            check = path + CHECK_SUFFIX
            with file_system.open_file(check, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            pass
        if (
            isinstance(record, dict)
            and isinstance(record.get("records"), int)
            and record.get("bytes") == file_system.getsize(path)
        ):
            counts.append(record["records"])
        else:
            counts.append(
                int(
                    tf.data.TFRecordDataset(path).reduce(
                        np.int64(0), lambda n, _: n + 1
                    )
                )
            )
    return counts


class ShardOrder:
    """The order in which `shard_dataset` reads records, for a seed.

    - Epoch `e` takes the shards in a seeded permutation and reads them in
      rounds of `cycle_length` shards side by side (one record of each in
      turn, a finished shard dropping out, as `tf.data`'s `interleave`);
    - the records of all epochs, one after another, are shuffled in
      consecutive blocks of `block` records (each block in its own seeded
      permutation; no shuffle if `block` is 0), then batched.

    Record `p` of the data is thus a function of the seed and the shards'
    record counts: a resumed run goes to its epoch and round without
    reading anything, and reads at most the rest of one round's shards up
    to its place, whatever the position.

    Args:
        files: the shard files.
        seed: int >= 0.
        cycle_length: int. Shards read side by side.
        block: int. Records shuffled together (0: none).

    Example:
    ```python
    import tensorflow as tf
    from keras_electra.data.shards import ShardOrder, shard_files

    order = ShardOrder(shard_files("shards"), seed=0, block=10_000)
    order.epoch_permutation(tf.constant(3, tf.int64))  # epoch 3's shards
    records = order.records(position=123_456)  # from record 123,456 on
    ```
    """

    def __init__(self, files, seed=0, cycle_length=8, block=0):
        if int(seed) < 0:
            raise ValueError(f"`seed` must be 0 or more. Got {seed}.")
        self.files = list(files)
        self.seed = int(seed)
        self.cycle = max(1, min(int(cycle_length), len(self.files)))
        self.block = int(block or 0)

    def epoch_permutation(self, epoch):
        """The shard indices in epoch `epoch`'s order (a tensor; the same
        computation eagerly and inside `tf.data`)."""
        import tensorflow as tf

        seed = tf.stack([tf.constant(self.seed, tf.int64), epoch])
        keys = tf.random.stateless_uniform([len(self.files)], seed=seed)
        return tf.argsort(keys, stable=True)

    def block_permutation(self, block, size):
        """The order of the `size` records of block number `block`."""
        import tensorflow as tf

        seed = tf.stack([tf.constant(-1 - self.seed, tf.int64), block])
        keys = tf.random.stateless_uniform([size], seed=seed)
        return tf.argsort(keys, stable=True)

    def _rounds(self, files):
        """The records of a list of shards, read in rounds."""
        import tensorflow as tf

        cycle = self.cycle

        def read_round(names):
            return tf.data.Dataset.from_tensor_slices(names).interleave(
                tf.data.TFRecordDataset,
                cycle_length=cycle,
                block_length=1,
                num_parallel_calls=cycle,
                deterministic=True,
            )

        return (
            tf.data.Dataset.from_tensor_slices(files)
            .batch(cycle)
            .flat_map(read_round)
        )

    def _epoch(self, epoch):
        import tensorflow as tf

        names = tf.constant(self.files)
        return self._rounds(
            tf.gather(names, self.epoch_permutation(tf.cast(epoch, tf.int64)))
        )

    def records(self, position=0, repeat=True):
        """The serialized records from `position` on (before the block
        shuffle), as a `tf.data.Dataset`."""
        import tensorflow as tf

        epoch = 0
        if position:
            counts = record_counts(self.files)
            size = sum(counts)
            if size == 0:
                raise ValueError(
                    f"The shards ({self.files[0]}, ...) hold no examples."
                )
            epoch, offset = divmod(int(position), size)
        if not repeat and epoch > 0:
            return tf.data.Dataset.from_tensor_slices(
                tf.constant([], tf.string)
            )
        later = tf.data.Dataset.counter(epoch + 1) if repeat else None
        if not position or not offset:
            ds = self._epoch(epoch)
        else:
            ds = self._enter(epoch, offset, counts)
        if later is not None:
            ds = ds.concatenate(later.flat_map(self._epoch))
        return ds

    def _enter(self, epoch, offset, counts):
        """Epoch `epoch` from its record `offset` on."""
        import tensorflow as tf

        order = self.epoch_permutation(tf.constant(epoch, tf.int64)).numpy()
        files = [self.files[i] for i in order]
        counts = [counts[i] for i in order]
        cycle = self.cycle
        start = 0
        while True:  # the round holding `offset`
            size = sum(counts[start : start + cycle])
            if offset < size:
                break
            offset -= size
            start += cycle
        names = files[start : start + cycle]
        level, emitted = _round_place(counts[start : start + cycle], offset)
        # The rest of the current turn (the shards still to give their
        # record `level`), then the next turns over the whole round.
        turn = [
            name
            for name, count in zip(names, counts[start : start + cycle])
            if count > level
        ][emitted:]
        head = tf.data.Dataset.from_tensor_slices(turn).flat_map(
            lambda name: tf.data.TFRecordDataset(name).skip(level).take(1)
        )
        tail = tf.data.Dataset.from_tensor_slices(names).interleave(
            lambda name: tf.data.TFRecordDataset(name).skip(level + 1),
            cycle_length=cycle,
            block_length=1,
            num_parallel_calls=cycle,
            deterministic=True,
        )
        ds = head.concatenate(tail)
        rest = files[start + cycle :]
        if rest:
            ds = ds.concatenate(self._rounds(tf.constant(rest)))
        return ds


def _round_place(counts, offset):
    """Where record `offset` of a round falls: the turn (`level`: every
    shard gives its record `level`) and how many shards already gave it."""
    counts = np.asarray(counts, "int64")
    low, high = 0, int(counts.max())
    while low < high:  # the last turn starting at or before `offset`
        middle = (low + high + 1) // 2
        if np.minimum(counts, middle).sum() <= offset:
            low = middle
        else:
            high = middle - 1
    return low, int(offset - np.minimum(counts, low).sum())


def shard_dataset(
    path,
    batch_size,
    sequence_length=None,
    shuffle_buffer=10_000,
    seed=0,
    repeat=True,
    skip_batches=0,
    cycle_length=8,
):
    """Stream shards into `fit`: read side by side, shuffle, repeat, batch.

    Records are read `cycle_length` shards at a time in a seeded order of
    the shards per epoch, shuffled in blocks of `shuffle_buffer` records,
    batched, and only then parsed (`tf.io.parse_example` on whole batches:
    a fraction of the work of parsing records one by one). The order
    (`ShardOrder`) is a deterministic function of `seed`, and
    `skip_batches` enters it at that batch without reading the batches
    before (from the shards' record counts, written beside them by
    `build_shards`), so a resumed run starts as fast at any step.

    Args:
        path: a folder of shards, or a glob of TFRecord files (local or
            a URL: `gs://bucket/shards`).
        batch_size: int.
        sequence_length: int or None. Checked against the shards'.
        shuffle_buffer: int. Records shuffled together (0: no shuffle).
        seed: int >= 0. The order of the data.
        repeat: bool. Read the shards again and again (else once).
        skip_batches: int. Start at this batch (a resumed run).
        cycle_length: int. Shards read side by side.

    Example:
    ```python
    from keras_electra.data import build_shards, shard_dataset

    with open("corpus.txt", "w") as f:
        f.write("the quick brown fox.\nthe lazy dog.\n\nthe fox.\n" * 50)
    with open("vocab.txt", "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                           "the", "quick", "brown", "fox", "lazy", "dog",
                           "."]))
    build_shards("corpus.txt", "shards", "vocab.txt", sequence_length=16,
                 num_shards=2, num_processes=1, verbose=False)
    ds = shard_dataset("shards", batch_size=4, shuffle_buffer=32)
    next(iter(ds))["token_ids"].shape  # (4, 16)
    ```
    """
    import tensorflow as tf

    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be 1 or more. Got {batch_size}.")
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
    order = ShardOrder(files, seed, cycle_length, shuffle_buffer)
    start = int(skip_batches) * int(batch_size)
    block = order.block
    if block:
        first = start // block
        offset = start - first * block
        records = order.records(first * block, repeat).batch(block)

        def shuffle(number, records):
            size = tf.shape(records, out_type=tf.int64)[0]
            records = tf.gather(records, order.block_permutation(number, size))
            return records[tf.where(number == first, offset, 0) :]

        ds = records.enumerate(start=first).map(shuffle)
        ds = ds.rebatch(int(batch_size), drop_remainder=True)
    else:
        ds = order.records(start, repeat).batch(
            int(batch_size), drop_remainder=True
        )
    ds = ds.map(
        lambda records: to_model_inputs(tf.io.parse_example(records, spec)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
