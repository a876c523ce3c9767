"""`jobs/options.py`: every job option written once, and read the same way
by the Python API, the command line and `run.json`."""

import argparse
import dataclasses
import inspect
import json

import pytest
from helpers import run_without_backend

from keras_electra import cli
from keras_electra.jobs import options
from keras_electra.jobs.finetune import finetune
from keras_electra.jobs.finetune_tasks import FINETUNING_TASKS
from keras_electra.jobs.options import FinetuneConfig
from keras_electra.jobs.options import OptionError
from keras_electra.jobs.options import PretrainConfig
from keras_electra.jobs.options import PretrainingError
from keras_electra.jobs.pretrain import pretrain
from keras_electra.layers.electra_replacement import REPLACEMENTS
from keras_electra.layers.embedding_sharing import EMBEDDING_SHARING


def _subparser(name):
    parser = cli.build_parser()
    sub = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    return sub.choices[name]


@pytest.mark.parametrize(
    "command, config_cls",
    [("pretrain", PretrainConfig), ("finetune", FinetuneConfig)],
)
def test_the_command_line_and_python_agree_on_every_option(command, config_cls):
    actions = {
        a.dest: a
        for a in _subparser(command)._actions
        if a.dest not in ("help", "backend", "verbose")
    }
    fields = {f.name: f for f in config_cls.options()}
    assert set(actions) == set(fields)
    for name, field in fields.items():
        action = actions[name]
        # One flag per option, spelled as errors spell it.
        assert action.option_strings == [options.flag_of(name)]
        assert tuple(action.choices or ()) == tuple(
            field.metadata["choices"] or ()
        )
        if field.default is dataclasses.MISSING:
            assert action.required, name
        elif isinstance(field.default, bool):
            # A switch flips the default.
            assert action.const is (not field.default), name
        else:
            # Unset flags are not passed: the job takes the config's default,
            # and the help shows it.
            assert action.default is argparse.SUPPRESS, name
            if field.default is not None:
                assert f"(default: {field.default})" in action.help, name
    # The command line passes what was typed; the job sees its defaults.
    given = options.given_options(
        _subparser(command).parse_args(
            ["--task", "tag", "--preset", "p", "--train", "a", "--test", "b"]
            if command == "finetune"
            else []
        ),
        config_cls,
    )
    resolved = config_cls.from_overrides(**given)
    for name, field in fields.items():
        if field.default is not dataclasses.MISSING:
            assert getattr(resolved, name) == field.default, name


def test_the_python_api_takes_its_defaults_from_the_schema():
    # No option default is repeated in the jobs' signatures.
    for function in (pretrain, finetune):
        for parameter in inspect.signature(function).parameters.values():
            assert parameter.default in (
                inspect.Parameter.empty,
                None,
                0,
                1,
            ), (function.__name__, parameter.name)
    assert PretrainConfig().batch_size == 32
    # None: 3 epochs, or more for small data (`finetune.default_epochs`).
    assert FinetuneConfig("tag", "p", "a", "b").epochs is None


def test_choices_come_from_the_registries():
    fields = {f.name: f for f in PretrainConfig.options()}
    assert tuple(fields["replacement"].metadata["choices"]) == tuple(
        REPLACEMENTS
    )
    assert fields["embedding_sharing"].metadata["choices"] == EMBEDDING_SHARING
    assert fields["dtype"].metadata["choices"] == options.DTYPES
    finetune_fields = {f.name: f for f in FinetuneConfig.options()}
    assert tuple(finetune_fields["task"].metadata["choices"]) == tuple(
        FINETUNING_TASKS
    )


def test_errors_speak_the_callers_vocabulary(capsys):
    with pytest.raises(PretrainingError) as error:
        PretrainConfig(batch_size=0)
    assert str(error.value) == "`batch_size` must be positive. Received: 0."
    assert error.value.for_command_line() == (
        "--batch-size must be positive. Received: 0."
    )
    with pytest.raises(PretrainingError, match="`vocabulary_size` must be"):
        PretrainConfig(vocabulary_size=-3)
    with pytest.raises(OptionError, match="`epochs` must be positive"):
        FinetuneConfig("tag", "p", "a", "b", epochs=0)
    with pytest.raises(TypeError, match="Unknown option.*batchsize"):
        PretrainConfig.from_overrides(batchsize=3)
    with pytest.raises(PretrainingError, match="`temperature`.*mlm"):
        PretrainConfig(objective="mlm", temperature=2.0)
    # The same checks on the command line, in flags, without a traceback.
    for argv, flags in (
        (["--vocab-size", "0"], "--vocab-size must be positive"),
        (["--objective", "mlm", "--temperature", "2"], "--temperature"),
        (["--sequence-length", "4"], "--sequence-length is too short"),
    ):
        assert cli.main(["pretrain", *argv]) == 2
        err = capsys.readouterr().err
        assert flags in err and "Traceback" not in err, err
        assert "`" not in err, err


def test_run_config_round_trips_and_ignores_unknown_fields(tmp_path):
    path = tmp_path / "run.json"
    config = PretrainConfig(corpus=["a.txt"], steps=700, sequence_length=64)
    config.save(path)
    assert PretrainConfig.load(path) == config
    stored = json.loads(path.read_text())
    assert "output" not in stored and "resume" not in stored
    stored["from_a_later_version"] = 1
    path.write_text(json.dumps(stored))
    loaded = PretrainConfig.load(path)
    assert loaded.steps == 700 and loaded.corpus == ["a.txt"]
    assert not (tmp_path / "run.json.tmp").exists()
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.steps = 5


def test_reading_the_options_loads_no_backend():
    run_without_backend(
        "from keras_electra import cli; cli.build_parser()\n"
        "from keras_electra.jobs import options\n"
    )


def test_values_are_coerced_to_their_type_or_refused():
    import numpy as np

    config = PretrainConfig(steps=np.int64(5), learning_rate=1, seed=2.0)
    assert config.steps == 5 and type(config.steps) is int
    assert type(config.learning_rate) is float and config.seed == 2
    json.dumps(config.to_json())  # numpy numbers would not serialize
    with pytest.raises(PretrainingError, match="`steps` must be a whole"):
        PretrainConfig(steps=1.5)
    with pytest.raises(PretrainingError, match="`temperature` must be a num"):
        PretrainConfig(temperature="hot")
    with pytest.raises(OptionError, match="`task`, `preset`.*must be given"):
        FinetuneConfig.from_overrides(train="a", test="b")
    with pytest.raises(TypeError, match="must be a PretrainConfig"):
        pretrain("out", config={"steps": 3})
