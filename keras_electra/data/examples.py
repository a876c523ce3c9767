"""Raw text -> pre-training examples -> tf.data.

`iter_examples` packs documents into examples as the reference does, one
sentence at a time (what `build-data` writes into shards); `text_dataset`
tokenizes on the fly inside `tf.data` and mixes the corpus as it reads it,
in an order that a resumed run enters without reading what came before.
"""

import hashlib
import itertools
import json
import os
import re
import time
import weakref

import numpy as np

from keras_electra.data.documents import READ_AGAIN
from keras_electra.data.documents import Documents
from keras_electra.data.documents import as_documents
from keras_electra.data.example_builder import ExampleBuilder
from keras_electra.data.text import CorpusError
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import file_segments
from keras_electra.data.text import iter_documents
from keras_electra.data.text import text_bytes
from keras_electra.data.text import uses_text_field
from keras_electra.utils import file_system

FEATURES = ("input_ids", "input_mask", "segment_ids")
# The names the models take, for the same arrays.
MODEL_INPUTS = {
    "input_ids": "token_ids",
    "input_mask": "padding_mask",
    "segment_ids": "segment_ids",
}
TOKENIZE_BATCH = 4096
SEGMENT_BYTES = 1 << 20
# `text_dataset` keeps the examples of a corpus up to this size in memory.
CACHE_BYTES = 256 << 20


def iter_examples(
    files,
    tokenizer,
    sequence_length,
    seed=0,
    document_filter=None,
    blank_lines_separate_documents=True,
    on_decode_error="stop",
    stats=None,
    text_field="text",
):
    """Yield packed examples (dicts of int32 arrays) from a corpus.

    `files` is what `iter_documents` reads: files or segments (in any
    format of `corpus_formats`; `text_field` names the JSON lines field or
    Parquet column), or texts given in Python (`Documents`, one document
    each). Sentences are tokenized in large batches (one tokenizer call per
    `TOKENIZE_BATCH` sentences), which is what makes Python-side building
    fast. `document_filter(index)` selects documents (used for sharding).
    `stats`, a dict, receives `documents`, `sentences` and `tokens` counts.
    """
    builder = _builder(tokenizer, sequence_length, seed)
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
        text_field=text_field,
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


def _builder(tokenizer, sequence_length, seed):
    ids = tokenizer.pretrainer_token_ids()
    return ExampleBuilder(
        sequence_length,
        cls_token_id=ids["cls_token_id"],
        sep_token_id=ids["sep_token_id"],
        pad_token_id=ids["pad_token_id"],
        seed=seed,
    )


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


def _compact(arrays, dtype):
    """Packed examples as `(ids, used, second)`: the ids, and per example
    its length and where segment B starts (its length if it has none)."""
    mask = arrays["input_mask"]
    segments = arrays["segment_ids"]
    used = mask.sum(axis=1).astype("int32")
    second = np.where(
        segments.any(axis=1), segments.argmax(axis=1), used
    ).astype("int32")
    return arrays["input_ids"].astype(dtype), used, second


def _stack(examples, sequence_length):
    """Example dicts -> one dict of `[count, sequence_length]` arrays."""
    if not examples:
        return {
            name: np.zeros((0, sequence_length), "int32") for name in FEATURES
        }
    return {
        name: np.stack([example[name] for example in examples])
        for name in FEATURES
    }


