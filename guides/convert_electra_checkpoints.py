"""
Title: Converting ELECTRA checkpoints to and from transformers and keras-hub
Author: keras-electra developers
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Import Google's ELECTRA from transformers, export to transformers and keras-hub, and check that the numbers agree.
Accelerator: None
Expected time: smoke size 1 min on CPU (measured); full size about 2 min on CPU, 2 min on a GPU, 2 min on a TPU (estimates: a download and one sentence per model, no faster on an accelerator)
"""

"""
## Introduction

keras-electra reads and writes the formats ELECTRA lives in: transformers
folders (and `hf://` handles on the Hugging Face Hub), Google's TF1
checkpoints and keras-hub presets. This guide converts Google's
ELECTRA-Small discriminator from transformers, runs one corrupted sentence
through both libraries and compares the replaced-token logits; then it
exports a pretrainer to transformers and to keras-hub and checks the
round trips the same way.

Converting is only trustworthy with a parity check, so every step ends
with one: the largest absolute difference between the two libraries'
outputs. In float32 expect about 1e-6 for transformers; keras-hub's
backbone uses the tanh approximation of GELU (ELECTRA uses the exact one),
so its hidden states differ by up to about 1e-3.

`SIZE = "smoke"` (below) uses a tiny random transformers ELECTRA made
here instead of Google's (no Hub access needed).
"""

import os

# "full" runs the guide as its header's times describe; "smoke" shrinks it
# to a few minutes on any CPU (tiny models, a slice of the data).
SIZE = "full"
if os.environ.get("KERAS_ELECTRA_GUIDE_SMOKE") == "1":  # the tests' switch
    SIZE = "smoke"
if SIZE not in ("full", "smoke"):
    raise ValueError(f'SIZE is {SIZE!r}: set it to "full" or "smoke".')
SMOKE = SIZE == "smoke"
os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import matplotlib.pyplot as plt
import numpy as np
import torch
import transformers

import keras_electra
from keras_electra import conversion
from keras_electra.utils.accelerator import describe_accelerator

keras.utils.set_random_seed(0)
torch.manual_seed(0)
print(describe_accelerator())

"""
## A transformers checkpoint

Google's discriminator on the Hub, or in smoke mode a small random one
saved the way `save_pretrained` saves any model (with a vocabulary, so a
tokenizer comes with it).
"""

if SMOKE:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words += "the quick brown fox jumps over lazy dog a cat sat . ,".split()
    config = transformers.ElectraConfig(
        vocab_size=len(words),
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    transformers.ElectraForPreTraining(config).save_pretrained("tiny_hf")
    with open("tiny_hf/vocab.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")
    SOURCE = "tiny_hf"
else:
    SOURCE = "hf://google/electra-small-discriminator"

"""
## Import and compare

`ElectraDiscriminator.from_preset` converts the folder (or handle) on the
fly: the encoder, the replaced-token head and the vocabulary. The same
token ids go through transformers' `ElectraForPreTraining`.
"""

discriminator = keras_electra.ElectraDiscriminator.from_preset(SOURCE)
tokenizer = keras_electra.ElectraTokenizer.from_preset(SOURCE)
ids = tokenizer.tokenize("the quick brown fox jumps over the lazy cat .")
ids = np.array([[2, *ids, 3]], "int32")  # [CLS] ... [SEP]
inputs = {
    "token_ids": ids,
    "segment_ids": np.zeros_like(ids),
    "padding_mask": np.ones_like(ids),
}
ours = keras.ops.convert_to_numpy(discriminator.predict(inputs, verbose=0))

reference = transformers.ElectraForPreTraining.from_pretrained(
    SOURCE.removeprefix("hf://")
).eval()
with torch.no_grad():
    theirs = reference(torch.tensor(ids.astype("int64"))).logits.numpy()
print("replaced-token logits, ours:  ", np.round(ours[0, :6], 4))
print("replaced-token logits, theirs:", np.round(theirs[0, :6], 4))
print(f"largest difference {np.abs(ours - theirs).max():.2e}")
plt.figure(figsize=(4, 4))
plt.scatter(theirs.ravel(), ours.ravel(), s=12)
plt.xlabel("transformers logit")
plt.ylabel("keras-electra logit")
plt.title("Same weights, two libraries")
plt.show()

"""
## Export to transformers

A pretrainer exports as two transformers folders, `discriminator/` and
`generator/`, with the vocabulary; transformers loads them with its own
classes. Here a tiny pretrainer on the same vocabulary goes out and the
discriminator's logits are compared again.
"""

pretrainer = keras_electra.ElectraPretrainer.from_preset(
    "electra_tiny",
    vocabulary_size=tokenizer.vocabulary_size(),
    **tokenizer.pretrainer_token_ids(),
)
conversion.export_transformers(pretrainer, "exported_hf", tokenizer)
print(sorted(os.listdir("exported_hf")))
exported = transformers.ElectraForPreTraining.from_pretrained(
    "exported_hf/discriminator"
).eval()
with torch.no_grad():
    theirs = exported(torch.tensor(ids.astype("int64"))).logits.numpy()
ours = keras.ops.convert_to_numpy(
    pretrainer.discriminator.predict(inputs, verbose=0)
)
print(
    f"export to transformers: largest difference {np.abs(ours - theirs).max():.2e}"
)

"""
## Export to keras-hub

keras-hub has an `ElectraBackbone` of its own (no pre-training, no
discriminator head). `export_keras_hub` writes the discriminator's
backbone as a keras-hub preset, which keras-hub's own class loads.
"""

import keras_hub  # noqa: E402

conversion.export_keras_hub(pretrainer, "exported_keras_hub", tokenizer)
hub_backbone = keras_hub.models.ElectraBackbone.from_preset(
    "exported_keras_hub"
)
hub_inputs = {
    "token_ids": ids,
    "segment_ids": np.zeros_like(ids),
    "padding_mask": np.ones_like(ids),
}
theirs = keras.ops.convert_to_numpy(hub_backbone(hub_inputs)["sequence_output"])
ours = keras.ops.convert_to_numpy(pretrainer.backbone(inputs))
print(
    f"export to keras-hub: largest difference {np.abs(ours - theirs).max():.2e}"
)
print("(keras-hub's tanh GELU against ELECTRA's exact erf GELU)")

"""
## And back

Every `from_preset` reads these folders too: the exported transformers
pair loads as a pretrainer, ready to continue pre-training, with the
same weights.
"""

back = keras_electra.ElectraPretrainer.from_preset("exported_hf")
gap = max(
    float(
        np.abs(
            keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b)
        ).max()
    )
    for a, b in zip(pretrainer.weights, back.weights)
)
print(f"round trip through transformers: largest weight difference {gap:.1e}")

"""
## From the command line

```
keras-electra convert --from transformers \\
    --discriminator hf://google/electra-small-discriminator \\
    --generator hf://google/electra-small-generator --output small_preset
keras-electra export --to transformers small_preset for_transformers
keras-electra export --to keras-hub small_preset for_keras_hub
```
"""
