"""Matrix-multiply peaks that MFU figures divide by, measured honestly.

Each backend's own square float32 matmul (2048 x 2048 by default) is timed
in a process of its own, so each runs with its own threading and library
settings: numpy (OpenBLAS), JAX (XLA), TensorFlow (Eigen/oneDNN) and
PyTorch (MKL or oneDNN on CPU, cuBLAS on a GPU). The peak is the best of
a few rounds (it is a ceiling; noise only lowers it).

numpy is measured twice where the environment pins OpenBLAS's kernels:
some machines set `OPENBLAS_CORETYPE` (e.g. `Haswell`, AVX2 kernels on an
AVX-512 processor) and `OPENBLAS_L2_SIZE`. `numpy_unpinned` removes both
variables from that one child's environment (a copy; this process, tests
and CI keep theirs), which on the development machines doubles numpy's
matmul (about 200 -> 400 GFLOP/s on 2 AMD EPYC cores).

    python benchmarks/_peak.py                    # CPU peaks, a table
    python benchmarks/_peak.py --backends jax,torch --size 8192 \\
        --dtype bfloat16                          # on a GPU

Example:

```python
import _peak

peaks = _peak.measure_peaks(["numpy_unpinned", "jax"])
print({name: flops / 1e9 for name, flops in peaks.items()})
```
"""

import argparse
import json
import os
import subprocess
import sys
import time

# The variables that pin OpenBLAS's kernels and cache size.
PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# What `measure_peaks` can measure; "numpy_unpinned" is numpy with the
# variables above removed from its environment.
SOURCES = ("numpy", "numpy_unpinned", "jax", "tensorflow", "torch")


def measure_peaks(
    sources, size=2048, dtype="float32", rounds=3, repeats=5, timeout=300
):
    """FLOP/s of each source's own square matmul, each in a fresh process.

    Args:
        sources: names from `SOURCES`.
        size: the matrices' side.
        dtype: `"float32"` or `"bfloat16"` (not numpy).
        rounds: timed rounds; the best is kept.
        repeats: matmuls per round.
        timeout: seconds allowed to each process.

    Returns:
        A dict from source to FLOP/s; None where the backend is missing,
        the dtype unsupported, or the process failed.
    """
    return {
        source: measure_peak(source, size, dtype, rounds, repeats, timeout)
        for source in sources
    }


def measure_peak(
    source, size=2048, dtype="float32", rounds=3, repeats=5, timeout=300
):
    """FLOP/s of one source's matmul in a fresh process (see
    `measure_peaks`); None if it could not be measured."""
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; one of {SOURCES}.")
    env = child_environment(source)
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        source,
        "--size",
        str(size),
        "--dtype",
        dtype,
        "--rounds",
        str(rounds),
        "--repeats",
        str(repeats),
    ]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None
    for line in done.stdout.splitlines():
        if line.startswith("PEAK "):
            return json.loads(line[5:])
    return None


def child_environment(source, environ=None):
    """The environment of `source`'s process: a copy of `environ` (this
    process's by default), without OpenBLAS's pinning for
    `numpy_unpinned`, quiet for TensorFlow."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if source == "numpy_unpinned":
        for name in PINNING:
            env.pop(name, None)
    return env


def pinned(environ=None):
    """The OpenBLAS pinning variables set in `environ` (a dict)."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in PINNING if name in environ}


# === In the child process ===


def _matmul_rate(source, size, dtype, rounds, repeats):
    """Best FLOP/s over `rounds` of `repeats` products on the default
    device, each round ended by a wait for the device."""
    if source.startswith("numpy"):
        import numpy as np

        if dtype != "float32":
            return None
        a = np.random.rand(size, size).astype(dtype)
        b = np.random.rand(size, size).astype(dtype)
        multiply, wait = (lambda: a @ b), (lambda c: c)
    elif source == "jax":
        import jax
        import jax.numpy as jnp

        key_a, key_b = jax.random.split(jax.random.PRNGKey(0))
        a = jax.random.uniform(key_a, (size, size), dtype=dtype)
        b = jax.random.uniform(key_b, (size, size), dtype=dtype)
        product = jax.jit(jnp.matmul)
        multiply, wait = (lambda: product(a, b)), jax.block_until_ready
    elif source == "tensorflow":
        import tensorflow as tf

        a = tf.random.uniform((size, size), dtype=dtype)
        b = tf.random.uniform((size, size), dtype=dtype)
        multiply = lambda: tf.linalg.matmul(a, b)  # noqa: E731
        wait = lambda c: c[0, 0].numpy()  # noqa: E731
    else:  # torch
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        a = torch.rand(size, size, device=device, dtype=getattr(torch, dtype))
        b = torch.rand(size, size, device=device, dtype=getattr(torch, dtype))
        multiply = lambda: torch.mm(a, b)  # noqa: E731
        wait = lambda c: c[0, 0].item()  # noqa: E731
    wait(multiply())  # compile, allocate, warm the caches
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            c = multiply()
        wait(c)
        best = max(best, repeats / (time.perf_counter() - start))
    return 2 * size**3 * best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sources", "--backends", default=",".join(SOURCES), dest="sources"
    )
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        try:
            rate = _matmul_rate(
                args.child, args.size, args.dtype, args.rounds, args.repeats
            )
        except (ImportError, TypeError, ValueError, RuntimeError):
            rate = None
        print("PEAK " + json.dumps(rate))
        return
    peaks = measure_peaks(
        args.sources.split(","),
        args.size,
        args.dtype,
        args.rounds,
        args.repeats,
    )
    print(
        f"{args.size}x{args.size} {args.dtype} matmul, best of "
        f"{args.rounds} rounds; OpenBLAS pinning here: {pinned() or 'none'}"
    )
    for source, rate in peaks.items():
        shown = "n/a" if rate is None else f"{rate / 1e9:8.1f} GFLOP/s"
        print(f"{source:16s} {shown}")


if __name__ == "__main__":
    main()
