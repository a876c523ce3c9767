"""Does pre-training help, and does replaced-token detection beat masked-LM
at equal compute? The paper's Figure 4 in miniature, on these CPUs.

Three commands, each resumable (run it again after a stop and it goes on
where it was):

    # 1. Pre-train every arm to the same FLOPs, with checkpoints on the way
    #    (arms: NAME=FLAGS for `keras-electra pretrain`):
    python benchmarks/study_rtd_vs_mlm.py pretrain --output runs/study \\
        --budget-steps 2000 --arm rtd= --arm mlm="--objective mlm"
    # 2. Evaluate: random weights, then the checkpoints from the last back:
    #    frozen linear probes at every other one, fine-tuning (3 seeds)
    #    half-way and at the end:
    python benchmarks/study_rtd_vs_mlm.py evaluate --output runs/study
    # 3. Tables and plots (score against pre-training FLOPs; the
    #    discriminators' AUC, precision and recall):
    python benchmarks/study_rtd_vs_mlm.py report --output runs/study

The budget is `--budget-steps` steps of the first arm; every other arm gets
as many steps as the same FLOPs buy (an MLM step on the discriminator-sized
encoder costs less than ELECTRA's joint step), and checkpoints at the same
FLOPs. FLOPs are counted as in `pretrain_throughput.py` (3x the forward
matmuls). Results accumulate in `results.jsonl`, one line per (arm, step,
kind, task, seed); the report reads them and each arm's `log.csv`.
"""

import argparse
import glob
import json
import os
import shlex
import subprocess
import sys

import numpy as np
from pretrain_throughput import tower_flops

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.environ.get(
    "KERAS_ELECTRA_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data")
)
CORPUS = ["sotu.txt", "news.txt", "austen.txt"]
TASKS = {
    "polarity": ("classify", "polarity/train.csv", "polarity/test.csv"),
    "finefoods": ("classify", "finefoods/train.csv", "finefoods/test.csv"),
    "wsj_pos": ("tag", "wsj_pos/train.tsv", "wsj_pos/test.tsv"),
}
RESULTS = "results.jsonl"
KIND_TITLES = {"probe": "frozen probe", "finetune": "fine-tuned (seeds' mean)"}
PLAN = "study.json"


# --- FLOPs ---------------------------------------------------------------


