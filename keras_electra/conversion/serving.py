"""Export for serving: a TensorFlow SavedModel on raw strings, ONNX on ids.

`export_saved_model` writes a fine-tuned task as a SavedModel whose
signatures take raw strings: the task's own preprocessor (our tokenizer's
TensorFlow graph, `tensorflow_text` ops included) runs inside, so TF
Serving, Vertex AI or `tf.saved_model.load` in a process that imports
TensorFlow and `tensorflow_text` alone returns what `predict` returns. It
is built on Keras' `ExportArchive`: natively on TensorFlow, through
`jax2tf` on JAX. PyTorch has no SavedModel path in Keras (it needs
`torch_xla`); `keras-electra export` builds the SavedModel on TensorFlow
whatever backend trained the preset, since presets are backend-neutral.

`export_onnx` writes any model that takes token ids (a backbone or a task)
as an ONNX graph with inputs `token_ids`, `segment_ids` and `padding_mask`
(int32, `[batch, length]`, both dimensions dynamic). Tokenization stays
outside ONNX. It traces the model on TensorFlow and converts it with
`tf2onnx` (the `export` extra), mapping TensorFlow's `Erfc`, which the exact
GELU uses and ONNX lacks, to `1 - Erf`.

Example:
```python
import keras_electra
from keras_electra.conversion import serving

tokenizer = keras_electra.ElectraTokenizer(
    vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]
)
backbone = keras_electra.ElectraBackbone(
    vocabulary_size=7, num_layers=1, num_heads=2, hidden_dim=8,
    intermediate_dim=16, max_sequence_length=16,
)
classifier = keras_electra.ElectraTextClassifier(
    backbone,
    num_classes=2,
    preprocessor=keras_electra.ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=8
    ),
)
serving.export_saved_model(classifier, "classifier_savedmodel")
# Elsewhere: import tensorflow as tf, tensorflow_text
# tf.saved_model.load("classifier_savedmodel").signatures[
#     "serving_default"](text=tf.constant(["a b"]))["logits"]
```
"""

import os
import shutil
import tempfile
import warnings

import keras

from keras_electra.utils import file_system

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


class ExportError(ValueError):
    """A model or backend that cannot be exported; the message says why and
    what to do instead."""


def _tf():
    import tensorflow as tf

    return tf


def _inner_model(model):
    """The functional graph of a task or backbone on token ids, without
    its preprocessor (keras-hub tasks run their preprocessor in `predict`,
    not in `call`). A pretrainer gives its discriminator's encoder, the
    one fine-tuning starts from."""
    if hasattr(model, "generator") and hasattr(model, "backbone"):
        model = model.backbone
    inputs = model.input
    names = list(inputs) if isinstance(inputs, dict) else []
    missing = sorted(set(INPUT_NAMES) - set(names))
    if missing:
        raise ExportError(
            f"{type(model).__name__} does not take ELECTRA's token inputs "
            f"(missing {missing}); export a backbone or a fine-tuned task."
        )
    return keras.Model(inputs, model.output)


def _output_name(model):
    """`sequence_output` for a backbone, `logits` for a task."""
    from keras_electra import models

    if isinstance(model, models.ElectraBackbone) or hasattr(model, "generator"):
        return "sequence_output"
    return "logits"


def _token_specs(tf, length=None):
    return {
        name: tf.TensorSpec([None, length], tf.int32, name=name)
        for name in INPUT_NAMES
    }


def _prepare_folder(output_dir, overwrite):
    """Check the output folder; return it and a new temporary folder to
    write into (beside it; a local one for a URL, copied up after)."""
    output_dir = os.fspath(output_dir)
    if not file_system.has_scheme(output_dir):
        output_dir = os.path.normpath(output_dir)
    if file_system.exists(output_dir):
        if not file_system.isdir(output_dir):
            raise ExportError(
                f"'{output_dir}' is a file: name a folder to write."
            )
        if file_system.listdir(output_dir) and not overwrite:
            raise ExportError(
                f"'{output_dir}' exists and is not empty. Choose a new "
                "folder or pass overwrite=True (--overwrite) to replace it."
            )
    if file_system.has_scheme(output_dir):
        return output_dir, tempfile.mkdtemp(prefix="keras_electra_export-")
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(os.path.abspath(output_dir))
    return output_dir, tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")


