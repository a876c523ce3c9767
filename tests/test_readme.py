"""The README's Python examples run, as written, against the package.

Each ```python block of README.md runs in a fresh namespace, in a temporary
folder holding what the README says comes before it: the quick start's
`electra_run/preset` (here a tiny pretrainer saved with the BERT
vocabulary) and a text file `my_corpus.txt`. A block preceded by
`<!-- readme-test: skip (reason) -->` is skipped, for a stated reason
(downloads from a hub cannot run here).
"""

import re

import pytest
from helpers import CORPUS
from helpers import ROOT
from helpers import needs_shared
from helpers import tiny_pretrainer

README = ROOT / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip \((.+?)\) -->\s*$")


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


def test_the_readme_has_python_examples_and_few_skips():
    blocks = _blocks()
    assert len(blocks) >= 3
    skipped = [reason for _, _, reason in blocks if reason]
    assert len(skipped) <= 1, skipped


@needs_shared
@pytest.mark.parametrize(
    "start, code, reason",
    _blocks() if README.exists() else [],
    ids=lambda value: f"line{value}" if isinstance(value, int) else "",
)
def test_readme_block_runs(start, code, reason, bert_tokenizer, tmp_path):
    if reason:
        pytest.skip(reason)
    pretrainer = tiny_pretrainer(
        vocabulary_size=bert_tokenizer.vocabulary_size(),
        **bert_tokenizer.pretrainer_token_ids(),
    )
    pretrainer.save_to_preset(
        str(tmp_path / "electra_run" / "preset"), bert_tokenizer
    )
    with open(CORPUS / "news.txt", encoding="utf-8") as f:
        head = "".join(line for _, line in zip(range(600), f))
    (tmp_path / "my_corpus.txt").write_text(head, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        exec(compile(code, f"README.md, line {start}", "exec"), {})
