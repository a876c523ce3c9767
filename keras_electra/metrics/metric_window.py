"""Metrics over a window of training steps, from the metrics' own states."""

import keras
import numpy as np

# Metrics whose state is a set of sums: the state of a span of steps is the
# sum of its parts' states, so windows can be added, carried over a reset
# and accumulated into a whole run.
ADDITIVE = (keras.metrics.Mean, keras.metrics.Sum, keras.metrics.AUC)


class MetricWindow:
    """Exact metric values over any span of steps, whatever Keras resets.

    Keras reports each metric as a running value since its last reset (the
    start of each epoch). For the metrics whose state is a set of sums
    (`Mean`, including weighted means and Keras' loss tracker, `Sum`, and
    `AUC`'s confusion counts at its thresholds), the state over a span of
    steps is the sum of the states of its parts. `MetricWindow` reads those
    states (`read`), sums them (`add`) and turns a summed state back into
    the metric's value with the metric's own formula (`results`, through
    Keras' `stateless_result`), so a windowed precision is the ratio of
    the window's true positives to the window's flagged tokens, and a
    windowed AUC is computed from the window's confusion counts, not an
    average of per-step values.

    Other metrics are not windowed: `names` lists the windowed ones.

    Args:
        metrics: Keras metrics (e.g. `model.metrics`).

    Example:

    ```python
    mean = keras.metrics.Mean("loss")
    window = MetricWindow([mean])
    mean.update_state([1.0, 2.0])
    first = window.read()
    mean.reset_state()
    mean.update_state([6.0])
    both = window.add(first, window.read())
    window.results(both)  # {"loss": 3.0}: (1 + 2 + 6) / 3
    ```
    """

    def __init__(self, metrics):
        self.metrics = {}
        for metric in metrics:
            if isinstance(metric, ADDITIVE):
                self.metrics[metric.name] = metric

    @property
    def names(self):
        """The names of the windowed metrics."""
        return list(self.metrics)

    def read(self):
        """The metrics' current states: `{name: [numpy arrays]}`."""
        return {
            name: [_to_numpy(v) for v in metric.variables]
            for name, metric in self.metrics.items()
        }

    def reset(self):
        """Reset the windowed metrics (the others keep running)."""
        for metric in self.metrics.values():
            metric.reset_state()

    @staticmethod
    def add(*states):
        """The state of the steps of all `states` together (any may be
        empty, `{}`)."""
        total = {}
        for state in states:
            for name, arrays in (state or {}).items():
                if name in total:
                    total[name] = [a + b for a, b in zip(total[name], arrays)]
                else:
                    total[name] = [np.array(a, "float64") for a in arrays]
        return total

    def results(self, state):
        """`{name: float}`: each metric's value over the steps of
        `state`."""
        out = {}
        for name, arrays in state.items():
            metric = self.metrics.get(name)
            if metric is None:
                continue
            values = [
                np.asarray(a).astype(v.dtype)
                for a, v in zip(arrays, metric.variables)
            ]
            value = metric.stateless_result(values)
            out[name] = float(keras.ops.convert_to_numpy(value))
        return out

    @staticmethod
    def count(state, name):
        """The summed weights of the `Mean` `name` over `state` (the number
        of tokens behind a weighted mean), or None."""
        arrays = (state or {}).get(name)
        if arrays is None or len(arrays) != 2:
            return None
        return float(arrays[1])

    @staticmethod
    def to_arrays(state, prefix):
        """A flat `{key: array}` of `state` for an `.npz` file."""
        return {
            f"{prefix}/{name}/{i}": np.asarray(a)
            for name, arrays in state.items()
            for i, a in enumerate(arrays)
        }

    @staticmethod
    def from_arrays(arrays, prefix):
        """The state that `to_arrays(state, prefix)` flattened."""
        state = {}
        head = prefix + "/"
        for key in sorted(arrays):
            if not key.startswith(head):
                continue
            name, index = key[len(head) :].rsplit("/", 1)
            state.setdefault(name, {})[int(index)] = np.asarray(arrays[key])
        return {
            name: [parts[i] for i in sorted(parts)]
            for name, parts in state.items()
        }


def _to_numpy(variable):
    value = getattr(variable, "value", variable)
    if not getattr(value, "is_fully_addressable", True):
        # A JAX array over several hosts: metric states are replicated,
        # so this host's first shard holds the whole value.
        value = value.addressable_data(0)
    elif hasattr(value, "read_value"):
        # A TensorFlow variable; under `tf.distribute`, a sync-on-read
        # variable whose read adds up the replicas' states.
        value = value.read_value()
    return np.array(keras.ops.convert_to_numpy(value), "float64")
