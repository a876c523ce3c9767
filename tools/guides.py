"""Turn the guides (keras.io's tutobook format) into notebooks and markdown.

    python tools/guides.py notebooks            # guides/ipynb/<name>.ipynb
    python tools/guides.py markdown [NAME ...]  # run, then guides/md/<name>.md
    python tools/guides.py check                # notebooks match sources?

A guide is a Python script: a header docstring (Title, Author, Date created,
Last modified, Description, Accelerator, Expected time: its times on CPU,
GPU and TPU), then markdown in top-level triple-quoted strings between
code. Its first code cell sets `SIZE` ("full" or "smoke", which
`KERAS_ELECTRA_GUIDE_SMOKE=1` overrides: the tests' switch) and prints
what the backend computes on. The notebook gets two code cells first: one
that chooses the Keras backend and one that installs the package (Colab
has no checkout) and stops the notebook with an error if that fails. The
markdown is the guide with each code cell's printed output and figures
below it, from a real run: `markdown` executes the guide cell by cell in
one namespace, here, at the size `KERAS_ELECTRA_GUIDE_SMOKE` selects
(unset: the guide's `SIZE`).

Notebooks are derived files: `check` (and `tests/test_guides.py`) fail when
one differs from what its source gives.
"""

import ast
import contextlib
import io
import json
import os
import pathlib
import re
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUIDES = ROOT / "guides"
# Where the notebooks live on GitHub, for the "Open in Colab" links and the
# install cell. Change both when the repository moves.
REPOSITORY = "keras-team/keras-electra"
BRANCH = "main"
PROGRESS = "\u2501"  # the bar character of Keras' progress bars
HEADER_KEYS = (
    "Title",
    "Author",
    "Date created",
    "Last modified",
    "Description",
    "Accelerator",
    "Expected time",
)


def guide_paths():
    return sorted(p for p in GUIDES.glob("*.py") if not p.name.startswith("_"))


