"""`data/task_files.py`: reading labelled task files, with clear errors."""

import pytest

from keras_electra.data.task_files import TaskFileError
from keras_electra.data.task_files import read_classification_file
from keras_electra.data.task_files import read_tagged_file


def test_task_file_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TaskFileError, match="empty"):
        read_classification_file(str(empty))
    no_label = tmp_path / "no_label.csv"
    no_label.write_text("sentence,target\nhello,1\n")
    with pytest.raises(
        TaskFileError, match="no column 'label'.*sentence, target"
    ):
        read_classification_file(str(no_label))
    outside = tmp_path / "outside.csv"
    outside.write_text("sentence,label\nhello,1\nbye,3\n")
    with pytest.raises(TaskFileError, match="line 3: label '3' is outside"):
        read_classification_file(str(outside), num_classes=2)
    tags = tmp_path / "tags.tsv"
    tags.write_text("The\tDT\ndog\tNN\n\nruns VBZ\n")
    with pytest.raises(TaskFileError, match="line 4: expected 'word<TAB>tag'"):
        read_tagged_file(str(tags))