class TextOrder:
    """Where each example of `text_dataset` comes from, for a seed.

    The files are cut into segments of about `segment_bytes`
    (`file_segments`: byte ranges of text and plain JSON lines, runs of
    Parquet row groups; a compressed file is one segment, whatever its
    size). A segment always packs into the same examples
    (`ExampleBuilder` seeded by the seed and the segment), so every epoch
    has the same examples; the order changes with the epoch:

    - epoch `e` reads the segments in a seeded permutation, `streams` of
      them side by side, each next example taken from an open stream drawn
      at random (a finished stream is replaced by the next segment);
    - the stream of all epochs, one after another, is then shuffled in
      consecutive blocks of `block` examples (each block in its own seeded
      permutation; no shuffle if `block` is 0).

    So position `p` of the data is a function of the seed and of how many
    examples each segment packs into: counting those is all a resumed run
    has to do to enter the data at any batch (at most one pass of
    tokenization over the corpus, whatever the position), instead of
    re-reading every example that came before.

    Args:
        files: the text files (see `expand_inputs`).
        seed: int >= 0.
        streams: int. How many segments are read side by side.
        segment_bytes: int. The size of the segments.
        block: int. The examples shuffled together (0: none).

    Example:
    ```python
    from keras_electra.data.examples import TextOrder

    with open("corpus.txt", "w") as f:
        f.write("one document\n\nanother one\n" * 1000)
    order = TextOrder(["corpus.txt"], seed=0, segment_bytes=4096)
    len(order.segments)  # 7 segments of about 4 KiB
    order.queue(epoch=0)  # the order epoch 0 opens them
    order.queue(epoch=1)  # another order
    ```
    """

    # Random numbers drawn at a time to pick streams.
    DRAWS = 4096

    def __init__(
        self, files, seed=0, streams=16, segment_bytes=SEGMENT_BYTES, block=0
    ):
        if int(seed) < 0:
            raise ValueError(f"`seed` must be 0 or more. Got {seed}.")
        if int(streams) < 1:
            raise ValueError(f"`streams` must be 1 or more. Got {streams}.")
        self.files = list(files)
        self.seed = int(seed)
        self.streams = int(streams)
        self.block = int(block or 0)
        self.segments = file_segments(self.files, segment_bytes)
        self.counts = {}  # segment -> examples, as they become known

    def text_bytes(self):
        """About how many bytes of text the corpus holds."""
        return text_bytes(self.files)

    def builder_seed(self, segment):
        """The packing seed of a segment (the same in every epoch)."""
        state = np.random.SeedSequence([self.seed, 2, int(segment)])
        return int(state.generate_state(1)[0])

    def queue(self, epoch):
        """The segments in the order epoch `epoch` opens them."""
        return self._rng(epoch).permutation(len(self.segments)).tolist()

    def _rng(self, epoch):
        return np.random.default_rng([self.seed, 0, int(epoch)])

    def block_permutation(self, block, size):
        """The order of the `size` examples of block number `block`."""
        rng = np.random.default_rng([self.seed, 1, int(block)])
        return rng.permutation(size)

    def mixer(self, epoch, open_segment):
        """Epoch `epoch`'s mixer; `open_segment(g)` returns the example count
        of segment `g` when the mixer opens it."""
        return _Mixer(self, epoch, open_segment)


class _Mixer:
    """One epoch of `TextOrder`: `take(n)` returns the next `(segments,
    rows)` pairs, fewer than `n` only once the epoch ends."""

    def __init__(self, order, epoch, open_segment):
        self.epoch = epoch
        self.open_segment = open_segment
        self._streams = order.streams
        self._rng = order._rng(epoch)
        self.queue = self._rng.permutation(len(order.segments)).tolist()
        self.next = 0  # in `queue`
        self.active = None  # [segment, next row, count] per open stream
        self.produced = 0  # examples taken so far
        self._draws = []
        self._used = 0

    def _open_next(self):
        while self.next < len(self.queue):
            segment = self.queue[self.next]
            self.next += 1
            count = self.open_segment(segment)
            if count:
                return [segment, 0, count]
        return None

    @property
    def done(self):
        return self.active is not None and not self.active

    def take(self, n):
        if self.active is None:
            self.active = []
            while len(self.active) < self._streams:
                stream = self._open_next()
                if stream is None:
                    break
                self.active.append(stream)
        active = self.active
        segments, rows = [], []
        while len(segments) < n and active:
            if self._used == len(self._draws):
                self._draws = self._rng.random(TextOrder.DRAWS).tolist()
                self._used = 0
            index = int(self._draws[self._used] * len(active))
            self._used += 1
            stream = active[index]
            segments.append(stream[0])
            rows.append(stream[1])
            stream[1] += 1
            if stream[1] == stream[2]:
                replacement = self._open_next()
                if replacement is None:
                    active.pop(index)
                else:
                    active[index] = replacement
        self.produced += len(segments)
        return segments, rows

    def pending(self):
        """The segments still to load, in the order this mixer needs them:
        its open streams, then the rest of its queue."""
        active = self.active or []
        return [stream[0] for stream in active] + self.queue[self.next :]


