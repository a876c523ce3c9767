"""Fine-tuning on a small file with the defaults: does it just work?

The acceptance check of issue 28 ("fine-tuning that works on a small
file"): a new user's 160-row training file, string labels, no options.
It builds a 200-row task from the shared corpora, sentences of Jane
Austen's novels labelled "austen" and of State of the Union addresses
labelled "sotu" (160 train / 40 test, both balanced, fixed seed), runs
`finetune("classify", preset, train, test)` with every other option at
its default, and prints the test accuracy (the target: 0.8 or more).

    python benchmarks/finetune_small_file.py runs/quick/preset

The preset is any pre-trained preset with a tokenizer, e.g. the `preset/`
folder of `keras-electra pretrain --output runs/quick --steps 300`.
"""

import argparse
import csv
import os
import random
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.environ.get(
    "KERAS_ELECTRA_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data")
)
PER_CLASS = 100  # 80 train, 20 test
SOURCES = {"austen": "austen.txt", "sotu": "sotu.txt"}


def sentences(path, limit=4_000_000):
    """Sentences of 8 to 40 words from the paragraphs (blank-line
    separated, lines joined) of the first `limit` characters of `path`."""
    with open(path, encoding="utf-8") as f:
        text = f.read(limit)
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split()).replace("_", "")
        ends = r"(?<![MD]r\.)(?<!Mrs\.)(?<=[.!?])\s+"  # not after Mr.
        for sentence in re.split(ends, paragraph):
            sentence = sentence.strip("\"' ")
            if 8 <= len(sentence.split()) <= 40:
                found.append(sentence)
    return found


def build_task(folder, seed=0):
    """`(train.csv, test.csv)` in `folder`: columns text, label."""
    rng = random.Random(seed)
    train, test = [], []
    for label, name in SOURCES.items():
        pool = sentences(os.path.join(DATA, "corpus", name))
        chosen = rng.sample(pool, PER_CLASS)
        cut = PER_CLASS * 4 // 5
        train += [(s, label) for s in chosen[:cut]]
        test += [(s, label) for s in chosen[cut:]]
    rng.shuffle(train)
    rng.shuffle(test)
    paths = []
    for split, rows in (("train", train), ("test", test)):
        path = os.path.join(folder, f"{split}.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        paths.append(path)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "preset",
        nargs="?",
        default="electra_run/preset",
        help="a pre-trained preset with its tokenizer",
    )
    parser.add_argument(
        "--backend", default=os.environ.get("KERAS_BACKEND", "jax")
    )
    parser.add_argument("--seed", type=int, default=0, help="the data's")
    parser.add_argument(
        "--output", help="keep the task files and the model here"
    )
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    sys.path.insert(0, ROOT)
    from keras_electra.jobs.finetune import finetune

    folder = args.output or tempfile.mkdtemp(prefix="finetune_small_")
    os.makedirs(folder, exist_ok=True)
    train, test = build_task(folder, args.seed)
    # Defaults only, as a new user runs it.
    result = finetune(
        "classify",
        args.preset,
        train,
        test,
        output=os.path.join(folder, "run"),
        verbose=0,
    )
    print(
        f"{result['train_examples']} training rows, classes "
        f"{', '.join(result['class_names'])}: {result['epochs']} epochs, "
        f"{result['updates']} updates ({result['seconds']:.0f} s)"
    )
    for warning in result["warnings"]:
        print(f"Warning: {warning}")
    print(f"Confusion matrix (rows: true): {result['confusion_matrix']}")
    print(f"Test accuracy: {result['accuracy']:.4f} (target: 0.8 or more)")
    print(f"Files and model: {folder}")


if __name__ == "__main__":
    main()
