from keras_electra.data.example_builder import ExampleBuilder
from keras_electra.data.pretraining_data import build_shards
from keras_electra.data.pretraining_data import iter_examples
from keras_electra.data.pretraining_data import shard_dataset
from keras_electra.data.pretraining_data import text_dataset
from keras_electra.data.text import CorpusError
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import iter_documents
