"""Gradients with whichever backend Keras runs on (for tests only)."""

import keras


def gradients(loss_fn, variables):
    """Gradients of `loss_fn()` with respect to Keras `variables`.

    Returns one numpy array per variable (zeros where no gradient flows).
    """
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, [v.value for v in variables])
    elif backend == "torch":
        import torch

        loss = loss_fn()
        grads = torch.autograd.grad(
            loss, [v.value for v in variables], allow_unused=True
        )
    elif backend == "jax":
        import jax

        def stateless(values):
            mapping = list(zip(variables, values))
            with keras.StatelessScope(state_mapping=mapping):
                return loss_fn()

        grads = jax.grad(stateless)([v.value for v in variables])
    else:
        raise NotImplementedError(backend)
    out = []
    for g, v in zip(grads, variables):
        if g is None:
            out.append(keras.ops.convert_to_numpy(keras.ops.zeros(v.shape)))
        else:
            out.append(keras.ops.convert_to_numpy(g))
    return out
