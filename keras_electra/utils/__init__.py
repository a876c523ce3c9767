def keras_hub_version():
    import keras_hub

    return keras_hub.__version__
