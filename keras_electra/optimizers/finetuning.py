"""ELECTRA's fine-tuning optimizer: AdamW with layer-wise learning-rate decay.

The reference (google-research/electra, `model/optimization.py`) gives each
variable a learning rate `lr * decay ** (n_layers + 2 - depth)`, where depth
is 0 for the embeddings (and their projection), `i + 1` for encoder block
`i` and `n_layers + 2` for the task head. The head therefore gets the full
rate, but the top encoder block gets `decay ** 2`, not `decay`: no variable
has depth `n_layers + 1`. This is the known off-by-one. The paper's
fine-tuning results were produced with it, so we reproduce it by default
(`reference_off_by_one=True`); pass `False` for the intended spacing (top
block `decay ** 1`, embeddings `decay ** (n_layers + 1)`).
"""

import warnings

import keras

from keras_electra.optimizers.electra_adamw import ElectraAdamW
from keras_electra.optimizers.electra_schedule import (
    ElectraLearningRateSchedule,
)

#: The paper's fine-tuning learning rate and layer-wise decay by model size
#: (hidden width of the discriminator): small, base, large.
RECIPES = (
    (1024, {"learning_rate": 5e-5, "layerwise_decay": 0.9}),  # large
    (768, {"learning_rate": 1e-4, "layerwise_decay": 0.8}),  # base
    (0, {"learning_rate": 3e-4, "layerwise_decay": 0.8}),  # small (and tiny)
)


def finetuning_recipe(backbone):
    """`{"learning_rate", "layerwise_decay"}` for a backbone's size."""
    for min_hidden, recipe in RECIPES:
        if backbone.hidden_dim >= min_hidden:
            return dict(recipe)


def layerwise_learning_rate_multipliers(
    model, backbone, decay, reference_off_by_one=True
):
    """Map every trainable variable path of `model` to its learning-rate factor.

    Args:
        model: the task model (its variables outside `backbone` are the head).
        backbone: the `ElectraBackbone` inside `model`.
        decay: the per-layer factor (0.8 for small/base, 0.9 for large);
            1.0 gives every variable the same rate.
        reference_off_by_one: reproduce the reference's exponents (see the
            module docstring).

    Example:
    ```python
    import keras_electra
    from keras_electra.optimizers.finetuning import (
        layerwise_learning_rate_multipliers,
    )

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=50, num_layers=2, num_heads=1, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=16,
    )
    factors = layerwise_learning_rate_multipliers(backbone, backbone, 0.8)
    min(factors.values())  # 0.8 ** 4: the embeddings
    ```
    """
    n = backbone.num_layers
    top = n + 2 if reference_off_by_one else n + 1
    depths = {}
    for variable in backbone.embedding.trainable_weights:
        depths[variable.path] = 0
    if backbone.embeddings_projection is not None:
        for variable in backbone.embeddings_projection.trainable_weights:
            depths[variable.path] = 0
    for i, block in enumerate(backbone.transformer_layers):
        for variable in block.trainable_weights:
            depths[variable.path] = i + 1
    multipliers = {}
    for variable in model.trainable_weights:
        depth = depths.get(variable.path, top)  # the task head
        multipliers[variable.path] = float(decay ** (top - depth))
    return multipliers


def finetuning_optimizer(
    model,
    backbone,
    num_train_steps=None,
    learning_rate=None,
    layerwise_decay=None,
    warmup_fraction=0.1,
    weight_decay=0.01,
    reference_off_by_one=True,
    gradient_accumulation_steps=None,
):
    """ELECTRA's fine-tuning AdamW for `model`.

    Adam without bias correction, weight decay 0.01 except LayerNorm and
    biases, gradients clipped to norm 1, layer-wise learning-rate decay, and
    the reference's schedule (linear warm-up over `warmup_fraction` of the
    steps, multiplied by linear decay to zero at `num_train_steps`).
    `learning_rate` and `layerwise_decay` default to the paper's values for
    the backbone's size (`finetuning_recipe`). Without `num_train_steps` the
    rate is constant (there is nothing to decay towards).
    `gradient_accumulation_steps=k` makes one update of every `k` batches;
    `num_train_steps` then counts updates.
    """
    recipe = finetuning_recipe(backbone)
    learning_rate = learning_rate or recipe["learning_rate"]
    decay = (
        recipe["layerwise_decay"]
        if layerwise_decay is None
        else layerwise_decay
    )
    if not 0 < decay <= 1:
        raise ValueError(
            f"`layerwise_decay` must be in (0, 1]. Received: {decay}"
        )
    schedule = learning_rate
    if num_train_steps:
        schedule = ElectraLearningRateSchedule(
            learning_rate,
            warmup_steps=int(round(warmup_fraction * num_train_steps)),
            decay_steps=num_train_steps,
        )
    return ElectraAdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        learning_rate_multipliers=layerwise_learning_rate_multipliers(
            model, backbone, decay, reference_off_by_one
        ),
        gradient_accumulation_steps=check_accumulation(
            gradient_accumulation_steps
        ),
    )


def check_accumulation(steps):
    """`None` for no accumulation, else an int of 2 or more."""
    if steps is None or steps == 1:
        return None
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            "`gradient_accumulation_steps` must be a positive integer (1 or "
            f"None for none). Received: {steps!r}"
        )
    if keras.config.backend() == "tensorflow":
        warnings.warn(
            "Keras' gradient accumulation on TensorFlow was measured to give "
            "updates that differ from run to run (up to about 2% of a "
            "weight tensor's scale after one update, where the same run "
            "without accumulation is reproducible). Prefer JAX or PyTorch "
            "for accumulated runs, or a larger batch.",
            stacklevel=3,
        )
    return steps