def _publish(tmp, output_dir):
    """Move a finished export into place: a failed export leaves no half
    folder behind, and an existing one is replaced only once the new one
    is whole (and restored if the move fails). To a URL the folder is
    copied up, `saved_model.pb` last (object stores rename by copying)."""
    if file_system.has_scheme(output_dir):
        try:
            if file_system.isdir(output_dir):
                file_system.rmtree(output_dir)
            file_system.copytree(tmp, output_dir, last=("saved_model.pb",))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    old = None
    if os.path.exists(output_dir):
        old = f"{tmp}.old"
        os.replace(output_dir, old)
    try:
        os.replace(tmp, output_dir)
    except OSError:
        if old:
            os.replace(old, output_dir)
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _features(outputs):
    """The features of a preprocessor's output, with or without labels."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(outputs)
    return x


def _serving_functions(task, tf):
    """`{signature name: (input specs, fn(*strings) -> dict)}` for a task's
    raw-string signatures, from its preprocessor."""
    from keras_electra import models

    preprocessor = getattr(task, "preprocessor", None)
    if isinstance(task, models.ElectraTextClassifier):

        def one(text):
            return _features(preprocessor(text)), {}

        def pair(text, text_b):
            return _features(preprocessor(x=(text, text_b))), {}

        string = tf.TensorSpec([None], tf.string, name="text")
        string_b = tf.TensorSpec([None], tf.string, name="text_b")
        return "logits", {
            "serving_default": ([string], one),
            "pairs": ([string, string_b], pair),
        }
    if isinstance(task, models.ElectraTokenClassifier):

        def words(text):
            x, _, first = preprocessor(tf.strings.split(text))
            return x, {"first_wordpiece": tf.cast(first, tf.int32)}

        string = tf.TensorSpec([None], tf.string, name="text")
        return "logits", {"serving_default": ([string], words)}
    raise ExportError(
        f"A SavedModel on raw strings is built for ElectraTextClassifier "
        f"and ElectraTokenClassifier; {type(task).__name__} is neither "
        "(question answering windows its inputs in Python). Export it on "
        "token ids instead: `keras-electra export --to onnx`."
    )


def _named(prepare, finish):
    """`finish(prepare(...))` with `prepare`'s own argument names, which
    become the signature's input names."""
    if prepare.__code__.co_argcount == 1:

        def serve(text):
            return finish(prepare(text))

        return serve

    def serve(text, text_b):
        return finish(prepare(text, text_b))

    return serve


def export_saved_model(task, output_dir, tokenizer=None, overwrite=False):
    """Write a fine-tuned task as a TensorFlow SavedModel on raw strings.

    Signatures (each returns a dict):
    - `ElectraTextClassifier`: `serving_default(text)` and
      `pairs(text, text_b)` -> `logits` `[batch, num_classes]`.
    - `ElectraTokenClassifier`: `serving_default(text)` (words split on
      whitespace) -> `logits` `[batch, length, num_classes]` and
      `first_wordpiece` `[batch, length]` (1 where a word's label is read,
      as the preprocessor's sample weights mark it).
    - every task: `token_ids(token_ids, segment_ids, padding_mask)` ->
      `logits`, the model without its preprocessor.

    The preprocessor's settings (its `sequence_length`, truncation) are
    the task's. Loading needs TensorFlow and `import tensorflow_text`
    (whose ops TF Serving also needs), not keras-electra.

    Args:
        task: a fine-tuned task with its preprocessor.
        output_dir: the folder to write (written aside, then moved in).
        tokenizer: unused (the task's preprocessor holds its tokenizer);
            accepted so that every export writer is called alike.
        overwrite: bool. Replace a folder that exists.
    """
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise ExportError(
            f"Keras builds SavedModels on TensorFlow and JAX, not on "
            f"{backend}. Run `keras-electra export --to saved-model PRESET "
            "DIR` (it uses TensorFlow whatever backend trained the preset) "
            "or set KERAS_BACKEND=tensorflow."
        )
    tf = _tf()
    output_name, signatures = _serving_functions(task, tf)
    if getattr(task, "preprocessor", None) is None:
        raise ExportError(
            f"This {type(task).__name__} has no preprocessor, so a "
            "signature on raw strings cannot be built. Load it from a "
            "preset saved with its tokenizer (a fine-tuning run's model/) "
            "or pass `preprocessor=` when you build it."
        )
    output_dir, tmp = _prepare_folder(output_dir, overwrite)
    inner = _inner_model(task)
    archive = keras.export.ExportArchive()
    archive.track(inner)
    # The tokenizer's TensorFlow resources (lookup tables) are saved with
    # the functions that use them.
    archive._tf_trackable.preprocessor_resources = [task.preprocessor]
    token_fn = archive.add_endpoint(
        "token_ids",
        lambda x: {output_name: inner(x, training=False)},
        # The preprocessor pads to its length: a fixed length keeps
        # jax2tf's shape polymorphism to the batch.
        input_signature=[_token_specs(tf, task.preprocessor.sequence_length)],
    )

    def finish(prepared):
        x, extra = prepared
        outputs = token_fn({k: tf.cast(x[k], tf.int32) for k in INPUT_NAMES})
        if not isinstance(outputs, dict):
            outputs = {output_name: outputs}
        return {**outputs, **extra}

    for name, (specs, prepare) in signatures.items():
        archive.add_endpoint(
            name,
            tf.function(
                _named(prepare, finish), input_signature=specs, autograph=False
            ),
        )
    try:
        archive.write_out(tmp, verbose=False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, output_dir)
    return output_dir


