"""Command-line arguments shared by the benchmarks on the labelled tasks."""

import argparse
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def task_benchmark_parser(description, tasks):
    """A parser with --preset, --data, --tasks, --backend and --seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--preset",
        required=True,
        help="a pre-trained preset with its tokenizer",
    )
    parser.add_argument(
        "--data",
        default=os.environ.get(
            "KERAS_ELECTRA_SHARED_DATA",
            os.path.join(ROOT, "..", "shared", "data"),
        ),
    )
    parser.add_argument("--tasks", nargs="+", default=list(tasks))
    parser.add_argument(
        "--backend", default=os.environ.get("KERAS_BACKEND", "jax")
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser
