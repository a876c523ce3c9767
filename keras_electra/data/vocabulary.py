"""Learning a WordPiece vocabulary from a corpus."""

import os
import tempfile

from keras_electra.data.text import CorpusError
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import iter_documents
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
from keras_electra.utils import file_system

# keras-hub's WordPiece learner (tensorflow-text's) keeps only the words and
# pieces it sees at least this many times (its `lower_thresh`), besides
# every single character: a small corpus gives fewer tokens than asked.
MIN_PIECE_COUNT = 10


def learn_vocabulary(
    inputs,
    vocabulary_size,
    output_file,
    max_lines=200_000,
    on_decode_error="stop",
    lowercase=True,
    strip_accents=True,
    text_field="text",
):
    """Learn a WordPiece vocabulary from (up to `max_lines` of) a corpus
    (`text_field`: the JSON lines field or Parquet column of the text).

    The corpus and `output_file` may be URLs (`gs://bucket/vocab.txt`:
    `keras_electra.utils.file_system`). A local file's folder must exist;
    a remote one's is not checked (object stores have no folders: writing
    the file makes its path). The file is written beside itself and
    renamed into place (on an object store, a copy and a delete).
    """
    import tensorflow as tf

    # Where it goes is checked before the work of learning it.
    folder = os.path.dirname(file_system.abspath(output_file))
    if file_system.isdir(output_file):
        raise CorpusError(
            f"'{output_file}' is a folder: give the vocab.txt file to write."
        )
    if not file_system.has_scheme(output_file) and not os.path.isdir(folder):
        raise CorpusError(
            f"The folder of '{output_file}' does not exist: create "
            f"'{folder}' first, or write the vocabulary elsewhere."
        )
    if int(vocabulary_size) < 6:
        raise CorpusError(
            f"A vocabulary needs room for ELECTRA's 5 special tokens and "
            f"words: ask for more than {vocabulary_size} tokens."
        )

    lines = []
    for document in iter_documents(
        expand_inputs(inputs, text_field),
        on_decode_error=on_decode_error,
        text_field=text_field,
    ):
        lines.extend(document)
        if len(lines) >= max_lines:
            break
    if not lines:
        raise CorpusError("The corpus holds no text to learn from.")
    dataset = tf.data.Dataset.from_tensor_slices(lines[:max_lines]).batch(1024)
    tmp = f"{output_file}.tmp"
    learn = dict(lowercase=lowercase, strip_accents=strip_accents)
    if not file_system.has_scheme(output_file):
        tokenizer = ElectraTokenizer.from_texts(
            dataset, vocabulary_size, output_file=tmp, **learn
        )
    else:
        # keras-hub's learner writes local files only: learn into one, then
        # copy its bytes out.
        with tempfile.TemporaryDirectory() as local:
            local_file = os.path.join(local, "vocab.txt")
            tokenizer = ElectraTokenizer.from_texts(
                dataset, vocabulary_size, output_file=local_file, **learn
            )
            with open(local_file, "rb") as source:
                with file_system.open_file(tmp, "wb") as target:
                    target.write(source.read())
    file_system.replace(tmp, output_file)
    return tokenizer


def describe_learned(size, asked, path):
    """The line that says how many tokens were learned into `path`, and,
    when fewer than `asked`, why (`keras-electra vocab` and `pretrain`)."""
    short = ""
    if size < asked:
        short = (
            ": the corpus gave no more, as WordPiece keeps only the pieces "
            f"it sees at least {MIN_PIECE_COUNT} times; more text gives more"
        )
    return (
        f"Learned {size:,} tokens (asked for {asked:,}{short}); written to "
        f"{path}."
    )
