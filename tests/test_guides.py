"""The guides (issue #16): each notebook matches its source, and each guide
runs top to bottom at smoke size (`KERAS_ELECTRA_GUIDE_SMOKE=1`)."""

import os
import subprocess
import sys

import keras
import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import guides  # noqa: E402

# Guides run on every backend; the others on JAX only (their code is the
# package's, tested per backend elsewhere).
EVERY_BACKEND = {"pretrain_electra_on_your_text"}
GUIDES = [path.stem for path in guides.guide_paths()]


def test_every_guide_has_a_notebook_that_matches_it():
    assert GUIDES, "no guides found"
    stale = guides.stale_notebooks()
    assert not stale, (
        f"notebooks out of date: {stale}; run `python tools/guides.py "
        "notebooks`"
    )
    for name in GUIDES:
        header, cells = guides.parse(ROOT / "guides" / f"{name}.py")
        assert header["Title"] and header["Accelerator"]
        kinds = {kind for kind, _ in cells}
        assert kinds == {"code", "markdown"}, name
        page = ROOT / "guides" / "md" / f"{name}.md"
        assert page.exists(), (
            f"guides/md/{name}.md is missing: run `python tools/guides.py "
            f"markdown {name}`"
        )
        # The page shows the guide's current code.
        text = page.read_text(encoding="utf-8")
        stale = [code for kind, code in cells if kind == "code"]
        stale = [code for code in stale if code not in text]
        assert not stale, (
            f"guides/md/{name}.md shows older code: run `python "
            f"tools/guides.py markdown {name}`"
        )


def test_a_notebook_installs_chooses_a_backend_then_runs_the_guide():
    name = GUIDES[0]
    notebook = guides.to_notebook(ROOT / "guides" / f"{name}.py")
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert sources[0].startswith("# ") and guides.colab_url(name) in sources[0]
    assert sources[2].startswith("!pip install")
    assert 'os.environ["KERAS_BACKEND"]' in sources[3]
    code = [
        "".join(c["source"])
        for c in notebook["cells"]
        if c["cell_type"] == "code"
    ]
    _, cells = guides.parse(ROOT / "guides" / f"{name}.py")
    assert code[2:] == [text for kind, text in cells if kind == "code"]


@pytest.mark.parametrize("name", GUIDES)
def test_guide_runs_at_smoke_size(name, tmp_path):
    backend = keras.backend.backend()
    if name not in EVERY_BACKEND and backend != "jax":
        pytest.skip("runs in the JAX suite")
    done = subprocess.run(
        [sys.executable, str(ROOT / "guides" / f"{name}.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "KERAS_BACKEND": backend,
            "KERAS_ELECTRA_GUIDE_SMOKE": "1",
            "MPLBACKEND": "Agg",
        },
    )
    assert done.returncode == 0, done.stderr[-4000:]