def segment_documents(
    segment,
    blank_lines_separate_documents=True,
    on_decode_error="stop",
    text_field="text",
):
    """The sentences of a `(path, start, end)` segment (or a `Documents`),
    and the number of sentences of each of its documents."""
    sentences, sizes = [], []
    for document in iter_documents(
        [segment],
        blank_lines_separate_documents=blank_lines_separate_documents,
        on_decode_error=on_decode_error,
        text_field=text_field,
    ):
        sentences.extend(document)
        sizes.append(len(document))
    return sentences, sizes


_GRAPH_TOKENIZERS = weakref.WeakKeyDictionary()


def _graph_tokenizer(tokenizer):
    """`tokenizer` as one `tf.function` of a batch of sentences -> (ids,
    lengths), traced once per tokenizer (each `tf.data` map then calls it
    instead of tracing the tokenizer's graph again)."""
    import tensorflow as tf

    if tokenizer not in _GRAPH_TOKENIZERS:
        layer = weakref.ref(tokenizer)  # the cache must not keep it alive

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def tokenize(sentences):
            ragged = layer()(sentences)
            return tf.cast(ragged.flat_values, "int32"), ragged.row_lengths()

        _GRAPH_TOKENIZERS[tokenizer] = tokenize
    return _GRAPH_TOKENIZERS[tokenizer]


class _Segments:
    """The packed examples (or only the counts) of segments, in a given
    order, as `(ids, used, second)` (see `_compact`).

    `graph=True` reads each segment's sentences in Python, tokenizes them
    with the tokenizer's TensorFlow graph in a parallel `tf.data` map and
    packs them with `ExampleBuilder.pack_documents`; `graph=False` runs
    `iter_examples` (the Python tokenizer, one sentence at a time): the
    reference the graph path is tested against.
    """

    def __init__(
        self,
        order,
        tokenizer,
        sequence_length,
        on_decode_error,
        graph,
        text_field="text",
    ):
        self.order = order
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.on_decode_error = on_decode_error
        self.graph = graph
        self.text_field = text_field
        small = tokenizer.vocabulary_size() <= np.iinfo("uint16").max + 1
        self.dtype = "uint16" if small else "int32"

    def _pack(self, segment, token_ids, lengths, sizes, count_only):
        builder = _builder(
            self.tokenizer,
            self.sequence_length,
            self.order.builder_seed(segment),
        )
        if count_only:
            return builder.count_examples(lengths, sizes)
        arrays = builder.pack_documents(token_ids, lengths, sizes)
        return _compact(arrays, self.dtype)

    def iterate(self, segments, count_only=False):
        """Yield `(segment, (ids, used, second))`, or `(segment, count)`,
        for each of `segments` (an iterable, read as needed)."""
        if not self.graph:
            for segment in segments:
                examples = list(
                    iter_examples(
                        [self.order.segments[segment]],
                        self.tokenizer,
                        self.sequence_length,
                        seed=self.order.builder_seed(segment),
                        on_decode_error=self.on_decode_error,
                        text_field=self.text_field,
                    )
                )
                if count_only:
                    yield segment, len(examples)
                else:
                    arrays = _stack(examples, self.sequence_length)
                    yield segment, _compact(arrays, self.dtype)
            return
        import tensorflow as tf

        iterator = iter(self._graph_dataset(segments, count_only))
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except tf.errors.OpError as error:
                raise _unwrap(error) from None
            segment = int(item[0])
            if count_only:
                yield segment, int(item[1])
            else:
                yield segment, tuple(np.asarray(x) for x in item[1:])

    def _graph_dataset(self, segments, count_only):
        import tensorflow as tf

        length = self.sequence_length
        segments = iter(segments)
        tokenize = _graph_tokenizer(self.tokenizer)

        def read(segment):
            sentences, sizes = segment_documents(
                self.order.segments[int(segment)],
                on_decode_error=self.on_decode_error,
                text_field=self.text_field,
            )
            return (
                np.array(sentences, dtype=object).reshape(-1),
                np.array(sizes, "int64").reshape(-1),
            )

        def read_graph(segment):
            sentences, sizes = tf.numpy_function(
                read, [segment], [tf.string, tf.int64]
            )
            return segment, tf.ensure_shape(sentences, [None]), sizes

        def tokenize_graph(segment, sentences, sizes):
            return (segment,) + tuple(tokenize(sentences)) + (sizes,)

        def pack(segment, ids, lengths, sizes):
            result = self._pack(int(segment), ids, lengths, sizes, count_only)
            return np.int64(result) if count_only else result

        def pack_graph(segment, ids, lengths, sizes):
            inputs = [segment, ids, lengths, sizes]
            if count_only:
                count = tf.numpy_function(pack, inputs, tf.int64)
                return segment, tf.ensure_shape(count, [])
            ids, used, second = tf.numpy_function(
                pack, inputs, [tf.as_dtype(self.dtype), tf.int32, tf.int32]
            )
            return (
                segment,
                tf.ensure_shape(ids, [None, length]),
                tf.ensure_shape(used, [None]),
                tf.ensure_shape(second, [None]),
            )

        parallel = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = tf.data.Dataset.from_generator(
            lambda: segments, output_signature=tf.TensorSpec([], tf.int64)
        )
        ds = ds.map(read_graph, **parallel)
        ds = ds.map(tokenize_graph, **parallel)
        ds = ds.map(pack_graph, **parallel)
        return _with_own_threads(ds.prefetch(2))


