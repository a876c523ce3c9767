"""The jobs the command line runs; nothing in the library imports them.

`pretrain` (in stages: `pretrain_setup`, `pretrain_training`,
`pretrain_report`, with `checkpoints` and `run_folder`) and `finetune`
(with the task registry `finetune_tasks`) add files, checkpoints, logs and
plots around the library's models; `options` holds every option of both.
`predict` classifies a file with the output of `finetune`;
`export_formats` lists what `keras-electra export` writes.
"""
