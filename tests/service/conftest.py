import pytest
from allennlp.predictors import Predictor

from tests.predictors.test_predictor import stub_tags
from tests.xner_model_fixture import trained_archive


@pytest.fixture(scope="package")
def predictor():
    """The fixture model's `xner_tagger` predictor."""
    return Predictor.from_path(str(trained_archive()))


@pytest.fixture
def stubbed(predictor, monkeypatch):
    """The predictor with the model replaced by `stub_tags`, so that there are entities."""

    def predict_batch_instance(instances):
        return [{"tags": stub_tags(i["metadata"]["words"])} for i in instances]

    monkeypatch.setattr(predictor, "predict_batch_instance", predict_batch_instance)
    return predictor