def _with_own_threads(ds, threads=None):
    """The dataset on its own thread pool: a pipeline read from inside
    another's Python function must not wait for the threads its reader
    holds."""
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = threads or max(
        2, os.cpu_count() or 1
    )
    return ds.with_options(options)


def _unwrap(error):
    """A `CorpusError` raised inside a `tf.data` function, as itself."""
    found = re.search(r"CorpusError: (.+)", str(error))
    if found:
        return CorpusError(found.group(1).strip())
    return error


def _counter(order, segments, source, cache, counts_file=None):
    """`open_segment` for a mixer that only counts: counts come from the
    known ones or from `source`, reading `segments` ahead in order (whole
    examples into `cache` if it is a dict, else only their counts), and
    go to `counts_file` (a `_CountsFile`) if given."""
    pending = {}
    iterator = None

    def count(segment):
        nonlocal iterator
        if segment in order.counts:
            return order.counts[segment]
        if iterator is None:
            iterator = source.iterate(
                (g for g in segments if g not in order.counts),
                count_only=cache is None,
            )
        while segment not in pending:
            got, value = next(iterator)
            if cache is not None:
                cache[got] = value
                value = len(value[0])
            pending[got] = value
            order.counts[got] = value
            if counts_file is not None:
                counts_file.save(order.counts)
        return pending.pop(segment)

    return count


SAVE_SECONDS = 5.0


class _CountsFile:
    """The example counts of a corpus' segments, kept in a JSON file so
    that a resumed run skips even the counting pass. The file names what
    the counts depend on (the files' sizes and times, the tokenizer, the
    length, the seed); counts of anything else are ignored."""

    def __init__(self, path, source):
        self.path = path
        order, tokenizer = source.order, source.tokenizer
        identity = {
            "files": [
                [
                    file_system.abspath(f),
                    file_system.getsize(f),
                    file_system.getmtime(f),
                ]
                for f in order.files
            ],
            "segments": len(order.segments),
            "sequence_length": source.sequence_length,
            "seed": order.seed,
            "on_decode_error": source.on_decode_error,
            "tokenizer": {
                **tokenizer.get_config(),
                "vocabulary": tokenizer.get_vocabulary(),
            },
        }
        if uses_text_field(order.files):
            identity["text_field"] = source.text_field
        text = json.dumps(identity, sort_keys=True, default=str)
        self.key = hashlib.sha256(text.encode()).hexdigest()
        self.total = len(order.segments)
        self.saved = 0
        self.when = 0.0

    def load(self, counts):
        try:
            with file_system.open_file(self.path, encoding="utf-8") as f:
                stored = json.load(f)
        except (OSError, ValueError):
            return
        if isinstance(stored, dict) and stored.get("key") == self.key:
            counts.update({int(g): int(n) for g, n in stored["counts"].items()})
            self.saved = len(counts)

    def save(self, counts):
        """Write the counts (atomically) once all are known, and every
        `SAVE_SECONDS` while some are new."""
        new = len(counts) > self.saved
        complete = len(counts) == self.total
        if not new or (
            not complete and time.monotonic() - self.when < SAVE_SECONDS
        ):
            return
        self.when = time.monotonic()
        snapshot = dict(counts)
        # A hidden temporary beside the file (a run folder knows such
        # names as partial writes), renamed over it (atomically on a local
        # disk; a copy and a delete on an object store: `file_system`).
        folder, name = os.path.split(self.path)
        tmp = file_system.join(folder, f".{name}.tmp-{os.getpid()}-{id(self)}")
        with file_system.open_file(tmp, "w", encoding="utf-8") as f:
            json.dump({"key": self.key, "counts": snapshot}, f)
        file_system.replace(tmp, self.path)
        self.saved = len(snapshot)


