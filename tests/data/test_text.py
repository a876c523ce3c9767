"""`data/text.py`: reading a corpus into documents and sentences."""

import os

from helpers import two_domain_corpus

from keras_electra.data import iter_documents
from keras_electra.data import iter_examples
from keras_electra.data.examples import mixed_examples
from keras_electra.data.text import file_segments
from keras_electra.data.text import read_lines
from keras_electra.data.text import split_sentences


def test_sentence_splitting_and_documents(tmp_path):
    long = " ".join(["This is sentence number %d." % i for i in range(30)])
    assert len(split_sentences(long, max_line_words=20)) == 30
    assert split_sentences("Short line. Kept whole.", 20) == [
        "Short line. Kept whole."
    ]
    path = tmp_path / "t.txt"
    path.write_text("a b\nc d\n\n\ne f\n", encoding="utf-8")
    assert list(iter_documents([str(path)])) == [["a b", "c d"], ["e f"]]
    joined = list(
        iter_documents([str(path)], blank_lines_separate_documents=False)
    )
    assert joined == [["a b", "c d", "e f"]]


def test_byte_segments_read_every_line_once(tmp_path):
    path = tmp_path / "lines.txt"
    lines = [f"line {i}" + " x" * (i % 17) for i in range(500)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for segment_bytes in (1, 7, 100, 1000, 10**6):
        segments = file_segments([str(path)], segment_bytes)
        assert segments[0][1] == 0 and segments[-1][2] == os.path.getsize(path)
        read = [
            line
            for _, a, b in segments
            for line in read_lines(path, "stop", a, b)
        ]
        assert read == lines, segment_bytes
    docs = list(iter_documents(file_segments([str(path)], 1000)))
    assert sum(docs, []) == lines


def test_text_is_mixed_across_files_not_read_file_by_file(tmp_path):
    tok, files = two_domain_corpus(tmp_path)
    in_order = list(iter_examples(files, tok, 32, seed=0))
    mixed = list(mixed_examples(files, tok, 32, seed=0, segment_bytes=500))
    # Every token is still read exactly once.
    count = lambda exs, w: sum(int((e["input_ids"] == w).sum()) for e in exs)  # noqa: E731
    for word in (5, 6):
        assert count(mixed, word) == count(in_order, word)
    # File by file, the first quarter is all "alpha"; mixed, both appear.
    quarter = len(mixed) // 4
    assert count(in_order[:quarter], 6) == 0
    assert count(mixed[:quarter], 5) > 0 and count(mixed[:quarter], 6) > 0
    # The order is a function of the seed (runs resume exactly).
    again = list(mixed_examples(files, tok, 32, seed=0, segment_bytes=500))
    assert all(
        (a["input_ids"] == b["input_ids"]).all() for a, b in zip(mixed, again)
    )
