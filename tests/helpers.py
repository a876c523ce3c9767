"""Helpers shared by the tests: tiny models, batches, shared data paths."""

import os
import pathlib
import random
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_electra

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(
    os.environ.get("KERAS_ELECTRA_SHARED_DATA", ROOT.parent / "shared" / "data")
)
VOCAB_FILE = SHARED / "vocab" / "bert_uncased_vocab.txt"
CORPUS = SHARED / "corpus"

# Special ids of a small learned vocabulary: [PAD] [UNK] [CLS] [SEP] [MASK].
SMALL_IDS = dict(
    pad_token_id=0, cls_token_id=2, sep_token_id=3, mask_token_id=4
)

# A tiny WordPiece vocabulary for tests that build tokenizers.
WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "##s",
    ".",
]

# The fine-tuning tests' words, padded to the tiny models' 120 ids.
TASK_WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "dog",
    "run",
    "##s",
    "cat",
    "good",
    "bad",
    "film",
    "who",
    "wrote",
    "it",
    "?",
    "jane",
    "austen",
    "did",
    ".",
    "a",
    "b",
    "c",
    ",",
]
TASK_VOCABULARY = TASK_WORDS + [f"w{i}" for i in range(120 - len(TASK_WORDS))]

# Backend-independent checks that take tens of seconds (the tokenizer's
# parity with transformers) run in one of the three per-backend runs only.
once_per_suite = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="backend-independent; runs in the torch run of the suite",
)

needs_shared = pytest.mark.skipif(
    not VOCAB_FILE.exists(), reason=f"shared data not found at {SHARED}"
)


def tiny_pretrainer(vocabulary_size=120, seed=7, dropout=0.0, **kwargs):
    """A very small pretrainer for unit tests (fast on 2 cores)."""
    return keras_electra.ElectraPretrainer.from_towers_config(
        vocabulary_size=vocabulary_size,
        discriminator_config=dict(
            num_layers=2,
            num_heads=2,
            hidden_dim=32,
            intermediate_dim=64,
            embedding_dim=16,
            max_sequence_length=64,
            dropout=dropout,
        ),
        generator_config=dict(
            num_layers=2,
            num_heads=1,
            hidden_dim=8,
            intermediate_dim=32,
        ),
        seed=seed,
        **{**SMALL_IDS, **kwargs},
    )


def random_batch(
    batch_size=4, length=24, vocabulary_size=120, seed=0, num_padding=4
):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, vocabulary_size, (batch_size, length))
    token_ids[:, 0] = SMALL_IDS["cls_token_id"]
    padding_mask = np.ones((batch_size, length), "int32")
    if num_padding:
        padding_mask[:, -num_padding:] = 0
        token_ids[:, -num_padding:] = 0
    token_ids[:, length - num_padding - 1] = SMALL_IDS["sep_token_id"]
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, length // 2 : length - num_padding] = 1
    return {
        "token_ids": token_ids.astype("int32"),
        "segment_ids": segment_ids.astype("int32"),
        "padding_mask": padding_mask,
    }


def given_corruption(batch, positions, mask_token_id):
    """`batch` with its corruption given: [MASK] written at `positions`
    (`[batch, slots]`, every slot real), the originals as `mask_ids`."""
    positions = np.asarray(positions, "int32")
    token_ids = np.array(batch["token_ids"])
    mask_ids = np.take_along_axis(token_ids, positions, axis=1)
    np.put_along_axis(token_ids, positions, mask_token_id, 1)
    return {
        **batch,
        "token_ids": token_ids,
        "mask_positions": positions,
        "mask_ids": mask_ids.astype("int32"),
        "mask_weights": np.ones(positions.shape, "float32"),
    }