def _locate(order, source, position, repeat, cache, counts_file=None):
    """A mixer advanced to `position` (in the stream before the block
    shuffle), or None when the data ends before it."""
    count = _counter(order, order.queue(0), source, cache, counts_file)
    mixer = order.mixer(0, count)
    taken = 0
    while taken < position and not mixer.done:
        taken += len(mixer.take(min(position - taken, 1 << 16))[0])
    if taken == position:
        return mixer
    # Epoch 0 ended first: every count is known, and so is the epoch size.
    size = sum(order.counts.values())
    if size == 0:
        raise _no_examples(order)
    if not repeat:
        return None
    epoch, rest = divmod(position, size)
    mixer = order.mixer(epoch, order.counts.__getitem__)
    while rest:
        rest -= len(mixer.take(min(rest, 1 << 16))[0])
    return mixer


def _no_examples(order):
    return CorpusError(
        f"The corpus ({', '.join(order.files)}) packs into no examples: "
        "its text is empty once tokenized."
    )


def _gather(arrays, segments, rows):
    """The examples at `(segments[i], rows[i])`, as `(ids, used,
    second)`."""
    segments = np.asarray(segments, "int64")
    rows = np.asarray(rows, "int64")
    parts = [None] * 3
    for segment in np.unique(segments):
        where = np.flatnonzero(segments == segment)
        stored = arrays[int(segment)]
        for i, array in enumerate(stored):
            if parts[i] is None:
                shape = (len(rows),) + array.shape[1:]
                parts[i] = np.empty(shape, array.dtype)
            parts[i][where] = array[rows[where]]
    return tuple(parts)


def _model_inputs(ids, used, second):
    """`(ids, used, second)` -> the models' int32 inputs."""
    positions = np.arange(ids.shape[1])
    mask = positions < used[:, None]
    return {
        "token_ids": ids.astype("int32"),
        "segment_ids": (mask & (positions >= second[:, None])).astype("int32"),
        "padding_mask": mask.astype("int32"),
    }


def _whole_batches(carry, examples, batch_size):
    """Yield the whole batches of model inputs in `carry` (what the last
    block left, or None) followed by `examples`; return what is left."""
    if carry is not None:
        examples = tuple(
            np.concatenate([c, x]) for c, x in zip(carry, examples)
        )
    count = len(examples[0])
    end = count - count % batch_size
    for i in range(0, end, batch_size):
        yield _model_inputs(*(x[i : i + batch_size] for x in examples))
    return tuple(x[end:] for x in examples)


