"""A pre-training run's settings: one dataclass, written to `run.json`."""

import dataclasses
import json
import os


@dataclasses.dataclass
class RunConfig:
    """What defines a pre-training run, so `--resume` continues the same one.

    `pretrain()` writes it to `run.json` in the run's folder and reads it
    back on resume (only `steps` may then change, to extend the run).
    Fields are the `pretrain()` arguments of the same names.
    """

    preset: str = "electra_tiny"
    shards: str = None
    corpus: list = None
    vocabulary: str = None
    vocabulary_size: int = 8000  # asked for, when learning one
    learned_vocabulary_size: int = None  # what the corpus gave
    steps: int = None
    batch_size: int = 32
    sequence_length: int = 128
    learning_rate: float = None
    warmup_steps: int = None
    checkpoint_every: int = 100
    seed: int = 0
    gradient_accumulation_steps: int = 1  # batches per optimizer update
    dtype: str = "float32"  # or mixed_bfloat16, mixed_float16
    # "rtd" (ELECTRA) or "mlm" (the BERT baseline, on the same encoder).
    objective: str = "rtd"
    # The pretrainer's corruption and sharing (None: the preset's).
    replacement: str = None
    temperature: float = None
    temperature_start: float = None
    temperature_steps: int = None
    embedding_sharing: str = None
    generator_size: float = None

    def save(self, path):
        """Write `path` (JSON) atomically."""
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(dataclasses.asdict(self), f, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Read `path`; fields this version does not know are ignored."""
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in stored.items() if k in known})
