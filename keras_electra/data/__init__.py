"""Text -> examples -> shards: the data of pre-training and fine-tuning."""

from keras_electra.data.documents import Documents
from keras_electra.data.example_builder import ExampleBuilder
from keras_electra.data.example_tasks import example_task
from keras_electra.data.examples import iter_examples
from keras_electra.data.examples import text_dataset
from keras_electra.data.shards import build_shards
from keras_electra.data.shards import shard_dataset
from keras_electra.data.text import CorpusError
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import iter_documents
from keras_electra.data.vocabulary import learn_vocabulary