def _text_batches(
    source, batch_size, skip_batches=0, repeat=True, cache=0, counts_file=None
):
    """Yield the batches of `text_dataset` (dicts of numpy arrays), from
    batch `skip_batches` on. `source` is a `_Segments`; `cache` the corpus
    size (bytes) up to which its examples are kept after their first use;
    `counts_file` a path where the segments' example counts are kept."""
    order = source.order
    if counts_file is not None:
        counts_file = _CountsFile(counts_file, source)
        counts_file.load(order.counts)
    size = order.text_bytes()
    # Every epoch has the same examples: a small corpus keeps them.
    cached = {} if size <= cache else None
    block = order.block or 4096
    start = int(skip_batches) * int(batch_size)
    first = start // block * block if order.block else start
    offset = start - first
    mixer = _locate(order, source, first, repeat, cached, counts_file)
    if mixer is None:
        return
    arrays = cached if cached is not None else {}
    first_segments, epoch = mixer.pending(), mixer.epoch
    seen = set(arrays)

    def queued(epoch=epoch):
        """The segments to load, in the order the mixers will need them
        (each once only, when their examples are kept)."""
        segments = first_segments
        while True:
            for segment in segments:
                if cached is not None:
                    if segment in seen:
                        continue
                    seen.add(segment)
                yield segment
            if not repeat or len(seen) == len(order.segments):
                return
            epoch += 1
            segments = order.queue(epoch)

    loaded = source.iterate(queued())

    def load(segment):
        if cached is None or segment not in cached:
            got, data = next(loaded)
            if got != segment:  # the order of loading is the mixer's
                raise RuntimeError(f"Read segment {got}, not {segment}.")
            arrays[segment] = data
            order.counts[segment] = len(data[0])
            if counts_file is not None:
                counts_file.save(order.counts)
        return order.counts[segment]

    for stream in mixer.active or []:
        load(stream[0])
    mixer.open_segment = load
    number = first // block
    carry = None
    while True:
        segments, rows = [], []
        while len(segments) < block:
            got, more = mixer.take(block - len(segments))
            segments += got
            rows += more
            if not mixer.done:
                continue
            if not repeat:
                break
            if not mixer.produced:  # every epoch holds the same examples
                raise _no_examples(order)
            mixer = order.mixer(mixer.epoch + 1, load)
        if len(segments) <= offset:  # the data ends before the start
            return
        segments, rows = np.asarray(segments), np.asarray(rows)
        if order.block:
            permutation = order.block_permutation(number, len(segments))
            segments, rows = segments[permutation], rows[permutation]
        # The block, compact (the model inputs are made batch by batch).
        examples = _gather(arrays, segments[offset:], rows[offset:])
        offset = 0
        if cached is None:
            open_now = {stream[0] for stream in mixer.active or []}
            for segment in list(arrays):
                if segment not in open_now:
                    del arrays[segment]
        carry = yield from _whole_batches(carry, examples, batch_size)
        number += 1


def mixed_examples(
    files,
    tokenizer,
    sequence_length,
    seed=0,
    streams=16,
    segment_bytes=SEGMENT_BYTES,
    on_decode_error="stop",
    epoch=0,
):
    """Yield one epoch of examples from the whole corpus at once, not file
    by file: the order of `text_dataset` before its block shuffle, built
    with the Python tokenizer (`iter_examples`, one segment at a time).

    The files are cut into byte segments of about `segment_bytes`
    (`file_segments`), the segments are shuffled with `seed` and `epoch`,
    and `streams` of them are read side by side, each next example coming
    from a stream drawn at random (see `TextOrder`). Without this, a corpus
    made of several files (or one file ordered by date or topic) reaches
    training one file after another, and the model sees a sudden change of
    domain partway through the run (visible as a jump of the generator's
    loss).
    """
    order = TextOrder(files, seed, streams, segment_bytes)
    source = _Segments(
        order, tokenizer, sequence_length, on_decode_error, graph=False
    )
    arrays = {}
    loaded = source.iterate(order.queue(epoch))

    def load(segment):
        arrays[segment] = next(loaded)[1]
        return len(arrays[segment][0])

    mixer = order.mixer(epoch, load)
    while not mixer.done:
        segments, rows = mixer.take(1024)
        if not segments:
            return
        batch = _model_inputs(*_gather(arrays, segments, rows))
        for i in range(len(segments)):
            yield {name: batch[MODEL_INPUTS[name]][i] for name in FEATURES}


class _DocumentOrder(TextOrder):
    """`TextOrder` for texts given in Python, read as they come: their
    segments are consecutive chunks of texts (`Documents.chunks`), one
    stream, no permutation; each chunk packs with the seed of its place in
    a pass (so every pass packs into the same examples), and the examples
    are shuffled in blocks as a file corpus' are."""

    def __init__(self, documents, seed=0, block=0):
        if int(seed) < 0:
            raise ValueError(f"`seed` must be 0 or more. Got {seed}.")
        self.files = [documents.name]
        self.seed = int(seed)
        self.streams = 1
        self.block = int(block or 0)
        self.segments = {}  # chunk id -> Documents, while it is read
        self.places = {}  # chunk id -> (pass, chunk of the pass)
        self.counts = {}

    def builder_seed(self, segment):
        return super().builder_seed(self.places[segment][1])


