import numpy as np
import pytest
import torch
from allennlp.common.checks import ConfigurationError
from transformers import AutoModel, AutoTokenizer

from tests.conftest import FIXTURES
from xner_allennlp.alignment.word_encoder import BareWordEncoder

TINY = str(FIXTURES / "encoder" / "tiny-bert")


@pytest.fixture(scope="module")
def encoder():
    return BareWordEncoder(TINY, batch_size=2)


def test_a_word_is_the_mean_of_its_sub_token_states(encoder):
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    model = AutoModel.from_pretrained(TINY).eval()
    word = "regierungen"
    inputs = tokenizer([word], return_tensors="pt")
    assert inputs["input_ids"].shape[1] > 3, "the fixture's tokenizer should split the word"
    with torch.no_grad():
        states = model(**inputs).last_hidden_state[0, 1:-1]
    np.testing.assert_allclose(encoder([word])[0], states.mean(0).numpy(), atol=1e-5)


def test_a_word_does_not_depend_on_its_batch(encoder):
    words = ["haus", "bundesregierungen", "a", "stadt"]
    together = encoder(words)
    assert together.shape == (4, 32) and together.dtype == np.float32
    for row, word in zip(together, words):
        np.testing.assert_allclose(row, encoder([word])[0], atol=1e-5)
    assert encoder([]).shape == (0, 32)


def test_paired_similarity(encoder):
    words = ["haus", "stadt", "regierung", "land"]
    np.testing.assert_allclose(encoder.paired_similarity(words, words), 1, atol=1e-5)
    shifted = encoder.paired_similarity(words, words[1:] + words[:1])
    assert (shifted < 1 - 1e-3).all()
    with pytest.raises(ValueError, match="one length"):
        encoder.paired_similarity(words, words[:2])


def test_bad_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="layer 5 does not exist: .* hidden states 0-2"):
        BareWordEncoder(TINY, layer=5)
    with pytest.raises(ConfigurationError, match="batch_size >= 1"):
        BareWordEncoder(TINY, batch_size=0)
    with pytest.raises(ConfigurationError, match="does not exist"):
        BareWordEncoder(str(FIXTURES / "encoder" / "missing"))
