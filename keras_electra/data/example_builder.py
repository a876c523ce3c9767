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

    def _make_example(self):
        if self.rng.random() < self.single_segment_rate:
            first_target = float("inf")
        else:
            # Three special tokens are still to be added.
            first_target = (self._target_length - 3) // 2
        first, second = [], []
        for sentence in self._sentences:
            # A sentence joins A while A is empty or stays under its target;
            # the first sentence that would overflow A goes to A half the
            # time (if B is still empty), otherwise to B.
            if (
                not first
                or len(first) + len(sentence) < first_target
                or (
                    not second
                    and len(first) < first_target
                    and self.rng.random() < 0.5
                )
            ):
                first += sentence
            else:
                second += sentence
        first = first[: self.sequence_length - 2]
        second = second[: max(0, self.sequence_length - len(first) - 3)]

        self._sentences = []
        self._length = 0
        if self.rng.random() < self.short_sequence_rate:
            self._target_length = self.rng.randint(5, self.sequence_length)
        else:
            self._target_length = self.sequence_length
        return self._pack(first, second)

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
