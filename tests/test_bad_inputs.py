"""Bad input, over every command: exit status 2, one line that names the
problem, no traceback, and no file written, removed or changed."""

import json
import os
import pathlib
import shutil

import pytest
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import once_per_suite

from keras_electra import cli

pytestmark = needs_shared

GOOD_TEXT = "The whale swam north.\nIt was a long way.\n\nA new day came.\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory, micro_preset, preset, tokenizer):
    """Every input the cases read, good and bad, in one folder."""
    root = tmp_path_factory.mktemp("inputs")

    def write(name, text=None, data=None):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    squad = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": "The whale swam north.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Where?",
                                "answers": [
                                    {"text": "north", "answer_start": 15}
                                ],
                            }
                        ],
                    }
                ]
            }
        ]
    }

    def squad_with(change):
        data = json.loads(json.dumps(squad))
        change(data["data"][0]["paragraphs"][0]["qas"][0])
        return json.dumps(data)

    (root / "userdir").mkdir()
    (root / "userdir" / "precious.txt").write_text("mine")
    (root / "not_a_preset").mkdir()
    (root / "broken_preset").mkdir()
    (root / "broken_preset" / "config.json").write_text("{ not json")
    (root / "a_folder").mkdir()
    return dict(
        root=str(root),
        micro=micro_preset,
        trained=preset,
        vocab=str(VOCAB_FILE),
        text=write("good.txt", GOOD_TEXT * 20),
        empty=write("empty.txt", ""),
        latin1=write("latin1.txt", data="caf\xe9 au lait\n".encode("latin-1")),
        no_special=write("no_special.txt", "a\nb\nc\n"),
        duplicates=write(
            "duplicates.txt", "\n".join(special + ["a", "b", "a"]) + "\n"
        ),
        file=write("a_file.txt", "x"),
        train=write("train.csv", "text,label\ngood film,1\nbad film,0\n"),
        nan=write("nan.csv", "text,label\ngood film,nan\n"),
        inf=write("inf.csv", "text,label\ngood film,inf\n"),
        no_label=write("no_label.csv", "text,score\ngood film,1\n"),
        latin1_csv=write(
            "latin1.csv", data="text,label\ncaf\xe9,1\n".encode("latin-1")
        ),
        named=write("named.csv", "text,label\ngood film,pos\nbad film,neg\n"),
        unseen=write("unseen.csv", "text,label\ngood film,neutral\n"),
        one_name=write("one_name.csv", "text,label\ngood film,pos\n"),
        mixed=write("mixed.csv", "text,label\ngood film,1\nbad film,neg\n"),
        review=write("review.csv", "review,label\ngood film,pos\n"),
        squad=write("squad.json", json.dumps(squad)),
        no_question=write(
            "no_question.json", squad_with(lambda qa: qa.pop("question"))
        ),
        bad_start=write(
            "bad_start.json",
            squad_with(lambda qa: qa["answers"][0].update(answer_start="abc")),
        ),
        outside=write(
            "outside.json",
            squad_with(lambda qa: qa["answers"][0].update(answer_start=99)),
        ),
    )


@pytest.fixture(scope="module")
def classifier_files(files, preset, tokenizer):
    """`files` with a fine-tuned-looking classifier (`classifier`), and a
    copy whose classifier.json is broken (`broken_classifier`)."""
    root = pathlib.Path(files["root"]) / "classifiers"
    folder = _classifier(preset, tokenizer, root / "classifier")
    broken = str(root / "broken_classifier")
    shutil.copytree(folder, broken)
    with open(os.path.join(broken, "model", "classifier.json"), "w") as f:
        f.write("{ not json")
    return dict(files, classifier=folder, broken_classifier=broken)


def _classifier(preset, tokenizer, folder):
    """A fine-tuned-looking classifier folder (untrained: only its files
    matter), as `finetune --task classify --output` writes it."""
    from keras_electra import ElectraTextClassifier

    preprocessor = ElectraTextClassifier.preprocessor_cls(
        tokenizer, sequence_length=16
    )
    model = ElectraTextClassifier.from_preset(
        preset, num_classes=2, preprocessor=preprocessor
    )
    model.save_to_preset(str(folder / "model"))
    tokenizer.save_to_preset(str(folder / "model"))
    (folder / "model" / "classifier.json").write_text(
        json.dumps(
            dict(
                class_names=["neg", "pos"],
                num_classes=2,
                text_column="text",
                pair_column=None,
                label_column="label",
            )
        )
    )
    return str(folder)


