"""Loading the user's model folder: pickles are never read, a saved head for other classes is a clear error."""
import json
import shutil

import pytest

from knowledge.errors import ProbeError
from probes.models import load_base_model
from tiny_models import tiny_bert


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def pickle_only_copy(source, target, payload=None):
    """The same model with its weights as pytorch_model.bin (a pickle) and no safetensors."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(source, target)
    (target / "model.safetensors").unlink()
    if payload is None:
        torch.save(load_file(source / "model.safetensors"), target / "pytorch_model.bin")
    else:
        import pickle

        (target / "pytorch_model.bin").write_bytes(pickle.dumps(payload))
    return target


class WritesAFile:
    """A pickle that, if ever unpickled, creates a marker file (what a hostile checkpoint would do, harmlessly)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_folder_with_only_pickle_weights_is_refused_with_a_clear_message(bert_dir, tmp_path):
    model = pickle_only_copy(bert_dir, tmp_path / "pickled")
    with pytest.raises(ProbeError, match=r"only pickle weights \(pytorch_model.bin\).*never read") as error:
        load_base_model(str(model), "classification", 2)
    assert "safetensors" in str(error.value)


def test_a_hostile_pickle_is_never_unpickled(bert_dir, tmp_path):
    marker = tmp_path / "pwned"
    model = pickle_only_copy(bert_dir, tmp_path / "hostile", payload=WritesAFile(marker))
    with pytest.raises(ProbeError, match="only pickle weights"):
        load_base_model(str(model), "classification", 2)
    assert not marker.exists()


def test_a_saved_classification_head_for_other_classes_is_a_clear_error(bert_dir):
    # tiny_bert saves BertForSequenceClassification with a 2-class head
    with pytest.raises(ProbeError, match="classification head for 2 classes.*the data has 3 labels"):
        load_base_model(str(bert_dir), "classification", 3)
    assert load_base_model(str(bert_dir), "classification", 2).model.config.num_labels == 2


def test_weights_that_do_not_fit_the_config_are_a_clear_error(bert_dir, tmp_path):
    # the config no longer says it has a head, but the weights still carry a 2-class one
    model = tmp_path / "relabelled"
    shutil.copytree(bert_dir, model)
    config = json.loads((model / "config.json").read_text())
    config["architectures"] = ["BertModel"]
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ProbeError, match="weights could not be loaded"):
        load_base_model(str(model), "classification", 3)
