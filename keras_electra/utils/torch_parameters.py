class TorchParametersMixin:
    """Registers every variable of a model as a torch parameter on PyTorch.

    Keras' torch layers collect their variables in a `ParameterDict` when
    they are built, and the train step clears gradients with
    `torch.nn.Module.zero_grad()`, which reaches registered parameters only.
    Two things keep that from working for keras-hub models (keras-hub 0.32,
    Keras 3.15): `Backbone` and `Task` set attributes with
    `object.__setattr__` until construction ends, so the dict is never
    registered (`parameters()` is empty; keras-hub's `BertTextClassifier`
    too); and the dict is keyed by variable path, so in the pretrainer the
    generator's `transformer_layer_0/...` variables are dropped for the
    discriminator's of the same path. Then `zero_grad()` misses them and each
    step adds its gradients to the previous steps'. Mixed in before the
    keras-hub base class, this registers all variables, in a list, whenever
    Keras (re)collects them. Other backends never call `_track_variables`.
    """

    def _track_variables(self):
        import torch

        super()._track_variables()
        torch.nn.Module.__setattr__(
            self,
            "_all_torch_params",
            torch.nn.ParameterList([v.value for v in self.variables]),
        )
