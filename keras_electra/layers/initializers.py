import keras


def electra_kernel_initializer(stddev=0.02):
    """The truncated normal initializer (stddev 0.02) ELECTRA uses."""
    return keras.initializers.TruncatedNormal(stddev=stddev)
