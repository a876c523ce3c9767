"""`jobs/run_config.py`: a run's settings, written and read back."""

import json

from keras_electra.jobs.run_config import RunConfig


def test_run_config_round_trips_and_ignores_unknown_fields(tmp_path):
    path = tmp_path / "run.json"
    config = RunConfig(corpus=["a.txt"], steps=700, sequence_length=64)
    config.save(path)
    assert RunConfig.load(path) == config
    stored = json.loads(path.read_text())
    stored["from_a_later_version"] = 1
    path.write_text(json.dumps(stored))
    loaded = RunConfig.load(path)
    assert loaded.steps == 700 and loaded.corpus == ["a.txt"]
    assert not (tmp_path / "run.json.tmp").exists()