def _pretrain(f, *extra):
    return [
        "pretrain",
        "--preset",
        f["micro"],
        "--corpus",
        f["text"],
        "--vocab",
        f["vocab"],
        "--output",
        os.path.join(f["root"], "run"),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--sequence-length",
        "32",
        *extra,
    ]


def _finetune(f, *extra, train=None, task="classify", test=None):
    return [
        "finetune",
        "--task",
        task,
        "--preset",
        f["trained"],
        "--train",
        train or f["train"],
        "--test",
        test or train or f["train"],
        "--sequence-length",
        "16",
        *extra,
    ]


def _predict(f, *extra, model=None, file=None):
    return ["predict", model or f["classifier"], file or f["named"], *extra]


def _build(f, *extra):
    base = ["build-data", "--corpus", f["text"], "--vocab", f["vocab"]]
    return base + ["--output", os.path.join(f["root"], "shards"), *extra]


def _vocab(f, *extra):
    base = ["vocab", "--corpus", f["text"], "--size", "200"]
    return base + ["--output", os.path.join(f["root"], "v.txt"), *extra]


# (case id, argv maker, a phrase the one line must hold)
CASES = [
    ("vocab-size 0", lambda f: _pretrain(f, "--vocab-size", "0"), "--vocab-size must be positive"),
    ("batch 0", lambda f: _pretrain(f, "--batch-size", "0"), "--batch-size must be positive"),
    ("steps 0", lambda f: _pretrain(f, "--steps", "0"), "--steps must be positive"),
    ("length 4", lambda f: _pretrain(f, "--sequence-length", "4"), "too short to mask"),
    ("rate 0", lambda f: _pretrain(f, "--learning-rate", "0"), "--learning-rate must be positive"),
    ("warm-up -1", lambda f: _pretrain(f, "--warmup-steps", "-1"), "--warmup-steps must be 0 or more"),
    ("checkpoint 0", lambda f: _pretrain(f, "--checkpoint-every", "0"), "--checkpoint-every must be"),
    ("keep -1", lambda f: _pretrain(f, "--keep-checkpoints", "-1"), "--keep-checkpoints must be"),
    ("log 0", lambda f: _pretrain(f, "--log-every", "0"), "--log-every must be positive"),
    ("temperature 0", lambda f: _pretrain(f, "--temperature", "0"), "--temperature must be positive"),
    ("temperature steps 0", lambda f: _pretrain(f, "--temperature-steps", "0"), "--temperature-steps must be"),
    ("generator 1.5", lambda f: _pretrain(f, "--generator-size", "1.5"), "--generator-size must be in (0, 1]"),
    ("accumulation 0", lambda f: _pretrain(f, "--gradient-accumulation-steps", "0"), "--gradient-accumulation-steps must be"),
    ("mlm + temperature", lambda f: _pretrain(f, "--objective", "mlm", "--temperature", "2"), "--objective mlm does not have"),
    ("corpus missing", lambda f: _pretrain(f)[:4] + [f["root"] + "/nope.txt"] + _pretrain(f)[5:], "does not exist"),
    ("corpus empty", lambda f: _pretrain(f)[:4] + [f["empty"]] + _pretrain(f)[5:], "empty"),
    ("corpus latin-1", lambda f: _pretrain(f)[:4] + [f["latin1"]] + _pretrain(f)[5:], "UTF-8"),
    ("vocab missing", lambda f: _pretrain(f, "--vocab", f["root"] + "/nope.txt"), "does not exist"),
    ("vocab without specials", lambda f: _pretrain(f, "--vocab", f["no_special"]), "lacks the special token"),
    ("vocab duplicates", lambda f: _pretrain(f, "--vocab", f["duplicates"]), "twice (lines 6 and 8)"),
    ("preset unknown", lambda f: _pretrain(f, "--preset", "electra_nope"), "Unknown preset"),
    ("preset not a preset", lambda f: _pretrain(f, "--preset", f["root"] + "/not_a_preset"), "is not a preset"),
    ("preset broken json", lambda f: _pretrain(f, "--preset", f["root"] + "/broken_preset"), "is not readable JSON"),
    ("length over positions", lambda f: _pretrain(f, "--sequence-length", "128"), "exceeds the preset's 64 positions"),
    ("output is a file", lambda f: _pretrain(f, "--output", f["file"]), "is a file, not a folder"),
    ("output of the user", lambda f: _pretrain(f, "--output", f["root"] + "/userdir"), "holds no run of keras-electra"),
    ("overwrite the user", lambda f: _pretrain(f, "--output", f["root"] + "/userdir", "--overwrite"), "removes only what a run wrote"),
    ("shards missing", lambda f: _pretrain(f)[:3] + _pretrain(f)[5:] + ["--shards", f["root"] + "/noshards"], "No shards found"),
    ("mesh without model", lambda f: _pretrain(f, "--mesh", "2x4"), "--mesh needs --distribution model"),
    ("build shards 0", lambda f: _build(f, "--num-shards", "0"), "--num-shards 0 is too small"),
    ("build length 4", lambda f: _build(f, "--sequence-length", "4"), "--sequence-length 4 is too small"),
    ("build vocab missing", lambda f: _build(f)[:3] + ["--vocab", f["root"] + "/nope.txt"] + _build(f)[5:], "does not exist"),
    ("build vocab duplicates", lambda f: _build(f)[:3] + ["--vocab", f["duplicates"]] + _build(f)[5:], "twice"),
    ("build corpus missing", lambda f: ["build-data", "--corpus", f["root"] + "/nope.txt"] + _build(f)[3:], "does not exist"),
    ("build output is a file", lambda f: _build(f)[:-2] + ["--output", f["file"]], "is a file"),
    ("vocab output folder missing", lambda f: _vocab(f)[:-2] + ["--output", f["root"] + "/no/v.txt"], "does not exist: create"),
    ("vocab output is a folder", lambda f: _vocab(f)[:-2] + ["--output", f["root"] + "/a_folder"], "is a folder"),
    ("vocab size 3", lambda f: _vocab(f, "--size", "3"), "special tokens"),
    ("vocab corpus missing", lambda f: ["vocab", "--corpus", f["root"] + "/nope.txt"] + _vocab(f)[3:], "does not exist"),
    ("finetune epochs 0", lambda f: _finetune(f, "--epochs", "0"), "--epochs must be positive"),
    ("finetune batch 0", lambda f: _finetune(f, "--batch-size", "0"), "--batch-size must be positive"),
    ("finetune decay 2", lambda f: _finetune(f, "--layerwise-decay", "2"), "--layerwise-decay must be in (0, 1]"),
    ("finetune classes 0", lambda f: _finetune(f, "--num-classes", "0"), "--num-classes must be positive"),
    ("finetune sample 0", lambda f: _finetune(f, "--max-train-examples", "0"), "--max-train-examples must be"),
    ("finetune tag + classes", lambda f: _finetune(f, "--num-classes", "3", task="tag"), "takes no --num-classes"),
    ("finetune train missing", lambda f: _finetune(f, train=f["root"] + "/nope.csv"), "does not exist"),
    ("finetune label nan", lambda f: _finetune(f, train=f["nan"]), "line 2: label 'nan' is not a finite"),
    ("finetune label inf", lambda f: _finetune(f, train=f["inf"]), "line 2: label 'inf' is not a finite"),
    ("finetune no label column", lambda f: _finetune(f, train=f["no_label"]), "has no column 'label'"),
    ("finetune latin-1", lambda f: _finetune(f, train=f["latin1_csv"]), "latin1.csv' is not UTF-8"),
    ("qa no question", lambda f: _finetune(f, train=f["no_question"], task="qa"), "question 'q1': no 'question'"),
    ("qa start abc", lambda f: _finetune(f, train=f["bad_start"], task="qa"), "answer_start 'abc' is not an integer"),
    ("qa start outside", lambda f: _finetune(f, train=f["outside"], task="qa"), "outside its context"),
    ("finetune no tokenizer", lambda f: _finetune(f)[:4] + ["electra_tiny"] + _finetune(f)[5:], "has no tokenizer"),
    ("finetune labels mixed", lambda f: _finetune(f, train=f["mixed"]), "line 3: label 'neg' is not a number, unlike line 2's '1'"),
    ("finetune unseen name", lambda f: _finetune(f, train=f["named"], test=f["unseen"]), "unseen.csv, line 2: label 'neutral' is not a class of the training file (neg, pos)"),
    ("finetune one class name", lambda f: _finetune(f, train=f["one_name"]), "has one class name ('pos')"),
    ("finetune names + classes", lambda f: _finetune(f, "--num-classes", "3", train=f["named"]), "not --num-classes 3: leave --num-classes out"),
    ("finetune names on ids", lambda f: _finetune(f, test=f["named"]), "named.csv, line 2: label 'pos' is not a number: the training file's labels are class ids, so this file's must be too"),
    ("finetune test lacks the text column", lambda f: _finetune(f, test=f["review"]), "has no column 'text', the text column of '"),
    ("finetune names regression", lambda f: _finetune(f, "--num-classes", "1", train=f["named"]), "regression (--num-classes 1) needs numbers"),
    ("predict model missing", lambda f: _predict(f, model=f["root"] + "/nope"), "is not a folder"),
    ("predict not a model", lambda f: _predict(f, model=f["root"] + "/not_a_preset"), "holds no fine-tuned model"),
    ("predict pretrainer", lambda f: _predict(f, model=f["trained"]), "holds no fine-tuned classifier (ElectraPretrainer)"),
    ("predict no column", lambda f: _predict(f, "--text-column", "review"), "has no column 'review' (columns: text, label). Name the text column with --text-column"),
    ("predict file missing", lambda f: _predict(f, file=f["root"] + "/nope.csv"), "does not exist"),
    ("predict output folder missing", lambda f: _predict(f, "--output", f["root"] + "/no/p.csv"), "does not exist: create it first"),
    ("predict pair on single texts", lambda f: _predict(f, "--pair-column", "label"), "fine-tuned on single texts: leave out --pair-column"),
    ("predict batch 0", lambda f: _predict(f, "--batch-size", "0"), "--batch-size must be positive"),
    ("predict file lacks the model's column", lambda f: _predict(f, file=f["review"]), "has no column 'text', the text column the model was fine-tuned on (columns: review, label). Name the file's text column with --text-column"),
    ("predict no label column", lambda f: _predict(f, "--label-column", "stars"), "has no column 'stars' (columns: text, label). Name its label column with --label-column, or leave it out"),
    ("predict broken classifier.json", lambda f: _predict(f, model=f["broken_classifier"]), "classifier.json' is not readable (Expecting property name"),
    ("info broken json", lambda f: ["info", f["root"] + "/broken_preset"], "is not readable JSON"),
    ("info unknown", lambda f: ["info", "electra_nope"], "Unknown preset"),
    ("convert tf1 + generator", lambda f: ["convert", "--from", "tf1", "--discriminator", f["root"], "--generator", f["root"], "--output", f["root"] + "/c"], "leave out --generator"),
    ("export no weights", lambda f: ["export", "--to", "transformers", "electra_tiny", f["root"] + "/e"], "holds no weights"),
]  # fmt: skip