def _erfc_as_one_minus_erf(ctx, node, name, args):
    """tf2onnx handler: ONNX has `Erf` but no `Erfc`."""
    import numpy as np

    x = node.input[0]
    dtype = ctx.get_dtype(x)
    from onnx import helper

    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    erf = ctx.make_node("Erf", [x], op_name_scope=node.name)
    one = ctx.make_const(f"{node.name}/one", np.array(1, np_dtype))
    node.type = "Sub"
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])


def _require(module, extra="export"):
    try:
        return __import__(module)
    except ImportError:
        raise ExportError(
            f"ONNX export needs `{module}`: pip install "
            f'"keras-electra[{extra}]"'
        ) from None


def export_onnx(model, path, tokenizer=None, overwrite=False, opset=17):
    """Write a model on token ids (a backbone or a task) as ONNX.

    A pretrainer is written as its discriminator's encoder.

    Inputs `token_ids`, `segment_ids`, `padding_mask`: int32
    `[batch, length]`; the output is what the model returns for them
    (a backbone's `sequence_output` and `pooled_output`, a task's
    logits). Needs the TensorFlow backend (`keras-electra export --to
    onnx` uses it whatever backend trained the preset) and the `export`
    extra (`tf2onnx`, `onnx`).

    Args:
        model: an `ElectraBackbone` or a fine-tuned task.
        path: the `.onnx` file to write.
        tokenizer: unused (tokenization stays outside the graph).
        overwrite: bool. Replace a file that exists.
        opset: int. The ONNX opset.
    """
    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            "ONNX export traces the model on TensorFlow. Run `keras-electra "
            "export --to onnx PRESET FILE` (it uses TensorFlow whatever "
            "backend trained the preset) or set KERAS_BACKEND=tensorflow."
        )
    path = os.fspath(path)
    if file_system.isdir(path):
        raise ExportError(f"'{path}' is a folder: name the .onnx file.")
    if file_system.exists(path) and not overwrite:
        raise ExportError(
            f"'{path}' exists. Choose a new file name or pass "
            "overwrite=True (--overwrite) to replace it."
        )
    tf = _tf()
    onnx = _require("onnx")
    tf2onnx = _require("tf2onnx")
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    inner = _inner_model(model)
    specs = _token_specs(tf)

    @tf.function(input_signature=[specs])
    def forward(x):
        outputs = inner(x, training=False)
        if not isinstance(outputs, dict):
            outputs = {_output_name(model): outputs}
        return outputs

    # tf2onnx names the outputs after TensorFlow's tensors; ours are the
    # model's (sorted, as the flattened dict is).
    names = sorted(forward.get_concrete_function().structured_outputs)

    patch_tf2onnx()  # tf2onnx's numpy 2 fixes, as Keras' own export does
    if file_system.has_scheme(path):  # written here, then copied up
        folder = tempfile.gettempdir()
    else:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, suffix=".onnx.tmp")
    os.close(handle)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            proto, _ = tf2onnx.convert.from_function(
                forward,
                input_signature=[specs],
                opset=opset,
                custom_op_handlers={"Erfc": (_erfc_as_one_minus_erf, [])},
            )
        _rename_outputs(proto, names)
        onnx.save(proto, tmp)
        if file_system.has_scheme(path):
            file_system.copy(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _rename_outputs(proto, names):
    renamed = {}
    for output, name in zip(proto.graph.output, names):
        renamed[output.name] = name
        output.name = name
    for node in proto.graph.node:
        node.output[:] = [renamed.get(o, o) for o in node.output]
        node.input[:] = [renamed.get(i, i) for i in node.input]
