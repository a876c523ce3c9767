"""Evaluation metrics of the fine-tuning tasks."""

from keras_electra.metrics.classification import classification_report
from keras_electra.metrics.squad import exact_match
from keras_electra.metrics.squad import f1_score
from keras_electra.metrics.squad import normalize_answer
