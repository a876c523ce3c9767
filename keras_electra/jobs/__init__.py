"""The jobs the command line runs; nothing in the library imports them.

`pretrain` (with `checkpoints` and `run_config`) and `finetune` add files,
checkpoints, logs and plots around the library's models.
"""
