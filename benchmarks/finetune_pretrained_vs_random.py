"""Does pre-training with keras-electra help? Pre-trained vs random weights.

Fine-tunes the same architecture twice on each labelled task in
`../shared/data/tasks` (polarity and finefoods classification, wsj_pos
tagging): once from a preset pre-trained by this package, once from random
weights, with the same recipe, data, seed and tokenizer, and prints one
table of test metrics.

    # 1. Pre-train a tiny ELECTRA on the shared corpora (about 40 minutes on
    #    2 CPU cores), or use any preset with a tokenizer:
    keras-electra pretrain --backend jax --output runs/tiny \\
        --corpus ../shared/data/corpus/sotu.txt \\
            ../shared/data/corpus/news.txt \\
                 ../shared/data/corpus/austen.txt --steps 2500
    # 2. Compare:
    python benchmarks/finetune_pretrained_vs_random.py --preset runs/tiny/preset

This is a benchmark, not a test: it takes minutes and its numbers depend on
how long the preset was pre-trained.
"""

import json
import os
import sys

from _shared_tasks import task_benchmark_parser

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TASKS = {
    "polarity": (
        "classify",
        "polarity/train.csv",
        "polarity/test.csv",
        "accuracy",
    ),
    "finefoods": (
        "classify",
        "finefoods/train.csv",
        "finefoods/test.csv",
        "accuracy",
    ),
    "wsj_pos": ("tag", "wsj_pos/train.tsv", "wsj_pos/test.tsv", "accuracy"),
}


def main():
    parser = task_benchmark_parser(__doc__.split("\n\n")[0], TASKS)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--output", help="write the results as JSON here")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    sys.path.insert(0, ROOT)
    from keras_electra.jobs.finetune import finetune

    rows = []
    for name in args.tasks:
        task, train, test, metric = TASKS[name]
        results = {}
        for pretrained in (True, False):
            result = finetune(
                task,
                args.preset,
                os.path.join(args.data, "tasks", train),
                os.path.join(args.data, "tasks", test),
                epochs=args.epochs,
                batch_size=args.batch_size,
                sequence_length=args.sequence_length,
                learning_rate=args.learning_rate,
                load_weights=pretrained,
                seed=args.seed,
                verbose=0,
            )
            results["pretrained" if pretrained else "random"] = result
            print(
                f"{name:10s} {'pre-trained' if pretrained else 'random':11s} "
                f"{metric} {result[metric]:.4f} "
                f"({result['seconds']:.0f} s)",
                flush=True,
            )
        rows.append((name, metric, results))
    print()
    print("| task | metric | pre-trained | random init | gain |")
    print("|---|---|---|---|---|")
    for name, metric, r in rows:
        a, b = r["pretrained"][metric], r["random"][metric]
        print(f"| {name} | {metric} | {a:.4f} | {b:.4f} | {a - b:+.4f} |")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({name: r for name, _, r in rows}, f, indent=2)


if __name__ == "__main__":
    main()