def _document_batches(
    source, documents, batch_size, skip_batches, repeat, chunk_bytes
):
    """Yield the batches of `text_dataset` for texts given in Python
    (`source.order` a `_DocumentOrder`), from batch `skip_batches` on:
    the batches before it are read (and tokenized) and dropped."""
    order = source.order
    block = order.block or 4096
    start = int(skip_batches) * int(batch_size)
    first = start // block * block if order.block else start
    offset = start - first

    def chunk_ids():
        ids = itertools.count()
        for read in itertools.count():
            chunks = documents.chunks(
                chunk_bytes, source.on_decode_error, source.text_field
            )
            for place, chunk in enumerate(chunks):
                chunk_id = next(ids)
                order.segments[chunk_id] = Documents(chunk, documents.name)
                order.places[chunk_id] = (read, place)
                yield chunk_id
            if not repeat:
                return

    def examples():
        """The examples of every pass, in order, from example `first`."""
        made = [0]  # per pass
        skip = first
        for chunk_id, arrays in source.iterate(chunk_ids()):
            read, _ = order.places.pop(chunk_id)
            del order.segments[chunk_id]
            if read == len(made):
                if not made[-1]:  # every pass holds the same examples
                    raise _no_examples(order)
                made.append(0)
            made[-1] += len(arrays[0])
            cut = min(skip, len(arrays[0]))
            skip -= cut
            if cut < len(arrays[0]):
                yield tuple(x[cut:] for x in arrays)
        if not sum(made):
            raise _no_examples(order)

    def blocks():
        parts, size = [], 0
        for arrays in examples():
            parts.append(arrays)
            size += len(arrays[0])
            while size >= block:
                joined = tuple(np.concatenate(x) for x in zip(*parts))
                yield tuple(x[:block] for x in joined)
                parts = [tuple(x[block:] for x in joined)]
                size -= block
        if size:
            yield tuple(np.concatenate(x) for x in zip(*parts))

    number = first // block
    carry = None
    for examples_ in blocks():
        if order.block:
            permutation = order.block_permutation(number, len(examples_[0]))
            examples_ = tuple(x[permutation] for x in examples_)
        examples_ = tuple(x[offset:] for x in examples_)
        offset = 0
        carry = yield from _whole_batches(carry, examples_, batch_size)
        number += 1


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
    streams=16,
    segment_bytes=SEGMENT_BYTES,
    cache_bytes=CACHE_BYTES,
    counts_file=None,
    graph_tokenization=True,
    text_field="text",
):
    """Tokenize text on the fly (no shards), as a `tf.data.Dataset`.

    Each 1 MiB segment of the corpus is read in Python, tokenized by the
    tokenizer's TensorFlow graph in a parallel `tf.data` map, and packed
    into examples exactly as `iter_examples` (Google's packing) packs it;
    `streams` segments are read side by side and the examples shuffled in
    blocks of `shuffle_buffer` (`TextOrder` gives the order). Every epoch
    holds the same examples in a new order, so a corpus of up to
    `cache_bytes` keeps them in memory after their first use and later
    epochs tokenize nothing. The order is a function of `seed` alone, and
    `skip_batches` enters it without reading the batches before: a resumed
    run counts the examples of the corpus' segments (at most one pass of
    tokenization, whatever the position; none with a `counts_file` the
    first run wrote) and then reads only the segments open at that point.

    The batches are dicts of int32 `[batch_size, sequence_length]` arrays:
    `token_ids`, `segment_ids` and `padding_mask`, on any backend.

    Files may be text, text compressed as `.gz`, `.bz2` or `.xz`, JSON
    lines (`.jsonl`, `.json`, compressed too) or Parquet (`corpus_formats`);
    a compressed file is one segment, so a corpus of a few large
    compressed files mixes less than the same text uncompressed.

    Texts given in Python (a generator, any iterable that is not a list or
    tuple, a `tf.data.Dataset` of strings, a `Documents`) are one document
    each and are read as they come, in chunks of about `segment_bytes`
    (one stream: not mixed across the corpus, only shuffled in blocks of
    `shuffle_buffer`). They cannot be entered in the middle:
    `skip_batches` reads (and tokenizes) the batches before and drops
    them, and `counts_file` is not used. `repeat=True` reads them again
    every epoch, so it refuses an iterator (a generator can be read once):
    pass `repeat=False`, or texts that can be read again (a list in
    `Documents`, a `tf.data.Dataset`, or `Documents(function)`, a function
    that returns a new iterator, called once per epoch).

    Args:
        inputs: text files, globs or folders (`expand_inputs`), or texts:
            an iterable of strings (not a list or tuple, which holds
            paths), a `tf.data.Dataset` of string scalars or a
            `Documents`.
        tokenizer: an `ElectraTokenizer`.
        batch_size: int.
        sequence_length: int. The length of the examples.
        seed: int >= 0. The order of the data.
        repeat: bool. Read the corpus again and again (else once).
        shuffle_buffer: int. Examples shuffled together (0: no shuffle).
        skip_batches: int. Start at this batch (a resumed run).
        on_decode_error: `"stop"` or `"skip"` lines that are not UTF-8.
        streams: int. Segments read side by side.
        segment_bytes: int. The size of the segments.
        cache_bytes: int. The largest corpus (in bytes of text) whose
            examples are kept in memory (they take about half the text's
            size; as much with a vocabulary over 65,536 tokens); 0 keeps
            none.
        counts_file: str or None. A JSON file (in the run's folder) where
            the segments' example counts are kept as they become known:
            a resumed run with the same corpus, tokenizer, length and seed
            then enters its position without the counting pass.
        graph_tokenization: bool. `False` tokenizes in Python, one
            sentence at a time (the same batches, several times slower).
        text_field: str. The field of JSON lines records, or the column
            of Parquet files (or the key of dict texts), that holds each
            document's text.

    Example:
    ```python
    import keras_electra
    from keras_electra.data import text_dataset

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "fox"]
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=vocab)
    with open("corpus.txt", "w") as f:
        f.write("the fox\\nthe the fox\\n\\nfox the\\n")
    ds = text_dataset("corpus.txt", tokenizer, batch_size=2,
                      sequence_length=8, shuffle_buffer=4)
    next(iter(ds))["token_ids"].shape  # (2, 8)

    # Texts streamed from elsewhere, one pass (a generator is read once).
    texts = (f"the fox {i}" for i in range(100))
    ds = text_dataset(texts, tokenizer, batch_size=2, sequence_length=8,
                      repeat=False)
    ```
    """
    import tensorflow as tf

    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be 1 or more. Got {batch_size}.")
    documents = as_documents(inputs)
    if documents is not None:
        documents.check(text_field)
        if repeat and not documents.readable_again:
            raise CorpusError(
                f"{documents.name} can be read once, and repeat=True reads "
                "the corpus again every epoch. Pass repeat=False, or "
                f"{READ_AGAIN}"
            )
        order = _DocumentOrder(documents, seed, shuffle_buffer)
    else:
        files = expand_inputs(inputs, text_field)
        order = TextOrder(files, seed, streams, segment_bytes, shuffle_buffer)
    source = _Segments(
        order,
        tokenizer,
        sequence_length,
        on_decode_error,
        graph=graph_tokenization,
        text_field=text_field,
    )
    signature = {
        MODEL_INPUTS[name]: tf.TensorSpec(
            [int(batch_size), int(sequence_length)], tf.int32
        )
        for name in FEATURES
    }
    if documents is not None:

        def batches():
            return _document_batches(
                source,
                documents,
                int(batch_size),
                skip_batches,
                repeat,
                segment_bytes,
            )

    else:

        def batches():
            return _text_batches(
                source,
                int(batch_size),
                skip_batches,
                repeat,
                cache_bytes,
                counts_file,
            )

    ds = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return _with_own_threads(ds.prefetch(tf.data.AUTOTUNE), threads=1)
