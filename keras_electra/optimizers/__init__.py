from keras_electra.optimizers.electra_adamw import ElectraAdamW
from keras_electra.optimizers.electra_schedule import (
    ElectraLearningRateSchedule,
)
from keras_electra.optimizers.finetuning import finetuning_optimizer
from keras_electra.optimizers.finetuning import finetuning_recipe
from keras_electra.optimizers.finetuning import (
    layerwise_learning_rate_multipliers,
)
