"""`conversion/serving.py`: a SavedModel on raw strings, ONNX on token ids,
and `keras-electra export --to saved-model|onnx`.

The SavedModel is loaded in a fresh Python that imports TensorFlow and
`tensorflow_text` alone (what TF Serving has), and must give `predict`'s
outputs within 1e-4.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import once_per_suite
from helpers import to_numpy

import keras_electra
from keras_electra.conversion import serving

BACKEND = keras.backend.backend()
TEXTS = ["the dog runs", "good film", "who wrote it ?"]
TEXTS_B = ["the cat", "bad", "jane austen did"]

# Loads a SavedModel with TensorFlow and tensorflow_text only, runs every
# signature on the given strings and prints the outputs as JSON.
SERVE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401 - registers the tokenizer's ops
path, request = sys.argv[1], json.loads(sys.argv[2])
model = tf.saved_model.load(path)
out = {}
for name, inputs in request.items():
    fn = model.signatures[name]
    args = {k: tf.constant(v) for k, v in inputs.items()}
    out[name] = {k: v.numpy().tolist() for k, v in fn(**args).items()}
out["imported"] = sorted(
    {m.split(".")[0] for m in sys.modules}
    & {"keras_electra", "keras_hub", "torch"}
)
print(json.dumps(out))
"""


def _serve(path, request):
    # (TensorFlow imports Keras, which would import KERAS_BACKEND's
    # framework; the SavedModel needs neither keras-electra nor keras-hub.)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run(
        [sys.executable, "-c", SERVE, str(path), json.dumps(request)],
        capture_output=True,
        text=True,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out.pop("imported") == []
    return out


@pytest.fixture(scope="module")
def classifier(preset):
    keras.utils.set_random_seed(1)
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=3
    )
    model.preprocessor.sequence_length = 16  # the tiny model has 64
    return model


saved_model_backends = pytest.mark.skipif(
    BACKEND == "torch",
    reason="Keras builds SavedModels on TensorFlow and JAX only; the "
    "command-line test exports a preset from the torch run",
)


@saved_model_backends
def test_a_classifier_serves_raw_strings_without_keras_electra(
    classifier, tmp_path
):
    out = serving.export_saved_model(classifier, tmp_path / "served")
    single = to_numpy(classifier.predict(TEXTS, verbose=0))
    # (`predict` would read a tuple as inputs and labels.)
    pairs = to_numpy(
        classifier(classifier.preprocessor(x=(TEXTS, TEXTS_B)), training=False)
    )
    ids = classifier.preprocessor(TEXTS)
    served = _serve(
        out,
        {
            "serving_default": {"text": TEXTS},
            "pairs": {"text": TEXTS, "text_b": TEXTS_B},
            "token_ids": {
                k: to_numpy(v).astype("int32").tolist() for k, v in ids.items()
            },
        },
    )
    np.testing.assert_allclose(
        served["serving_default"]["logits"], single, atol=1e-4
    )
    np.testing.assert_allclose(served["pairs"]["logits"], pairs, atol=1e-4)
    np.testing.assert_allclose(served["token_ids"]["logits"], single, atol=1e-4)
    # The pair signature really reads the second text.
    assert np.abs(pairs - single).max() > 1e-4


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="the export's backend part is the classifier test's; the "
    "tagger's signature is TensorFlow's on every backend",
)
def test_a_tagger_serves_words_with_the_first_wordpiece_marked(
    preset, tokenizer, tmp_path
):
    keras.utils.set_random_seed(2)
    tagger = keras_electra.ElectraTokenClassifier.from_preset(
        preset, num_classes=4
    )
    tagger.preprocessor.sequence_length = 12
    words = [text.split() for text in TEXTS]
    expected = to_numpy(tagger.predict(words, verbose=0))
    _, _, weights = tagger.preprocessor(words)
    out = serving.export_saved_model(tagger, tmp_path / "tagger")
    served = _serve(out, {"serving_default": {"text": TEXTS}})
    np.testing.assert_allclose(
        served["serving_default"]["logits"], expected, atol=1e-4
    )
    # "runs" is two wordpieces (run ##s): only the first is marked.
    np.testing.assert_array_equal(
        served["serving_default"]["first_wordpiece"], to_numpy(weights)
    )
    assert served["serving_default"]["first_wordpiece"][0][:5] == [
        0,
        1,
        1,
        1,
        0,
    ]