def arm_options(flags):
    """The options of `keras-electra pretrain` that change a step's cost."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--objective", default="rtd")
    parser.add_argument("--replacement", default="generator")
    parser.add_argument("--generator-size", type=float)
    parser.add_argument("--preset", default="electra_tiny")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    known, _ = parser.parse_known_args(shlex.split(flags))
    return known


def step_flops(flags, vocabulary_size):
    """Training FLOPs of one step of the arm `flags` (see the module doc)."""
    sys.path.insert(0, ROOT)
    from keras_electra.utils import preset_utils

    options = arm_options(flags)
    preset = preset_utils.resolve_preset(options.preset)
    task = preset_utils.load_json(preset, preset_utils.TASK_CONFIG_FILE)
    task = task["config"]
    disc = task["discriminator"]["config"]["backbone"]["config"]
    gen = dict(task["generator"]["config"]["backbone"]["config"])
    if options.generator_size:
        hidden = int(round(options.generator_size * disc["hidden_dim"]))
        gen.update(hidden_dim=hidden, intermediate_dim=4 * hidden)
    b, length = options.batch_size, options.sequence_length
    emb, hidden = disc["embedding_dim"], disc["hidden_dim"]
    slots = int((task["mask_rate"] + 0.005) * length)
    forward = tower_flops(
        b, length, disc["num_layers"], hidden, disc["intermediate_dim"], emb
    )
    if options.objective == "mlm":
        head = hidden
    else:
        forward += 2 * b * length * hidden**2  # the discriminator's head
        head = gen["hidden_dim"]
        if options.replacement == "generator":
            forward += tower_flops(
                b,
                length,
                gen["num_layers"],
                gen["hidden_dim"],
                gen["intermediate_dim"],
                emb,
            )
        else:
            head = 0  # no generator, no MLM head
    if head:
        forward += 2 * b * slots * (head * emb + emb * vocabulary_size)
    return 3 * forward


# --- pretrain ------------------------------------------------------------


def parse_arms(values):
    arms = {}
    for value in values or ["rtd=", "mlm=--objective mlm"]:
        name, _, flags = value.partition("=")
        if not name or name in arms:
            raise SystemExit(f"--arm needs a new NAME=FLAGS; got {value!r}")
        arms[name] = flags
    return arms


def pretrain_command(args):
    os.makedirs(args.output, exist_ok=True)
    plan_path = os.path.join(args.output, PLAN)
    if os.path.exists(plan_path):
        with open(plan_path) as f:
            plan = json.load(f)
        print(f"Continuing the study in {args.output} ({plan_path}).")
    else:
        plan = {
            "arms": parse_arms(args.arm),
            "budget_steps": args.budget_steps,
            "points": args.points,
            "backend": args.backend,
            "seed": args.seed,
            "corpus": [os.path.join(DATA, "corpus", c) for c in CORPUS],
        }
    names = list(plan["arms"])
    vocabulary = os.path.join(args.output, names[0], "vocab.txt")
    for index, name in enumerate(names):
        flags = plan["arms"][name]
        run = os.path.join(args.output, name)
        if index > 0 and "vocabulary_size" not in plan:
            raise SystemExit(f"The first arm has no vocabulary: {vocabulary}")
        size = plan.get("vocabulary_size", 8000)
        if index == 0:
            steps = plan["budget_steps"]
        else:
            budget = plan["budget_steps"] * step_flops(
                plan["arms"][names[0]], size
            )
            steps = int(round(budget / step_flops(flags, size)))
        every = max(1, steps // plan["points"])
        command = [
            sys.executable,
            "-m",
            "keras_electra.cli",
            "pretrain",
            "--backend",
            plan["backend"],
            "--output",
            run,
            "--steps",
            str(steps),
            "--checkpoint-every",
            str(every),
            "--keep-checkpoints",
            "0",
            "--seed",
            str(plan["seed"]),
            "--log-every",
            "25",
            "--resume",
            "--corpus",
            *plan["corpus"],
            *(["--vocab", vocabulary] if index > 0 else []),
            *shlex.split(flags),
        ]
        print(f"[{name}] {steps} steps, checkpoint every {every}", flush=True)
        subprocess.run(command, check=True, cwd=ROOT)
        if index == 0:
            with open(vocabulary, encoding="utf-8") as f:
                plan["vocabulary_size"] = sum(1 for line in f if line.strip())
        plan.setdefault("steps", {})[name] = steps
        plan.setdefault("flops_per_step", {})[name] = step_flops(
            flags, plan["vocabulary_size"]
        )
        with open(plan_path + ".tmp", "w") as f:
            json.dump(plan, f, indent=2)
        os.replace(plan_path + ".tmp", plan_path)


# --- evaluate ------------------------------------------------------------


def read_results(output):
    path = os.path.join(output, RESULTS)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def checkpoints_of(output, name):
    paths = sorted(glob.glob(os.path.join(output, name, "checkpoints", "*")))
    return [
        (int(p.rsplit("-", 1)[-1]), os.path.join(p, "preset")) for p in paths
    ]


def evaluate_command(args):
    os.environ["KERAS_BACKEND"] = args.backend
    sys.path.insert(0, ROOT)
    with open(os.path.join(args.output, PLAN)) as f:
        plan = json.load(f)
    done = {
        (r["arm"], r["step"], r["kind"], r["task"], r["seed"])
        for r in read_results(args.output)
    }
    jobs = []  # (priority, arm, step, preset, kinds)
    names = list(plan["arms"])
    first = checkpoints_of(args.output, names[0])
    if first and "random" in (args.arms or ["random"]):
        jobs.append((0, "random", 0, first[-1][1], ("probe", "finetune")))
    for name in names:
        if args.arms and name not in args.arms:
            continue
        run = os.path.join(args.output, name, "run.json")
        if not os.path.exists(run):
            continue
        with open(run) as f:
            total = json.load(f)["steps"]
        # Each checkpoint's place on the run's grid of `points` (the last
        # one of a place, when the final step is off the grid).
        grid = {
            round(step / total * plan["points"]): (step, preset)
            for step, preset in checkpoints_of(args.output, name)
        }
        for point, (step, preset) in sorted(grid.items()):
            kinds = []
            if point % args.probe_every == 0:
                kinds.append("probe")
            if any(
                round(f * plan["points"]) == point for f in args.finetune_at
            ):
                kinds.append("finetune")
            if kinds:
                jobs.append((plan["points"] - point, name, step, preset, kinds))
    jobs = [job[1:] for job in sorted(jobs, key=lambda job: job[0])]
    with open(os.path.join(args.output, RESULTS), "a") as out:
        for arm, step, preset, kinds in jobs:
            for kind in kinds:
                seeds = args.seeds if kind == "finetune" else [0]
                for seed in seeds:
                    todo = [
                        t
                        for t in args.tasks
                        if (arm, step, kind, t, seed) not in done
                    ]
                    if not todo:
                        continue
                    evaluate = probe if kind == "probe" else fine_tune
                    for task, scores in evaluate(
                        preset, todo, seed, pretrained=arm != "random"
                    ):
                        row = {
                            "arm": arm,
                            "step": step,
                            "kind": kind,
                            "task": task,
                            "seed": seed,
                            **scores,
                        }
                        out.write(json.dumps(row) + "\n")
                        out.flush()
                        print(
                            f"{arm:8s} step {step:5d} {kind:8s} {task:9s} "
                            f"seed {seed}: {scores['score']:.4f}",
                            flush=True,
                        )


def fine_tune(preset, tasks, seed, pretrained):
    from keras_electra.jobs.finetune import finetune

    for name in tasks:
        kind, train, test = TASKS[name]
        result = finetune(
            kind,
            preset,
            os.path.join(DATA, "tasks", train),
            os.path.join(DATA, "tasks", test),
            load_weights=pretrained,
            seed=seed,
            # The recipe of the published tables (3 epochs), pinned so
            # that a change of finetune's defaults leaves the study as it is.
            epochs=3,
            verbose=0,
        )
        yield name, {"score": result["accuracy"], "seconds": result["seconds"]}


def probe(preset, tasks, seed, pretrained):
    """Softmax regressions on the frozen encoder's layers; the score is the
    last layer's, and every layer's is kept."""
    import keras
    from probe_pretrained_vs_random import classification_data
    from probe_pretrained_vs_random import layer_features
    from probe_pretrained_vs_random import probe_accuracy
    from probe_pretrained_vs_random import tagging_data

    import keras_electra

    tokenizer = keras_electra.ElectraTokenizer.from_preset(preset)
    keras.utils.set_random_seed(seed)
    backbone = keras_electra.ElectraBackbone.from_preset(
        preset, load_weights=pretrained
    )
    for name in tasks:
        if name == "wsj_pos":
            splits, classes = tagging_data(
                tokenizer, os.path.join(DATA, "tasks")
            )
        else:
            splits, classes = classification_data(
                tokenizer, os.path.join(DATA, "tasks"), name
            )
        (train_x, train_pick, train_y), (test_x, test_pick, test_y) = splits
        train_h = layer_features(backbone, train_x)
        test_h = layer_features(backbone, test_x)
        layers = [
            probe_accuracy(
                train_pick(a), train_y, test_pick(b), test_y, classes, seed
            )
            for a, b in zip(train_h, test_h)
        ]
        yield name, {"score": layers[-1], "layers": layers}


# --- report --------------------------------------------------------------


def report_command(args):
    sys.path.insert(0, ROOT)
    with open(os.path.join(args.output, PLAN)) as f:
        plan = json.load(f)
    rows = read_results(args.output)
    names = list(plan["arms"])
    table = summarise(rows, plan)
    lines = [
        "| arm | step | PFLOPs | kind | " + " | ".join(args.tasks) + " |",
        "|---|---:|---:|---|" + "---|" * len(args.tasks),
    ]
    for (arm, step, kind), by_task in sorted(
        table.items(), key=lambda kv: (kv[0][0] != "random", kv[0])
    ):
        flops = step * plan["flops_per_step"].get(arm, 0) / 1e15
        cells = []
        for task in args.tasks:
            if task not in by_task:
                cells.append("-")
                continue
            mean, spread, n = by_task[task]
            cells.append(
                f"{mean:.4f}" + (f" ± {spread:.4f} ({n})" if n > 1 else "")
            )
        lines.append(
            f"| {arm} | {step} | {flops:.3f} | {kind} | "
            + " | ".join(cells)
            + " |"
        )
    text = "\n".join(lines)
    with open(os.path.join(args.output, "study.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    plot_scores(table, plan, names, args.tasks, args.output)
    plot_discriminators(plan, names, args.output)


def summarise(rows, plan):
    """{(arm, step, kind): {task: (mean, spread, seeds)}}, where spread is
    the seeds' standard deviation (0 for one seed)."""
    grouped = {}
    for r in rows:
        key = (r["arm"], r["step"], r["kind"])
        grouped.setdefault(key, {}).setdefault(r["task"], []).append(r["score"])
    return {
        key: {
            task: (float(np.mean(v)), float(np.std(v)), len(v))
            for task, v in tasks.items()
        }
        for key, tasks in grouped.items()
    }


