import keras


def electra_kernel_initializer(stddev=0.02):
    """The truncated normal initializer (stddev 0.02) ELECTRA uses where the
    reference passes `create_initializer(initializer_range)`: embeddings,
    attention and feed-forward kernels, the RTD and MLM hidden layers."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


def reference_default_initializer():
    """Glorot-uniform, TensorFlow's default, for the layers where the
    reference passes no initializer: `embeddings_project`, the RTD output
    layer and the fine-tuning heads (`tf.layers.dense` without
    `kernel_initializer`). Keras' `Dense` default is the same."""
    return keras.initializers.GlorotUniform()