def test_what_cannot_be_served_on_raw_strings_is_refused_with_a_way_out(
    classifier, preset, tmp_path
):
    if BACKEND == "torch":
        with pytest.raises(serving.ExportError, match="export --to saved"):
            serving.export_saved_model(classifier, tmp_path / "x")
        return
    bare = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2, preprocessor=None
    )
    with pytest.raises(serving.ExportError, match="no preprocessor"):
        serving.export_saved_model(bare, tmp_path / "x")
    backbone = keras_electra.ElectraBackbone.from_preset(preset)
    with pytest.raises(serving.ExportError, match="--to onnx"):
        serving.export_saved_model(backbone, tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(serving.ExportError, match="overwrite"):
        serving.export_saved_model(classifier, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_onnx_gives_the_models_outputs_on_token_ids(
    classifier, preset, tmp_path
):
    if BACKEND != "tensorflow":
        with pytest.raises(serving.ExportError, match="export --to onnx"):
            serving.export_onnx(classifier, tmp_path / "m.onnx")
        return
    ort = pytest.importorskip("onnxruntime")
    backbone = keras_electra.ElectraBackbone.from_preset(preset)
    # A pretrainer is written as its discriminator's encoder.
    pretrainer = keras_electra.ElectraPretrainer.from_preset(preset)
    for model, name in (
        (classifier, "clf"),
        (backbone, "backbone"),
        (pretrainer, "pretrainer"),
    ):
        path = serving.export_onnx(model, tmp_path / f"{name}.onnx")
        session = ort.InferenceSession(path)
        assert sorted(i.name for i in session.get_inputs()) == sorted(
            serving.INPUT_NAMES
        )
        # Batch and length are both dynamic.
        for length, texts in ((16, TEXTS), (9, TEXTS[:2])):
            classifier.preprocessor.sequence_length = length
            x = {
                k: to_numpy(v).astype("int32")
                for k, v in classifier.preprocessor(texts).items()
            }
            got = session.run(None, {k: x[k] for k in serving.INPUT_NAMES})
            expected = to_numpy(serving._inner_model(model)(x))
            np.testing.assert_allclose(got[0], expected, atol=1e-4)
        names = [o.name for o in session.get_outputs()]
        assert names == ["logits" if model is classifier else "sequence_output"]
        classifier.preprocessor.sequence_length = 16


@once_per_suite
def test_the_command_line_exports_a_preset_trained_on_any_backend(
    classifier, tmp_path
):
    # Saved from this (torch) process; exported by the CLI on TensorFlow.
    model_dir = tmp_path / "model"
    classifier.save_to_preset(str(model_dir))
    classifier.preprocessor.tokenizer.save_to_preset(str(model_dir))
    expected = to_numpy(classifier.predict(TEXTS, verbose=0))
    cli = [sys.executable, "-m", "keras_electra.cli", "export"]
    for target, out in (("saved-model", "served"), ("onnx", "m.onnx")):
        done = subprocess.run(
            cli + ["--to", target, str(model_dir), str(tmp_path / out)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "ElectraTextClassifier" in done.stdout
    served = _serve(tmp_path / "served", {"serving_default": {"text": TEXTS}})
    np.testing.assert_allclose(
        served["serving_default"]["logits"], expected, atol=1e-4
    )
    # Again into the same folder: refused without --overwrite.
    again = subprocess.run(
        cli + ["--to", "saved-model", str(model_dir), str(tmp_path / "served")],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 2
    assert "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.skipif(
    BACKEND != "tensorflow", reason="one backend is enough for the copy"
)
def test_exports_to_a_url_are_written_there(classifier, tmp_path):
    import tensorflow as tf

    from keras_electra.utils import file_system

    root = f"ram://serving-{os.getpid()}"
    out = serving.export_saved_model(classifier, f"{root}/served")
    served = tf.saved_model.load(out).signatures["serving_default"]
    np.testing.assert_allclose(
        served(text=tf.constant(TEXTS))["logits"].numpy(),
        to_numpy(classifier.predict(TEXTS, verbose=0)),
        atol=1e-4,
    )
    with pytest.raises(serving.ExportError, match="overwrite"):
        serving.export_saved_model(classifier, f"{root}/served")
    onnx_path = serving.export_onnx(classifier, f"{root}/m.onnx")
    with file_system.open_file(onnx_path, "rb") as f:
        assert len(f.read()) > 1000
    # A file where a folder goes, and the reverse: refused, not a trace.
    (tmp_path / "file").write_text("x")
    with pytest.raises(serving.ExportError, match="is a file"):
        serving.export_saved_model(classifier, tmp_path / "file")
    with pytest.raises(serving.ExportError, match="is a folder"):
        serving.export_onnx(classifier, tmp_path)
