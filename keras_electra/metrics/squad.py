"""SQuAD's exact match and F1 over normalised answers."""

import collections
import re
import string


def normalize_answer(text):
    """SQuAD's normalisation: lowercase, no punctuation, articles or extra
    spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction, truths):
    """1.0 if the normalised prediction equals any normalised truth."""
    truths = truths or [""]
    return float(
        any(normalize_answer(prediction) == normalize_answer(t) for t in truths)
    )


def f1_score(prediction, truths):
    """SQuAD's token-overlap F1, the best over the truths."""
    truths = truths or [""]
    best = 0.0
    p = normalize_answer(prediction).split()
    for truth in truths:
        g = normalize_answer(truth).split()
        if not p or not g:
            best = max(best, float(p == g))
            continue
        common = collections.Counter(p) & collections.Counter(g)
        overlap = sum(common.values())
        if overlap == 0:
            continue
        precision, recall = overlap / len(p), overlap / len(g)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
