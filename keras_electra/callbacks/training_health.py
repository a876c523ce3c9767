"""Health checks of a pre-training run's log rows (`TrainingHealth`)."""

import math

# The discriminator "sits at its prior" while its windowed loss is at
# least this fraction of the prior's (the base rate's) loss. Measured on
# the quick start's corpora: a collapsed discriminator sits at 0.98-1.0, one
# that learns at 0.6-0.85 (README, "When the discriminator stops
# learning").
AT_PRIOR = 0.97
# The generator has not learned while its loss is at least this fraction
# of a uniform guess's, ln V.
AT_UNIFORM = 0.98

# The shortest stretch a condition must hold before it is reported.
MIN_PATIENCE = 30

COLLAPSE_ADVICE = (
    "Levers: a hotter generator (--temperature 3 kept the discriminator "
    "learning and fine-tuned best of the ELECTRA settings in our "
    "2,000-step CPU study, though not above random weights at that "
    "budget; BENCHMARKS.md); --replacement uniform (random "
    "replacements); a smaller generator (--generator-size; it did not "
    "help there); or more data and compute (the paper's ELECTRA-Small "
    "used about 47,000 times that study's FLOPs)."
)


class TrainingHealth:
    """Checks each logged window of a pre-training run; warns once per
    kind of trouble.

    At each log row (see `TrainingLog`, which calls `check`):

    - `discriminator_at_prior`: after warm-up, the discriminator's windowed
      loss has been at least `AT_PRIOR` of its prior's (the loss of
      knowing only the replaced fraction, [CLS] and [SEP] excluded) for
      `patience_steps` steps: it no longer learns which tokens were
      replaced. This is how ELECTRA fails when the generator becomes good
      too quickly for the discriminator (google-research/electra issue
      37), which a small model on a small budget meets after a few hundred
      steps.
    - `generator_at_uniform`: after warm-up, the generator's (or the
      masked-LM baseline's) loss has been at least `AT_UNIFORM` of
      `ln V` for `patience_steps` steps: it learns nothing.
    - `learning_rate_zero`: the learning rate is 0 before the last step.
    - `not_finite`: a logged value is NaN or infinite.

    Each warning is returned once (kinds in `already` never again, so a
    resumed run does not repeat what its first attempt said), as a dict
    with `step`, `kind` and a one-paragraph `message` that says what it
    means and what to change.

    Args:
        total_steps: steps of the whole run.
        warmup_steps: steps of the learning-rate warm-up (nothing is
            judged before they end).
        vocabulary_size: the vocabulary's size `V` (for `ln V`).
        patience_steps: how long a condition must hold before it is
            reported; by default a tenth of the run, at least 30 steps and
            at most 1,000.
        already: kinds reported by an earlier attempt of the run.

    Example:

    ```python
    health = TrainingHealth(total_steps=300, warmup_steps=30,
                            vocabulary_size=4285)
    log = TrainingLog(300, csv_path="log.csv", monitor=health)
    ```
    """

    def __init__(
        self,
        total_steps,
        warmup_steps,
        vocabulary_size,
        patience_steps=None,
        already=(),
    ):
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.vocabulary_size = int(vocabulary_size)
        if patience_steps is None:
            patience_steps = min(
                max(self.total_steps // 10, MIN_PATIENCE), 1000
            )
        self.patience_steps = int(patience_steps)
        self.reported = set(already)
        self._since = {}  # kind -> first step of the current stretch
        self._last_step = None

    def check(self, step, values, learning_rate, window_start=None):
        """The new warnings at log row `step` (`values`: the window's
        metrics, over the steps from `window_start`, by default the
        previous row)."""
        warnings = []
        previous, self._last_step = self._last_step, step
        if window_start is not None:
            previous = window_start

        def report(kind, message):
            if kind not in self.reported:
                self.reported.add(kind)
                warnings.append(
                    {"step": int(step), "kind": kind, "message": message}
                )

        bad = sorted(
            k
            for k, v in values.items()
            if isinstance(v, float) and not math.isfinite(v)
        )
        if bad:
            report(
                "not_finite",
                f"Warning (step {step}): {', '.join(bad)} became NaN or "
                "infinite. Lower the learning rate or check the data.",
            )
        if 0 < step < self.total_steps and learning_rate == 0:
            report(
                "learning_rate_zero",
                f"Warning (step {step}): the learning rate is 0 before "
                f"the last step ({self.total_steps}): training changes "
                "nothing. Check the learning rate and the number of steps "
                "the schedule was built for.",
            )
        # The whole window after the warm-up.
        start = previous if previous is not None else step
        after_warmup = start >= self.warmup_steps
        loss, prior = (
            values.get("discriminator_loss"),
            values.get("discriminator_prior_loss"),
        )
        at_prior = (
            after_warmup
            and loss is not None
            and prior
            and loss >= AT_PRIOR * prior
        )
        if self._held("discriminator_at_prior", at_prior, step, previous):
            auc = values.get("discriminator_auc")
            auc = f", ROC AUC {auc:.2f}" if auc is not None else ""
            since = self._since["discriminator_at_prior"]
            report(
                "discriminator_at_prior",
                f"Warning (step {step}): the discriminator has sat at its "
                f"prior since step {since} (replaced-token loss "
                f"{loss:.3f}, {loss / prior:.3f} of the {prior:.3f} that "
                f"knowing only the replaced fraction gives{auc}): it has "
                "stopped learning which tokens were replaced, so further "
                "steps teach the encoder little. ELECTRA does this when "
                "the generator becomes good too quickly for the "
                "discriminator (README: 'When the discriminator stops "
                f"learning'). {COLLAPSE_ADVICE}",
            )
        generator = values.get("generator_loss", values.get("mlm_loss"))
        uniform = math.log(max(self.vocabulary_size, 2))
        at_uniform = (
            after_warmup
            and generator is not None
            and generator >= AT_UNIFORM * uniform
        )
        if self._held("generator_at_uniform", at_uniform, step, previous):
            report(
                "generator_at_uniform",
                f"Warning (step {step}): the masked-LM loss is "
                f"{generator:.2f}, a uniform guess's over the "
                f"{self.vocabulary_size:,} tokens is {uniform:.2f}: the "
                "model has learned nothing since step "
                f"{self._since['generator_at_uniform']}. Check the data "
                "(is it text in the vocabulary's language?) and the "
                "learning rate.",
            )
        return warnings

    def _held(self, kind, condition, step, previous):
        """Whether `condition` has held for `patience_steps` steps."""
        if not condition:
            self._since.pop(kind, None)
            return False
        start = self._since.setdefault(
            kind, previous if previous is not None else step
        )
        return step - start >= self.patience_steps
