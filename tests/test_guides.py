"""The guides (issue #16; Colab, issue #27): each notebook matches its
source and starts with a backend choice and an install that stops the
notebook when pip fails; each guide sets `SIZE` in its first cell, prints
what it computes on, names its times on CPU, GPU and TPU, and runs top to
bottom at smoke size (`KERAS_ELECTRA_GUIDE_SMOKE=1`)."""

import ast
import os
import re
import subprocess
import sys

import keras
import pytest
from helpers import ROOT

from keras_electra.utils import accelerator

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


def test_a_notebook_chooses_a_backend_installs_then_runs_the_guide():
    name = GUIDES[0]
    notebook = guides.to_notebook(ROOT / "guides" / f"{name}.py")
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert sources[0].startswith("# ") and guides.colab_url(name) in sources[0]
    assert 'os.environ["KERAS_BACKEND"]' in sources[2]
    assert sources[3] == guides.INSTALL_CELL
    code = [
        "".join(c["source"])
        for c in notebook["cells"]
        if c["cell_type"] == "code"
    ]
    _, cells = guides.parse(ROOT / "guides" / f"{name}.py")
    assert code[2:] == [text for kind, text in cells if kind == "code"]


def _install_cell(package):
    """The notebooks' install cell, installing `package` instead."""
    assert guides.INSTALL_CELL.count(guides.PACKAGE) == 1
    return guides.INSTALL_CELL.replace(guides.PACKAGE, package)


def test_the_install_cell_stops_the_notebook_when_pip_fails(tmp_path):
    missing = str(tmp_path / "no-such-package")  # pip fails, offline
    with pytest.raises(RuntimeError, match="pip could not install") as error:
        exec(_install_cell(missing), {})  # noqa: S102
    assert missing in str(error.value)
    assert "run this cell again" in str(error.value)


def test_the_install_cell_imports_what_it_installed(capsys):
    # pip is installed: pip succeeds without the network.
    exec(_install_cell("pip"), {})  # noqa: S102
    assert "keras-electra" in capsys.readouterr().out


def _size_code(name):
    """The statements of a guide's first code cell before its first import
    of anything but `os`: where it chooses its size."""
    _, cells = guides.parse(ROOT / "guides" / f"{name}.py")
    first = next(text for kind, text in cells if kind == "code")
    lines = first.splitlines()
    for node in ast.parse(first).body:
        imports = isinstance(node, (ast.Import, ast.ImportFrom))
        if imports and ast.unparse(node) != "import os":
            return "\n".join(lines[: node.lineno - 1]), first
    raise AssertionError(f"{name}: its first code cell imports nothing")


@pytest.mark.parametrize("name", GUIDES)
def test_each_guide_sets_its_size_first_and_says_what_it_runs_on(
    name, monkeypatch
):
    code, first = _size_code(name)
    assert 'SIZE = "full"' in code.splitlines(), (
        f"{name}: its first code cell should set SIZE before any import"
    )
    assert "print(describe_accelerator())" in first.splitlines()
    # The notebook shows it just after the install: in its first cells.
    notebook = guides.to_notebook(ROOT / "guides" / f"{name}.py")
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert first in sources[:6]

    base = dict(os.environ)
    base.pop("KERAS_ELECTRA_GUIDE_SMOKE", None)

    def run(code, **environ):
        # The size code writes to os.environ (backend, XLA flags): a copy.
        monkeypatch.setattr(os, "environ", {**base, **environ})
        namespace = {}
        exec(code, namespace)  # noqa: S102
        return namespace["SIZE"], namespace["SMOKE"]

    assert run(code) == ("full", False)
    smoke = code.replace('SIZE = "full"', 'SIZE = "smoke"')
    assert run(smoke) == ("smoke", True)
    # The tests' switch overrides the notebook's choice.
    assert run(code, KERAS_ELECTRA_GUIDE_SMOKE="1") == ("smoke", True)
    wrong = code.replace('SIZE = "full"', 'SIZE = "small"')
    with pytest.raises(ValueError, match='set it to "full" or "smoke"'):
        run(wrong)


@pytest.mark.parametrize("name", GUIDES)
def test_each_guide_names_its_times_on_cpu_gpu_and_tpu(name):
    header, _ = guides.parse(ROOT / "guides" / f"{name}.py")
    times = header["Expected time"]
    for device in ("CPU", "GPU", "TPU"):
        assert re.search(rf"\b{device}\b", times), (name, device, times)
    # A duration for each, and the smoke run measured here.
    assert len(re.findall(r"\d+ (?:min|h)\b", times)) >= 4, times
    assert "smoke" in times and "measured" in times, times
    page = (ROOT / "guides" / "md" / f"{name}.md").read_text("utf-8")
    assert times in page and guides.TIMES_BASIS in page


def test_describe_accelerator_names_the_backend_and_its_devices():
    line = accelerator.describe_accelerator()
    assert line.startswith(
        f"Keras backend {keras.config.backend()}, computing on "
    ), line
    kind, count, _ = accelerator._backend_devices(keras.config.backend())
    assert kind in ("CPU", "GPU", "TPU") and count >= 1
    if kind == "CPU":
        assert "the CPU only" in line


@pytest.mark.parametrize(
    "devices, machine, expected",
    [
        (("GPU", 1, "Tesla T4"), None, "computing on 1 GPU (Tesla T4)."),
        (("TPU", 8, "TPU v2"), None, "computing on 8 TPU devices (TPU v2)."),
        (("CPU", 1, "CPU"), None, "the CPU only: no GPU or TPU found."),
        (("CPU", 2, "cpu"), None, "the CPU only (2 CPU devices): no GPU"),
        (
            ("CPU", 1, "CPU"),
            ("GPU", "Tesla T4"),
            "although this machine has a GPU (Tesla T4): install",
        ),
    ],
)
def test_describe_accelerator_says_what_it_found(
    devices, machine, expected, monkeypatch
):
    monkeypatch.setattr(accelerator, "_backend_devices", lambda _: devices)
    monkeypatch.setattr(accelerator, "_machine_accelerator", lambda: machine)
    assert expected in accelerator.describe_accelerator()


def test_describe_accelerator_names_the_fix_for_an_unused_accelerator(
    monkeypatch,
):
    cpu = ("CPU", 1, "CPU")
    monkeypatch.setattr(accelerator, "_backend_devices", lambda _: cpu)
    monkeypatch.setattr(
        accelerator, "_machine_accelerator", lambda: ("TPU", "v5litepod-1")
    )
    for backend, fix in [
        ("jax", "jax[tpu]"),
        ("torch", 'only JAX computes on it here (KERAS_BACKEND="jax")'),
    ]:
        monkeypatch.setattr(keras.config, "backend", lambda: backend)
        line = accelerator.describe_accelerator()
        assert "has a TPU (v5litepod-1)" in line and fix in line, line
    monkeypatch.setattr(
        accelerator, "_machine_accelerator", lambda: ("GPU", "Tesla T4")
    )
    for backend, fix in [
        ("jax", "jax[cuda12]"),
        ("tensorflow", "tensorflow[and-cuda]"),
        ("torch", "a CUDA build of PyTorch"),
    ]:
        monkeypatch.setattr(keras.config, "backend", lambda: backend)
        assert fix in accelerator.describe_accelerator()


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
