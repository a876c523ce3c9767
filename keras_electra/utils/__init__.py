def keras_hub_version():
    from keras_hub.src.version import __version__

    return __version__
