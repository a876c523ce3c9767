"""`ElectraQuestionAnswererPreprocessor`: SQuAD windows and span labels."""

import numpy as np
from helpers import qa_preprocessor


def test_qa_windows_stride_and_labels(tokenizer):
    p = qa_preprocessor(tokenizer)
    context = "a b c a b c Jane Austen did . a b c a b c a b"
    batch = p.encode(
        ["Who wrote it?"], [context], [("Jane Austen", context.index("Jane"))]
    )
    # Question: who wrote it ? -> 4 pieces; room = 16 - 4 - 3 = 9 context
    # pieces per window; 18 context pieces; starts 0, 3, 6, 9.
    assert [w["start"] for w in batch.windows] == [0, 3, 6, 9]
    assert batch.x["token_ids"].shape == (4, 16)
    # "jane" is context piece 6: position 6 - start + 6 in each window that
    # holds both pieces 6 and 7; the last window holds neither -> [CLS].
    assert batch.y["start_logits"].tolist() == [12, 9, 6, 0]
    assert batch.y["end_logits"].tolist() == [13, 10, 7, 0]
    np.testing.assert_array_equal(batch.x["segment_ids"][0], [0] * 6 + [1] * 10)


def test_qa_span_decoding(tokenizer):
    p = qa_preprocessor(tokenizer, sequence_length=24, doc_stride=8)
    context = "Jane Austen did, a b c."
    batch = p.encode(["who wrote it?", "who?"], [context, context])
    start = np.full((2, 24), -10.0)
    end = np.full((2, 24), -10.0)
    # Example 0: best span "Jane Austen" (context pieces 0..1 at 6..7); a
    # higher-scoring end before the start must be ignored.
    start[0, 6], end[0, 7], end[0, 5] = 5.0, 4.0, 9.0
    # Example 1 (question "who ?" = 2 pieces, context from 4): [CLS] wins.
    start[1, 0], end[1, 0] = 8.0, 8.0
    start[1, 4], end[1, 6] = 3.0, 3.0
    assert p.decode(batch, start, end) == ["Jane Austen", "Jane Austen did"]
    assert p.decode(batch, start, end, allow_no_answer=True) == [
        "Jane Austen",
        "",
    ]
    # The maximum answer length is in wordpieces.
    start[0, 6], end[0, 7] = 5.0, -10.0
    end[0, 10] = 4.0
    assert (
        p.decode(batch, start, end, max_answer_length=3)[0]
        != "Jane Austen did, a"
    )
    assert (
        p.decode(batch, start, end, max_answer_length=5)[0]
        == "Jane Austen did, a"
    )