def parse(path):
    """`(header, cells)`: the header's fields and `[(kind, text)]` with kind
    "markdown" or "code", in order."""
    source = pathlib.Path(path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    cells = []
    header = None
    position = 0  # next line (0-based) not yet in a cell

    def add_code(end):
        text = "\n".join(lines[position:end]).strip("\n")
        if text.strip():
            cells.append(("code", text))

    for node in tree.body:
        is_text = (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if not is_text:
            continue
        add_code(node.lineno - 1)
        text = node.value.value.strip("\n")
        if header is None and not cells:
            header = _parse_header(text, path)
        else:
            cells.append(("markdown", _dedent(text)))
        position = node.end_lineno
    add_code(len(lines))
    if header is None:
        raise ValueError(f"{path}: no header docstring ({HEADER_KEYS})")
    return header, cells


def _parse_header(text, path):
    header = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in HEADER_KEYS:
            header[key.strip()] = value.strip()
    missing = [k for k in HEADER_KEYS if k not in header]
    if missing:
        raise ValueError(f"{path}: the header lacks {', '.join(missing)}")
    return header


def _dedent(text):
    import textwrap

    return textwrap.dedent(text).strip()


def colab_url(name):
    return (
        "https://colab.research.google.com/github/"
        f"{REPOSITORY}/blob/{BRANCH}/guides/ipynb/{name}.ipynb"
    )


# What the headers' times rest on (said on every page).
TIMES_BASIS = (
    "Smoke-size times were measured on 2 shared CPU cores with JAX. "
    "Full-size times are estimates: on CPU from step times measured on "
    "those cores; on a GPU (a Colab T4) or a TPU (JAX) from the steps' "
    "FLOPs plus compilation and set-up, not yet timed on either."
)


def _intro(header, name):
    return (
        f"# {header['Title']}\n\n"
        f"**Author:** {header['Author']}<br>\n"
        f"**Date created:** {header['Date created']}<br>\n"
        f"**Last modified:** {header['Last modified']}<br>\n"
        f"**Description:** {header['Description']}<br>\n"
        f"**Accelerator:** {header['Accelerator']}<br>\n"
        f"**Expected time:** {header['Expected time']}\n\n"
        f"*{TIMES_BASIS}*\n\n"
        f"[Open in Colab]({colab_url(name)})"
    )


PACKAGE = f"keras-electra[jax] @ git+https://github.com/{REPOSITORY}@{BRANCH}"

# The install cell: pip in a subprocess, so its exit status can stop the
# notebook (`!pip` and `%pip` carry on after a failure), then an import
# that proves the package is usable with the chosen backend.
INSTALL_CELL = f"""import importlib
import subprocess
import sys

PACKAGE = "{PACKAGE}"
done = subprocess.run(
    [sys.executable, "-m", "pip", "install", "-q", PACKAGE],
    capture_output=True,
    text=True,
)
if done.returncode != 0:
    print(done.stdout[-2000:], done.stderr[-4000:], sep="\\n")
    raise RuntimeError(
        f"pip could not install {{PACKAGE}} (exit status "
        f"{{done.returncode}}; its messages are above): check the "
        "runtime's internet connection and that the repository in "
        "PACKAGE exists, then run this cell again."
    )
importlib.invalidate_caches()
try:
    import keras_electra
except ImportError as error:
    raise RuntimeError(
        f"keras-electra was installed but does not import ({{error}}): "
        "restart the session (Runtime > Restart session), then run the "
        "cells again from the top."
    ) from error
print("keras-electra", keras_electra.__version__, "is installed.")"""

SETUP_CELLS = (
    (
        "markdown",
        "Choose the Keras backend before Keras is imported, then install "
        "keras-electra from GitHub (with JAX; Colab also has TensorFlow "
        "and PyTorch). The install cell stops the notebook with an error "
        "if pip fails. The guide's first code cell sets its size: "
        '`SIZE = "full"` runs what the times above describe, '
        '`SIZE = "smoke"` a few minutes\' version for any CPU (tiny '
        "models, a slice of the data); it then prints which devices the "
        "backend computes on.",
    ),
    (
        "code",
        'import os\n\nos.environ["KERAS_BACKEND"] = "jax"  # or "tensorflow",'
        ' "torch"',
    ),
    ("code", INSTALL_CELL),
)


def to_notebook(path):
    """The notebook of one guide, as a JSON-ready dict (nbformat 4)."""
    path = pathlib.Path(path)
    header, body = parse(path)
    cells = [("markdown", _intro(header, path.stem)), *SETUP_CELLS, *body]

    def cell(kind, text):
        body = {
            "cell_type": kind,
            "metadata": {"colab_type": kind},
            "source": text.splitlines(keepends=True),
        }
        if kind == "code":
            body.update(execution_count=None, outputs=[])
        return body

    accelerator = header["Accelerator"]
    metadata = {
        "colab": {"name": path.stem, "provenance": [], "toc_visible": True},
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    if accelerator.upper() in ("GPU", "TPU"):
        metadata["accelerator"] = accelerator.upper()
    return {
        "cells": [cell(kind, text) for kind, text in cells],
        "metadata": metadata,
        "nbformat": 4,
        "nbformat_minor": 0,
    }


def notebook_text(path):
    return json.dumps(to_notebook(path), indent=1, ensure_ascii=False) + "\n"


def notebook_path(path):
    return GUIDES / "ipynb" / f"{pathlib.Path(path).stem}.ipynb"


def write_notebooks():
    (GUIDES / "ipynb").mkdir(exist_ok=True)
    for path in guide_paths():
        notebook_path(path).write_text(notebook_text(path), encoding="utf-8")
        print(f"Wrote {notebook_path(path).relative_to(ROOT)}")


def stale_notebooks():
    """Guides whose notebook is missing or differs from its source."""
    stale = []
    for path in guide_paths():
        target = notebook_path(path)
        if not target.exists() or target.read_text(
            encoding="utf-8"
        ) != notebook_text(path):
            stale.append(path.stem)
    return stale


# --- running a guide into markdown ---------------------------------------


def run_cells(path, image_dir, image_prefix):
    """Execute the guide's code cells in one namespace; return, per code
    cell, its printed output and the figures it drew (saved in
    `image_dir`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image_dir.mkdir(parents=True, exist_ok=True)
    _, cells = parse(path)
    namespace = {"__name__": "__main__", "__file__": str(path)}
    results = []
    figures = 0
    for kind, text in cells:
        if kind != "code":
            results.append(None)
            continue
        buffer = io.StringIO()
        drawn = []
        with contextlib.redirect_stdout(buffer):
            exec(compile(text, str(path), "exec"), namespace)  # noqa: S102
        for number in plt.get_fignums():
            figures += 1
            name = f"{image_prefix}_{figures}.png"
            plt.figure(number).savefig(image_dir / name, dpi=80)
            drawn.append(name)
        plt.close("all")
        results.append((_clean(buffer.getvalue()), drawn))
        sys.stdout.write(buffer.getvalue())
    return results


def _clean(output):
    """Progress bars rewrite their line (carriage returns, or one line per
    update when not on a terminal) in colour: keep each bar's last state,
    without the colour codes."""
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = []
    for line in output.split("\n"):
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
        if lines and PROGRESS in line and PROGRESS in lines[-1]:
            lines[-1] = line
        else:
            lines.append(line)
    return "\n".join(lines).strip("\n")


def write_markdown(path):
    path = pathlib.Path(path)
    header, cells = parse(path)
    md_dir = GUIDES / "md"
    results = run_cells(path, md_dir / "img" / path.stem, path.stem)
    parts = [_intro(header, path.stem)]
    if os.environ.get("KERAS_ELECTRA_GUIDE_SMOKE") == "1":
        parts.append(
            "*The outputs below are from a smoke-size run on CPU "
            '(`SIZE = "smoke"`, here through `KERAS_ELECTRA_GUIDE_SMOKE=1`); '
            "a full run prints larger figures.*"
        )
    for (kind, text), result in zip(cells, results):
        if kind == "markdown":
            parts.append(text)
            continue
        parts.append(f"```python\n{text}\n```")
        output, images = result
        if output:
            parts.append(
                f'<div class="k-default-codeblock">\n```\n{output}\n```\n</div>'
            )
        for name in images:
            parts.append(f"![png](img/{path.stem}/{name})")
    target = md_dir / f"{path.stem}.md"
    target.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    print(f"Wrote {target.relative_to(ROOT)}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv else "check"
    if command == "notebooks":
        write_notebooks()
        return 0
    if command == "check":
        stale = stale_notebooks()
        if stale:
            print(
                "Out of date with their guides: "
                + ", ".join(f"guides/ipynb/{s}.ipynb" for s in stale)
                + ". Run `python tools/guides.py notebooks`."
            )
            return 1
        print("Every notebook matches its guide.")
        return 0
    if command == "markdown":
        names = set(argv)
        for path in guide_paths():
            if not names or path.stem in names:
                # A guide writes its files where it runs: a scratch folder.
                with tempfile.TemporaryDirectory() as workdir:
                    with contextlib.chdir(workdir):
                        write_markdown(path)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
