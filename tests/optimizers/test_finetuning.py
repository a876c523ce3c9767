"""`optimizers/finetuning.py`: layer-wise rates and the recipe by size."""

import numpy as np
from helpers import to_numpy

import keras_electra
from keras_electra.optimizers import layerwise_learning_rate_multipliers


def test_layerwise_rates_follow_the_reference(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2, preprocessor=None
    )
    backbone = model.backbone
    rates = layerwise_learning_rate_multipliers(model, backbone, 0.5)
    word_table = backbone.embedding.token_embedding.embeddings.path
    projection = backbone.embeddings_projection.kernel.path
    block0 = backbone.transformer_layers[0]._feedforward_output_dense.bias.path
    block1 = backbone.transformer_layers[1]._feedforward_output_dense.bias.path
    head = model.output_dense.kernel.path
    # Reference exponents: n_layers + 2 - depth (2 layers, so 4, 4, 3, 2, 0).
    assert rates[word_table] == rates[projection] == 0.5**4
    assert rates[block0] == 0.5**3 and rates[block1] == 0.5**2
    assert rates[head] == 1.0
    assert len(rates) == len(model.trainable_weights)
    fixed = layerwise_learning_rate_multipliers(
        model, backbone, 0.5, reference_off_by_one=False
    )
    assert fixed[word_table] == 0.5**3 and fixed[block1] == 0.5
    assert fixed[head] == 1.0


def test_layerwise_rates_scale_the_updates(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2, dropout=0.0, preprocessor=None
    )
    model.compile(learning_rate=1e-3, layerwise_decay=0.5, weight_decay=0.0)
    assert model.optimizer.__class__.__name__ == "ElectraAdamW"
    x = {
        "token_ids": np.array([[2, 5, 6, 3, 0]] * 4, "int32"),
        "segment_ids": np.zeros((4, 5), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]] * 4, "int32"),
    }
    y = np.array([0, 1, 0, 1])
    block0 = model.backbone.transformer_layers[0]._feedforward_output_dense.bias
    head = model.output_dense.bias
    before = [to_numpy(v).copy() for v in (block0, head)]
    model.train_on_batch(x, y)
    steps = [
        np.abs(to_numpy(v) - b).max() for v, b in zip((block0, head), before)
    ]
    # Adam without bias correction: the first step is ~lr * factor * 0.1 /
    # sqrt(0.001) per coordinate, so the ratio is the factor ratio 0.5 ** 3.
    np.testing.assert_allclose(steps[0] / steps[1], 0.5**3, rtol=0.05)


def test_recipe_by_size():
    from keras_electra.optimizers import finetuning_recipe

    sizes = {256: (3e-4, 0.8), 768: (1e-4, 0.8), 1024: (5e-5, 0.9)}
    for hidden, (lr, decay) in sizes.items():
        backbone = type("B", (), {"hidden_dim": hidden})()
        assert finetuning_recipe(backbone) == {
            "learning_rate": lr,
            "layerwise_decay": decay,
        }
