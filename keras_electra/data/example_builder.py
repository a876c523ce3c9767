import random

import numpy as np


class ExampleBuilder:
    """Packs tokenized sentences into `[CLS] A [SEP] B [SEP]` examples.

    Same packing as Google's `build_pretraining_dataset.py`:
    - sentences of one document accumulate until they reach the target
      length, then become one example; a document boundary flushes what has
      accumulated, so no example spans two documents;
    - about 10% of examples have a single segment; the others split the
      sentences into A (about half the length) and B;
    - about 5% of examples get a random shorter target length in
      `[5, sequence_length]` (so the model sees short inputs too);
    - overlong segments are cut to fit `sequence_length` with the three
      special tokens.

    Outputs are dicts of int32 arrays of length `sequence_length`:
    `input_ids`, `input_mask` and `segment_ids` (the original's feature
    names), padded with `pad_token_id`.

    Sentences are given one at a time (`add_sentence`, `end_document`), or
    as whole documents of already tokenized ids (`pack_documents`, which
    returns the same examples as arrays, with far less Python work per
    token: what `text_dataset` uses).

    Example:
    ```python
    builder = ExampleBuilder(16, cls_token_id=2, sep_token_id=3, seed=0)
    builder.add_sentence([10, 11, 12])
    builder.add_sentence([13, 14])
    example = builder.end_document()
    example["input_ids"][:8]  # [2, 10, 11, 12, 3, 13, 14, 3] or one segment
    ```
    """

    def __init__(
        self,
        sequence_length,
        cls_token_id,
        sep_token_id,
        pad_token_id=0,
        single_segment_rate=0.1,
        short_sequence_rate=0.05,
        seed=None,
    ):
        if sequence_length < 5:
            raise ValueError(
                f"`sequence_length` must be at least 5. Got {sequence_length}."
            )
        self.sequence_length = int(sequence_length)
        self.cls_token_id = cls_token_id
        self.sep_token_id = sep_token_id
        self.pad_token_id = pad_token_id
        self.single_segment_rate = single_segment_rate
        self.short_sequence_rate = short_sequence_rate
        self.rng = random.Random(seed)
        self._sentences = []
        self._length = 0
        self._target_length = self.sequence_length

    def add_sentence(self, token_ids):
        """Add one sentence; returns an example once the target is reached."""
        token_ids = list(token_ids)
        if not token_ids:
            return None
        self._sentences.append(token_ids)
        self._length += len(token_ids)
        if self._length >= self._target_length:
            return self._make_example()
        return None

    def end_document(self):
        """Flush the current document; returns its last example, if any."""
        if self._length == 0:
            return None
        return self._make_example()

    def pack_documents(self, token_ids, sentence_lengths, document_sizes):
        """Pack whole documents of tokenized sentences at once.

        Returns the examples that `add_sentence` and `end_document` would
        return for these sentences, in the same order and with the same
        random draws, as a dict of int32 arrays of shape
        `[num_examples, sequence_length]` (same keys). Only the packing
        decisions run per sentence in Python; the tokens are placed with
        array operations.

        Args:
            token_ids: the ids of every sentence, one after another (1-D).
            sentence_lengths: the number of ids of each sentence.
            document_sizes: the number of sentences of each document, in
                order; they add up to `len(sentence_lengths)`.

        Example:
        ```python
        builder = ExampleBuilder(16, cls_token_id=2, sep_token_id=3, seed=0)
        examples = builder.pack_documents(
            [10, 11, 12, 13, 14, 20, 21],  # three sentences
            sentence_lengths=[3, 2, 2],
            document_sizes=[2, 1],  # two documents
        )
        examples["input_ids"].shape  # (2, 16)
        ```
        """
        if self._sentences:
            raise ValueError(
                "`pack_documents` packs whole documents: call "
                "`end_document()` after `add_sentence()` first."
            )
        lengths = np.asarray(sentence_lengths, "int64").reshape(-1)
        sizes = np.asarray(document_sizes, "int64").reshape(-1)
        if int(sizes.sum()) != len(lengths):
            raise ValueError(
                f"`document_sizes` add up to {int(sizes.sum())} sentences; "
                f"`sentence_lengths` has {len(lengths)}."
            )
        plan = self._plan(lengths.tolist(), sizes.tolist())
        return self._place(np.asarray(token_ids).reshape(-1), lengths, plan)

    def count_examples(self, sentence_lengths, document_sizes):
        """How many examples `pack_documents` would return (same draws)."""
        sizes = np.asarray(document_sizes, "int64").reshape(-1).tolist()
        lengths = np.asarray(sentence_lengths, "int64").reshape(-1).tolist()
        return len(self._plan(lengths, sizes)[3])

    # === Packing decisions (on lengths only) ===

    def _split(self, lengths):
        """Assign each sentence to segment A (0) or B (1), as the reference
        does, and draw the next target length. Returns the parts and the
        untruncated lengths of A and B."""
        if self.rng.random() < self.single_segment_rate:
            first_target = float("inf")
        else:
            # Three special tokens are still to be added.
            first_target = (self._target_length - 3) // 2
        parts = []
        first = second = 0
        for length in lengths:
            # A sentence joins A while A is empty or stays under its target;
            # the first sentence that would overflow A goes to A half the
            # time (if B is still empty), otherwise to B.
            if (
                not first
                or first + length < first_target
                or (
                    not second
                    and first < first_target
                    and self.rng.random() < 0.5
                )
            ):
                first += length
                parts.append(0)
            else:
                second += length
                parts.append(1)
        if self.rng.random() < self.short_sequence_rate:
            self._target_length = self.rng.randint(5, self.sequence_length)
        else:
            self._target_length = self.sequence_length
        return parts, first, second

    def _truncate(self, first, second):
        """The lengths of A and B kept in an example of the maximum size."""
        first = min(first, self.sequence_length - 2)
        second = min(second, max(0, self.sequence_length - first - 3))
        return first, second

    def _plan(self, lengths, document_sizes):
        """Per sentence: example, part and offset in its part; per example:
        the kept lengths of A and B."""
        count = len(lengths)
        example_of = [0] * count
        part_of = [0] * count
        offset_of = [0] * count
        kept_a, kept_b = [], []
        pending = []
        total = 0
        start = 0

        def flush():
            parts, first, second = self._split([lengths[i] for i in pending])
            offsets = [0, 0]
            example = len(kept_a)
            for i, part in zip(pending, parts):
                example_of[i] = example
                part_of[i] = part
                offset_of[i] = offsets[part]
                offsets[part] += lengths[i]
            first, second = self._truncate(first, second)
            kept_a.append(first)
            kept_b.append(second)
            pending.clear()

        for size in document_sizes:
            for i in range(start, start + size):
                length = lengths[i]
                if not length:
                    continue
                pending.append(i)
                total += length
                if total >= self._target_length:
                    flush()
                    total = 0
            start += size
            if total:
                flush()
                total = 0
        return example_of, part_of, offset_of, kept_a, kept_b

    # === Building examples ===

    def _place(self, token_ids, lengths, plan):
        example_of, part_of, offset_of, kept_a, kept_b = plan
        size = self.sequence_length
        count = len(kept_a)
        kept_a = np.asarray(kept_a, "int64")
        kept_b = np.asarray(kept_b, "int64")
        ids = np.full((count, size), self.pad_token_id, "int32")
        if count:
            # Every token: its example, and its place there if it is kept.
            example = np.repeat(np.asarray(example_of, "int64"), lengths)
            second = np.repeat(np.asarray(part_of, "int64"), lengths) == 1
            starts = np.cumsum(lengths) - lengths
            within = np.arange(len(token_ids)) - np.repeat(starts, lengths)
            within += np.repeat(np.asarray(offset_of, "int64"), lengths)
            limit = np.where(second, kept_b[example], kept_a[example])
            column = np.where(second, kept_a[example] + 2, 1) + within
            kept = within < limit
            ids[example[kept], column[kept]] = token_ids[kept]
            rows = np.arange(count)
            ids[:, 0] = self.cls_token_id
            ids[rows, kept_a + 1] = self.sep_token_id
            has_b = kept_b > 0
            ids[rows[has_b], (kept_a + kept_b + 2)[has_b]] = self.sep_token_id
        used = kept_a + 2 + np.where(kept_b > 0, kept_b + 1, 0)
        positions = np.arange(size)
        mask = positions < used[:, None]
        segments = mask & (positions >= (kept_a + 2)[:, None])
        return {
            "input_ids": ids,
            "input_mask": mask.astype("int32"),
            "segment_ids": segments.astype("int32"),
        }

    def _make_example(self):
        parts, _, _ = self._split([len(s) for s in self._sentences])
        first, second = [], []
        for sentence, part in zip(self._sentences, parts):
            (second if part else first).extend(sentence)
        kept_a, kept_b = self._truncate(len(first), len(second))
        self._sentences = []
        self._length = 0
        return self._pack(first[:kept_a], second[:kept_b])

    def _pack(self, first, second):
        ids = [self.cls_token_id] + first + [self.sep_token_id]
        segments = [0] * len(ids)
        if second:
            ids += second + [self.sep_token_id]
            segments += [1] * (len(second) + 1)
        length = len(ids)
        pad = self.sequence_length - length
        return {
            "input_ids": np.array(ids + [self.pad_token_id] * pad, "int32"),
            "input_mask": np.array([1] * length + [0] * pad, "int32"),
            "segment_ids": np.array(segments + [0] * pad, "int32"),
        }
