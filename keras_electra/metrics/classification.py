"""Classification reports: accuracy, macro F1 and the confusion matrix."""

import numpy as np


def classification_report(labels, predictions, num_classes):
    """Accuracy, macro F1 and the confusion matrix (rows: true labels)."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    matrix = np.zeros((num_classes, num_classes), "int64")
    np.add.at(matrix, (labels, predictions), 1)
    f1s = []
    for c in range(num_classes):
        tp = matrix[c, c]
        precision = tp / max(1, matrix[:, c].sum())
        recall = tp / max(1, matrix[c, :].sum())
        f1s.append(
            0.0 if tp == 0 else 2 * precision * recall / (precision + recall)
        )
    return {
        "accuracy": float((labels == predictions).mean()),
        "macro_f1": float(np.mean(f1s)),
        "confusion_matrix": matrix.tolist(),
    }