def plot_scores(table, plan, names, tasks, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = ("probe", "finetune")
    fig, axes = plt.subplots(
        2, len(tasks), figsize=(4.6 * len(tasks), 7.5), squeeze=False
    )
    for row, kind in enumerate(kinds):
        for col, task in enumerate(tasks):
            ax = axes[row, col]
            random = table.get(("random", 0, kind), {}).get(task)
            if random is not None:
                mean, spread, _ = random
                ax.axhline(mean, color="gray", linestyle="--", label="random")
                ax.errorbar(
                    [0], [mean], yerr=[spread], color="gray", marker="s"
                )
                if spread:
                    ax.axhspan(
                        mean - spread, mean + spread, color="gray", alpha=0.15
                    )
            for name in names:
                points = sorted(
                    (step, by_task[task])
                    for (arm, step, k), by_task in table.items()
                    if arm == name and k == kind and task in by_task
                )
                if not points:
                    continue
                per_step = plan["flops_per_step"][name]
                x = [step * per_step / 1e15 for step, _ in points]
                y = [v[0] for _, v in points]
                err = [v[1] for _, v in points]
                ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
            ax.set_xlim(left=-0.001)
            ax.set(
                title=f"{task}: {KIND_TITLES[kind]}",
                xlabel="pre-training PFLOPs",
                ylabel="test accuracy",
            )
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(
        "Score against pre-training compute (random = no pre-training)"
    )
    fig.tight_layout()
    path = os.path.join(output, "study_scores.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"Wrote {path}")


def plot_discriminators(plan, names, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_electra.utils.plotting import read_log

    logs = {
        name: read_log(os.path.join(output, name, "log.csv"))
        for name in names
        if os.path.exists(os.path.join(output, name, "log.csv"))
    }
    logs = {k: v for k, v in logs.items() if "discriminator_loss" in v}
    if not logs:
        return
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    for name, log in logs.items():
        x = np.asarray(log["step"]) * plan["flops_per_step"][name] / 1e15
        p = np.clip(np.asarray(log["replaced_fraction"]), 1e-6, 1 - 1e-6)
        prior = -(p * np.log(p) + (1 - p) * np.log(1 - p))
        (line,) = axes[0].plot(x, log["discriminator_loss"], label=name)
        axes[0].plot(
            x,
            prior,
            linestyle="--",
            color=line.get_color(),
            alpha=0.6,
            label=f"{name}: prior's entropy",
        )
        axes[1].plot(x, log["discriminator_auc"], label=name)
        axes[2].plot(x, log["discriminator_precision"], label=name)
        axes[2].plot(
            x,
            p,
            linestyle="--",
            color=line.get_color(),
            alpha=0.6,
            label=f"{name}: flag everything",
        )
        axes[3].plot(x, log["discriminator_recall"], label=name)
    axes[1].axhline(0.5, color="gray", linestyle="--", label="chance")
    titles = ("RTD loss", "ROC AUC", "precision", "recall")
    for ax, title in zip(axes, titles):
        ax.set(title=f"Discriminator {title}", xlabel="pre-training PFLOPs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(output, "study_discriminator.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"Wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("pretrain", "evaluate", "report"):
        p = sub.add_parser(name)
        p.add_argument("--output", required=True, help="the study's folder")
        p.add_argument(
            "--backend", default=os.environ.get("KERAS_BACKEND", "jax")
        )
        p.add_argument("--tasks", nargs="+", default=list(TASKS))
        if name == "pretrain":
            p.add_argument(
                "--arm",
                action="append",
                help="NAME=FLAGS for `keras-electra pretrain` (repeat; "
                "default: rtd= and mlm=--objective mlm)",
            )
            p.add_argument("--budget-steps", type=int, default=2000)
            p.add_argument("--points", type=int, default=8)
            p.add_argument("--seed", type=int, default=0)
        if name == "evaluate":
            p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
            p.add_argument(
                "--finetune-at",
                type=float,
                nargs="+",
                default=[0.5, 1.0],
                help="fractions of each run whose checkpoints are "
                "fine-tuned (with every seed)",
            )
            p.add_argument(
                "--probe-every",
                type=int,
                default=2,
                help="probe every n-th checkpoint of the run's grid",
            )
            p.add_argument(
                "--arms",
                nargs="+",
                help="evaluate only these arms (and `random` only if "
                "named); default: every arm and random weights",
            )
    args = parser.parse_args()
    {
        "pretrain": pretrain_command,
        "evaluate": evaluate_command,
        "report": report_command,
    }[args.command](args)


if __name__ == "__main__":
    main()
