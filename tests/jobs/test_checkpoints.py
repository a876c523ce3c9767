"""`jobs/checkpoints.py`: atomic checkpoints that survive corruption."""

from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import once_per_suite

from keras_electra.jobs.pretrain import pretrain

pytestmark = needs_shared


@once_per_suite  # files on disk; resume on every backend: test_pretrain.py
def test_corrupted_checkpoint_falls_back_to_the_previous(
    corpus, micro_preset, tmp_path, capsys
):
    common = dict(
        preset=micro_preset,
        corpus=corpus,
        vocabulary=str(VOCAB_FILE),
        steps=4,
        batch_size=4,
        sequence_length=32,
        checkpoint_every=2,
        verbose=0,
    )
    out = tmp_path / "run"
    pretrain(str(out), stop_after=5, **{**common, "steps": 6})
    latest = (
        out / "checkpoints" / "ckpt-00000004" / "preset" / "task.weights.h5"
    )
    latest.write_bytes(b"not an h5 file")
    result = pretrain(
        str(out), resume=True, **{**common, "steps": 6, "verbose": 1}
    )
    printed = capsys.readouterr().out
    assert "ckpt-00000004" in printed and "unreadable" in printed
    assert "Resuming from" in printed and "ckpt-00000002" in printed
    assert result["step"] == 6
