import collections
import re

import numpy as np

#: Words for span alignment: runs of letters/digits, or single other
#: characters (the same boundaries as the WordPiece pre-tokenizer, so every
#: wordpiece belongs to exactly one word).
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class QuestionAnswerBatch:
    """Encoded windows: `x` (model inputs), `y` (labels or None) and, for
    decoding, which example each window comes from and where its context
    tokens are."""

    def __init__(self, x, y, example_index, windows, contexts):
        self.x = x
        self.y = y
        self.example_index = example_index
        self.windows = windows
        self.contexts = contexts

    def __len__(self):
        return len(self.example_index)


class ElectraQuestionAnswererPreprocessor:
    """Questions and contexts to ELECTRA inputs, and spans back to text.

    Each example becomes one or more windows `[CLS] question [SEP] context
    [SEP]`: a context longer than fits is cut into overlapping windows whose
    starts are `doc_stride` wordpieces apart, as in BERT's and ELECTRA's
    SQuAD code. An answer (character offset and text) becomes start/end
    labels in every window that contains it whole; windows without it, and
    unanswerable questions, point at position 0 ([CLS]).

    Decoding takes the best valid span over all of an example's windows:
    start <= end, both inside the context, at most `max_answer_length`
    wordpieces, with the start in the window where it has the most context
    on both sides. With `allow_no_answer`, the answer is "" when the [CLS]
    score beats the best span by more than `null_threshold`.

    This class runs in Python (windowing changes the number of rows); feed
    its arrays to `tf.data.Dataset.from_tensor_slices` or to `fit` directly.

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: window length (384 in the paper's SQuAD runs).
        doc_stride: distance between window starts, in wordpieces.
        max_question_length: questions are cut to this many wordpieces.

    Example:
    ```python
    import keras_electra

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "wrote",
             "it", "?", "jane", "austen", "did", "."]
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=words)
    preprocessor = keras_electra.ElectraQuestionAnswererPreprocessor(
        tokenizer, sequence_length=16
    )
    batch = preprocessor.encode(
        ["Who wrote it?"], ["Jane Austen did."], answers=[("Jane Austen", 0)]
    )
    batch.y  # {"start_logits": [6], "end_logits": [7]}
    ```
    """

    def __init__(
        self,
        tokenizer,
        sequence_length=384,
        doc_stride=128,
        max_question_length=64,
    ):
        if sequence_length < max_question_length + 4:
            raise ValueError(
                f"`sequence_length` ({sequence_length}) must leave room for "
                f"the question ({max_question_length} wordpieces) and some "
                "context."
            )
        if doc_stride < 1:
            raise ValueError(f"`doc_stride` must be positive: {doc_stride}")
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.doc_stride = int(doc_stride)
        self.max_question_length = int(max_question_length)

    def get_config(self):
        return {
            "sequence_length": self.sequence_length,
            "doc_stride": self.doc_stride,
            "max_question_length": self.max_question_length,
        }

    def _pieces(self, texts):
        """Wordpiece ids for each string (a list of lists)."""
        if not texts:
            return []
        out = self.tokenizer(list(texts))
        if hasattr(out, "to_list"):
            out = out.to_list()
        return [list(map(int, ids)) for ids in out]

    def _context_words(self, context):
        spans = [(m.start(), m.end()) for m in _WORD.finditer(context)]
        pieces = self._pieces([context[a:b] for a, b in spans])
        return spans, pieces

    def encode(self, questions, contexts, answers=None):
        """Encode examples into windows.

        Args:
            questions, contexts: lists of strings.
            answers: optional list, one per example, of `(text, start_char)`
                or None for an unanswerable question.

        Returns: a `QuestionAnswerBatch`.
        """
        if len(questions) != len(contexts):
            raise ValueError(
                f"{len(questions)} questions but {len(contexts)} contexts."
            )
        if answers is not None and len(answers) != len(questions):
            raise ValueError(
                f"{len(answers)} answers for {len(questions)} questions."
            )
        t = self.tokenizer
        L = self.sequence_length
        question_pieces = self._pieces(questions)
        rows = collections.defaultdict(list)
        example_index, windows = [], []
        for i, context in enumerate(contexts):
            q = question_pieces[i][: self.max_question_length]
            spans, word_pieces = self._context_words(context)
            piece_word, ids = [], []
            for w, p in enumerate(word_pieces):
                ids.extend(p)
                piece_word.extend([w] * len(p))
            first_piece = {}
            last_piece = {}
            for k, w in enumerate(piece_word):
                first_piece.setdefault(w, k)
                last_piece[w] = k
            target = None
            if answers is not None and answers[i] is not None:
                target = _answer_pieces(
                    answers[i], spans, first_piece, last_piece, context
                )
            room = L - len(q) - 3
            starts = [0]
            while starts[-1] + room < len(ids):
                starts.append(starts[-1] + min(room, self.doc_stride))
            offset = len(q) + 2
            neighbours = [(a, min(room, len(ids) - a)) for a in starts]
            for start in starts:
                chunk = ids[start : start + room]
                token_ids = [
                    t.cls_token_id,
                    *q,
                    t.sep_token_id,
                    *chunk,
                    t.sep_token_id,
                ]
                n = len(token_ids)
                rows["token_ids"].append(token_ids + [t.pad_token_id] * (L - n))
                rows["segment_ids"].append(
                    [0] * offset + [1] * (n - offset) + [0] * (L - n)
                )
                rows["padding_mask"].append([1] * n + [0] * (L - n))
                s_label = e_label = 0
                if target is not None:
                    a, b = target
                    if a >= start and b < start + len(chunk):
                        s_label, e_label = (
                            a - start + offset,
                            b - start + offset,
                        )
                rows["start"].append(s_label)
                rows["end"].append(e_label)
                example_index.append(i)
                windows.append(
                    {
                        "offset": offset,
                        "start": start,
                        "length": len(chunk),
                        "piece_word": piece_word,
                        "spans": spans,
                        "others": neighbours,
                    }
                )
        x = {
            k: np.asarray(rows[k], "int32").reshape(-1, L)
            for k in ("token_ids", "segment_ids", "padding_mask")
        }
        y = None
        if answers is not None:
            y = {
                "start_logits": np.asarray(rows["start"], "int32"),
                "end_logits": np.asarray(rows["end"], "int32"),
            }
        return QuestionAnswerBatch(
            x, y, np.asarray(example_index), windows, list(contexts)
        )

    def decode(
        self,
        batch,
        start_logits,
        end_logits,
        max_answer_length=30,
        n_best=20,
        allow_no_answer=False,
        null_threshold=0.0,
    ):
        """The answer text for each example (`""` for no answer)."""
        start_logits = np.asarray(start_logits, "float32")
        end_logits = np.asarray(end_logits, "float32")
        num_examples = len(batch.contexts)
        best = [(-np.inf, None)] * num_examples
        null = [np.inf] * num_examples
        for row, i in enumerate(batch.example_index):
            window = batch.windows[row]
            s, e = start_logits[row], end_logits[row]
            null[i] = min(null[i], float(s[0] + e[0]))
            lo = window["offset"]
            hi = lo + window["length"]  # context positions are [lo, hi)
            if hi <= lo:
                continue
            starts = lo + np.argsort(-s[lo:hi])[:n_best]
            ends = lo + np.argsort(-e[lo:hi])[:n_best]
            for a in starts:
                if not _is_max_context(window, a - lo):
                    continue
                for b in ends:
                    if b < a or b - a + 1 > max_answer_length:
                        continue
                    score = float(s[a] + e[b])
                    if score > best[i][0]:
                        best[i] = (score, (window, a - lo, b - lo))
        answers = []
        for i in range(num_examples):
            score, span = best[i]
            if span is None or (
                allow_no_answer and null[i] - score > null_threshold
            ):
                answers.append("")
                continue
            window, a, b = span
            words = window["piece_word"]
            first = window["spans"][words[window["start"] + a]][0]
            last = window["spans"][words[window["start"] + b]][1]
            answers.append(batch.contexts[i][first:last])
        return answers

    def answer(self, model, questions, contexts, batch_size=32, **kwargs):
        """Encode, predict with `model` and decode, in one call."""
        batch = self.encode(questions, contexts)
        out = model.predict(batch.x, batch_size=batch_size, verbose=0)
        return self.decode(
            batch, out["start_logits"], out["end_logits"], **kwargs
        )