def deterministic_weights(model, seed=0, scale=0.05):
    """Set every weight from a numpy generator (same values on any backend)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if variable.path.endswith("gamma"):
            value = 1.0 + rng.normal(0, scale, shape)
        else:
            value = rng.normal(0, scale, shape)
        variable.assign(value.astype("float32"))


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


# A tiny backbone over `WORDS`, for keras-hub's test harness.
TINY_BACKBONE_ARGS = dict(
    vocabulary_size=len(WORDS),
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
    embedding_dim=4,
    max_sequence_length=16,
)


def assert_initializers(dense, glorot):
    """`dense` was initialised as the reference does: glorot-uniform where it
    leaves TensorFlow's default, else a truncated normal of 0.02."""
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    fan_in, fan_out = kernel.shape
    if glorot:
        assert isinstance(
            dense.kernel_initializer, keras.initializers.GlorotUniform
        )
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= limit + 1e-6
        expected = limit / np.sqrt(3.0)
    else:
        assert isinstance(
            dense.kernel_initializer, keras.initializers.TruncatedNormal
        )
        assert np.abs(kernel).max() <= 0.04 + 1e-6
        expected = 0.0176  # a normal of 0.02 truncated at two sigma
    assert abs(kernel.std() - expected) < 0.25 * expected, kernel.std()
    assert not np.any(keras.ops.convert_to_numpy(dense.bias))


def wide_backbone(embedding_dim=32):
    """One block, 64 wide: enough weights to check initializers' spread."""
    return keras_electra.ElectraBackbone(
        vocabulary_size=50,
        num_layers=1,
        num_heads=2,
        hidden_dim=64,
        intermediate_dim=128,
        embedding_dim=embedding_dim,
        max_sequence_length=16,
    )


def tiny_backbone():
    return keras_electra.ElectraBackbone(**TINY_BACKBONE_ARGS)


def words_tokenizer():
    return keras_electra.ElectraTokenizer(vocabulary=WORDS)


def words_batch(length=8):
    """Two rows of ids from `WORDS`, the last two positions padding."""
    return random_batch(2, length, vocabulary_size=len(WORDS), num_padding=2)


def wordpiece_ids(tokenizer, text):
    """The ids of one text as a Python list (dense or ragged output)."""
    out = tokenizer([text])
    return (out.to_list() if hasattr(out, "to_list") else out)[0]


def news_head(tmp_path, lines=3000):
    """The first documents of the shared news corpus (blank-line separated)."""
    path = tmp_path / "news_head.txt"
    with open(CORPUS / "news.txt", encoding="utf-8") as f:
        text = "".join(line for _, line in zip(range(lines), f))
    path.write_text(text, encoding="utf-8")
    return path


def two_domain_corpus(tmp_path):
    """Two files of one word each ("alpha", "beta"), and their tokenizer."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "alpha", "beta"]
    tok = keras_electra.ElectraTokenizer(vocabulary=vocab)
    for word in ("alpha", "beta"):
        docs = [" ".join([word] * (5 + i % 9)) for i in range(400)]
        (tmp_path / f"{word}.txt").write_text("\n\n".join(docs) + "\n")
    return tok, [str(tmp_path / "alpha.txt"), str(tmp_path / "beta.txt")]


def qa_preprocessor(tokenizer, **kwargs):
    """Short QA windows: 16 ids, stride 3, questions of up to 4 ids."""
    kwargs = {
        "sequence_length": 16,
        "doc_stride": 3,
        "max_question_length": 4,
        **kwargs,
    }
    return keras_electra.ElectraQuestionAnswererPreprocessor(
        tokenizer, **kwargs
    )


def micro_run(preset, corpus, **settings):
    """`pretrain()` arguments of a small run of the micro preset on BERT's
    vocabulary (batch 2 x 32, a checkpoint every 2 steps), with
    `settings` on top."""
    return {
        "preset": preset,
        "corpus": corpus,
        "vocabulary": str(VOCAB_FILE),
        "batch_size": 2,
        "sequence_length": 32,
        "checkpoint_every": 2,
        **settings,
    }


def run_without_backend(code):
    """Run `code` in a fresh Python, then assert it imported no backend
    (keras, TensorFlow, JAX, torch, keras-hub); returns its stdout."""
    check = (
        "\nimport sys\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'keras', "
        "'tensorflow', 'jax', 'torch', 'keras_hub'})\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + check], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def word_documents(seed, long_at):
    """40 short documents of `WORDS` (lines of a few words), the one at
    `long_at` a paragraph long enough to be split into sentences."""
    rng = random.Random(seed)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs"]

    def sentence():
        return " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))

    documents = [
        "\n".join(sentence() + " ." for _ in range(rng.randint(1, 4)))
        for _ in range(40)
    ]
    documents[long_at] = " ".join(f"The {sentence()}." for _ in range(20))
    return documents
