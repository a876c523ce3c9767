"""`data/example_builder.py`: packing sentences into ELECTRA examples."""

from keras_electra.data import ExampleBuilder


def test_example_builder_format():
    builder = ExampleBuilder(
        12,
        cls_token_id=2,
        sep_token_id=3,
        seed=0,
        single_segment_rate=0.0,
        short_sequence_rate=0.0,
    )
    assert builder.add_sentence([10, 11, 12]) is None
    assert builder.add_sentence([13, 14]) is None
    example = builder.add_sentence([15, 16, 17, 18, 19, 20, 21])
    ids = example["input_ids"].tolist()
    assert ids[0] == 2 and ids.count(3) == 2
    assert len(ids) == 12 and example["input_mask"].sum() == 12
    second = example["segment_ids"].tolist().index(1)
    assert ids[second - 1] == 3 and example["segment_ids"][-1] == 1