def _answer_pieces(answer, spans, first_piece, last_piece, context):
    text, start_char = answer
    start_char = int(start_char)
    end_char = start_char + len(text)
    if (
        start_char < 0
        or end_char > len(context)
        or (
            context[start_char:end_char].strip().lower() != text.strip().lower()
        )
    ):
        raise ValueError(
            f"The answer {text!r} is not at character {start_char} of its "
            f"context (found {context[start_char:end_char]!r} there)."
        )
    words = [
        w for w, (a, b) in enumerate(spans) if a < end_char and b > start_char
    ]
    if not words or words[0] not in first_piece or words[-1] not in last_piece:
        return None  # the answer has no wordpieces (only unknown characters)
    return first_piece[words[0]], last_piece[words[-1]]


def _is_max_context(window, position):
    """Whether this window gives the token (window-relative `position`) the
    most context among the windows that hold it (BERT's rule)."""
    # The score is min(left, right) context plus a small bonus for long
    # windows; `others` lists (start, length) of the example's windows.
    absolute = window["start"] + position
    score = (
        min(position, window["length"] - 1 - position) + 0.01 * window["length"]
    )
    for other in window["others"]:
        o_start, o_length = other
        if o_start <= absolute < o_start + o_length:
            p = absolute - o_start
            if min(p, o_length - 1 - p) + 0.01 * o_length > score:
                return False
    return True