def _snapshot(root):
    found = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_there_are_enough_cases():
    assert len(CASES) >= 40


# `predict`'s cases fail before any model is loaded (they read files and
# configs): backend-neutral, they run once, in the torch suite, with the
# classifier they need built there only.
PREDICT_CASES = [c for c in CASES if c[0].startswith("predict")]
OTHER_CASES = [c for c in CASES if c not in PREDICT_CASES]


@pytest.mark.parametrize(
    "name, argv, phrase", OTHER_CASES, ids=[c[0] for c in OTHER_CASES]
)
def test_a_bad_input_gets_one_line(files, capsys, name, argv, phrase):
    _check_one_line(files, capsys, argv, phrase)


@once_per_suite
@pytest.mark.parametrize(
    "name, argv, phrase", PREDICT_CASES, ids=[c[0] for c in PREDICT_CASES]
)
def test_a_bad_predict_input_gets_one_line(
    classifier_files, capsys, name, argv, phrase
):
    _check_one_line(classifier_files, capsys, argv, phrase)


def _check_one_line(files, capsys, argv, phrase):
    before = _snapshot(files["root"])
    capsys.readouterr()
    status = cli.main(argv(files))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert status == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert phrase in lines[0], lines[0]
    assert _snapshot(files["root"]) == before, "files changed"
