import collections
import json
import random

import pytest
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.data import DatasetReader
from allennlp.data.dataset_readers.dataset_utils.span_utils import bioul_tags_to_spans

from tests.conftest import FIXTURES, ROOT
from xner_allennlp.dataset_readers.xner_conll import entity_units, shuffle_keeping_entities
from xner_allennlp.token_embedders.aligned_vectors import AlignedVectorsEmbedder

CONFIGS = ROOT / "training_configs"
ABLATIONS = ["shuffle", "word_only", "char_only", "no_translation", "no_uroman"]
TRAIN_SENTENCES = 40

CHARS = "model.text_field_embedder.token_embedders.token_characters"
WORDS = "model.text_field_embedder.token_embedders.tokens"
READERS = ("dataset_reader", "validation_dataset_reader")
MISSING = "<missing>"


@pytest.fixture
def fixture_env(monkeypatch, tmp_path):
    """Points the XNER_* variables of base.en_to at the fixtures (a short English train file)."""
    lines, sentences = [], 0
    for line in (FIXTURES / "conll" / "en.train").read_text(encoding="utf-8").splitlines(True):
        lines.append(line)
        sentences += not line.strip()  # (-DOCSTART- lines are followed by a blank line too)
        if sentences >= TRAIN_SENTENCES:
            break
    train = tmp_path / "en.train"
    train.write_text("".join(lines), encoding="utf-8")
    env = {
        "XNER_TRAIN": str(train),
        "XNER_DEV": str(FIXTURES / "conll" / "es.dev"),
        "XNER_TEST": str(FIXTURES / "conll" / "es.test"),
        "XNER_TARGET_ENCODING": "latin-1",
        "XNER_SOURCE_VECTORS": str(FIXTURES / "vectors" / "wiki.multi.en.vec"),
        "XNER_TARGET_VECTORS": str(FIXTURES / "vectors" / "wiki.multi.es.vec"),
        "XNER_VECTOR_DIM": "50",
        "XNER_DICTIONARY": str(FIXTURES / "dictionaries" / "en-es.txt"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _flat(path):
    return Params.from_file(str(path)).as_flat_dict()


def _changed(name):
    """Flat keys whose value differs between the ablation and en_to_es.jsonnet."""
    base = _flat(CONFIGS / "en_to_es.jsonnet")
    ablation = _flat(CONFIGS / "ablations" / f"{name}.jsonnet")
    return {
        key: (base.get(key, MISSING), ablation.get(key, MISSING))
        for key in set(base) | set(ablation)
        if base.get(key, MISSING) != ablation.get(key, MISSING)
    }


def test_each_ablation_changes_only_its_component(fixture_env):
    chars = {f"{r}.token_indexers.token_characters" for r in READERS} | {CHARS}
    words = {f"{r}.token_indexers.tokens" for r in READERS} | {WORDS}

    def under(key, prefixes):
        return any(key == p or key.startswith(p + ".") for p in prefixes)

    changed = _changed("shuffle")
    assert set(changed) == {"dataset_reader.shuffle_words"}
    assert changed["dataset_reader.shuffle_words"][1] is True

    changed = _changed("word_only")
    assert any(under(k, chars) for k in changed)
    assert all(new == MISSING for k, (_, new) in changed.items() if under(k, chars))
    assert {k for k in changed if not under(k, chars)} == {"model.encoder.input_size"}
    assert changed["model.encoder.input_size"][1] == 50  # the word vectors only

    changed = _changed("char_only")
    assert any(under(k, words) for k in changed)
    assert all(new == MISSING for k, (_, new) in changed.items() if under(k, words))
    assert {k for k in changed if not under(k, words)} == {"model.encoder.input_size"}
    assert changed["model.encoder.input_size"] == (50 + 600, 600)  # 2 x char_hidden_size

    changed = _changed("no_translation")
    translation = ["dataset_reader.translator", "dataset_reader.translation_mode"]
    assert changed and all(under(k, translation) for k in changed)
    assert all(new == MISSING for _, new in changed.values())  # removed, nothing added

    changed = _changed("no_uroman")
    assert changed == {f"{r}.romanizer.type": ("uroman", "identity") for r in READERS}


def _entities(words, tags):
    # allennlp's strict decoder: raises if the shuffled tags were not valid BIOUL any more.
    spans = bioul_tags_to_spans(tags)
    return collections.Counter((t, tuple(words[s : e + 1])) for t, (s, e) in spans)


def test_shuffle_keeps_words_and_entities(fixture_env, monkeypatch):
    # The shuffle itself, on a hand-made sentence: same (word, tag) pairs, each entity's words
    # together and in order, and more than one order over the seeds.
    words = ["The", "New", "York", "Times", "said", "John", "Smith", "left", "Paris", "."]
    tags = ["O", "B-ORG", "I-ORG", "L-ORG", "O", "B-PER", "L-PER", "O", "U-LOC", "O"]
    seen = set()
    for seed in range(20):
        new_words, new_tags = shuffle_keeping_entities(words, tags, random.Random(seed))
        assert sorted(zip(new_words, new_tags)) == sorted(zip(words, tags))
        text = " ".join(new_words)
        assert "New York Times" in text and "John Smith" in text
        assert [new_words[s:e] for s, e in entity_units(new_tags) if e - s > 1] != []
        assert _entities(new_words, new_tags) == _entities(words, tags)
        seen.add(text)
    assert len(seen) > 1

    # The shuffle ablation's training reader on the fixture sentences, against the same reader
    # without shuffling; without the translator, so that both have the same words.
    monkeypatch.setenv("XNER_DICTIONARY", "none")
    params = Params.from_file(str(CONFIGS / "ablations" / "shuffle.jsonnet"))
    reader_params = params.pop("dataset_reader")
    assert reader_params["shuffle_words"] is True and "translator" not in reader_params
    plain_params = reader_params.duplicate()
    plain_params["shuffle_words"] = False
    shuffled = list(DatasetReader.from_params(reader_params).read(fixture_env["XNER_TRAIN"]))
    plain = list(DatasetReader.from_params(plain_params).read(fixture_env["XNER_TRAIN"]))
    assert len(shuffled) == len(plain) > TRAIN_SENTENCES // 2
    reordered = 0
    for a, b in zip(shuffled, plain):
        words_a, words_b = a["metadata"]["words"], b["metadata"]["words"]
        tags_a, tags_b = a["tags"].labels, b["tags"].labels
        pairs_a, pairs_b = zip(words_a, tags_a), zip(words_b, tags_b)
        assert collections.Counter(pairs_a) == collections.Counter(pairs_b)
        # Every entity of the shuffled sentence is an entity of the original one, same words in
        # the same order, i.e. entities stay contiguous.
        assert _entities(words_a, tags_a) == _entities(words_b, tags_b)
        reordered += words_a != words_b
    assert reordered > len(plain) // 2


def _tiny(name):
    words, chars = name != "char_only", name != "word_only"
    overrides = {
        "trainer.num_epochs": 1,
        "model.encoder.hidden_size": 8,
        "model.encoder.input_size": (50 if words else 0) + (8 if chars else 0),
        "data_loader.batch_sampler.batch_size": 16,
    }
    if chars:
        overrides.update(
            {
                f"{CHARS}.embedding.embedding_dim": 4,
                f"{CHARS}.encoder.input_size": 4,
                f"{CHARS}.encoder.hidden_size": 4,
            }
        )
    return overrides


@pytest.mark.parametrize("name", ABLATIONS)
def test_ablation_trains_one_epoch_on_the_fixtures(name, fixture_env, monkeypatch, tmp_path):
    monkeypatch.setenv("XNER_TEST", "none")
    model = train_model_from_file(
        str(CONFIGS / "ablations" / f"{name}.jsonnet"),
        str(tmp_path / "model"),
        overrides=json.dumps(_tiny(name)),
    )
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["epoch"] == 0 and "best_validation_f1-measure-overall" in metrics
    assert (tmp_path / "model" / "model.tar.gz").exists()
    embedders = model.text_field_embedder._token_embedders
    assert ("token_characters" in embedders) == (name != "word_only")
    has_vectors = any(isinstance(e, AlignedVectorsEmbedder) for e in embedders.values())
    assert has_vectors == (name != "char_only")


def test_multi_source_to_german_writes_nouns_and_adjectives_as_german_does():
    # German capitalises its nouns (languages.json): each source's own noun tags; es does not.
    de = Params.from_file(str(CONFIGS / "multi_source" / "to_de.jsonnet")).as_dict(quiet=True)
    readers = {name: source["reader"] for name, source in de["dataset_reader"]["sources"].items()}
    assert {
        name: (r.get("capitalize_nouns"), r.get("noun_tags"), r.get("adjective_tags"))
        for name, r in readers.items()
    } == {
        "en": (True, ["NN", "NNS"], ["JJ", "JJR", "JJS"]),
        "es": (True, ["NC"], None),  # Spanish already writes them in lower case
        "nl": (True, ["N"], ["Adj"]),
    }
    es = Params.from_file(str(CONFIGS / "multi_source" / "to_es.jsonnet")).as_dict(quiet=True)
    sources = es["dataset_reader"]["sources"]
    assert not any("capitalize_nouns" in s["reader"] for s in sources.values())
    assert {n: s["reader"].get("adjective_tags") for n, s in sources.items()} == {
        "en": ["JJ", "JJR", "JJS"],
        "nl": ["Adj"],
    }


def test_multi_source_pivot_translates_every_source(monkeypatch):
    def translators():
        config = Params.from_file(str(CONFIGS / "multi_source" / "to_bn.jsonnet")).as_dict(quiet=True)
        return {n: s["reader"].get("translator") for n, s in config["dataset_reader"]["sources"].items()}

    plain = translators()
    assert plain["es"] is None and plain["nl"] is None and "pivot_dictionary" not in plain["en"]
    monkeypatch.setenv("XNER_PIVOT", "true")
    pivot = translators()
    assert pivot["en"] == plain["en"]
    for source in ("es", "nl"):
        # The en-bn dictionary through en-XX, from XX's vectors to Bengali's.
        assert pivot[source]["dictionary"] == plain["en"]["dictionary"]
        assert pivot[source]["pivot_dictionary"].endswith(f"/dictionaries/en-{source}.txt")
        assert pivot[source]["source_vectors"].endswith(f"wiki.multi.{source}.vec")
        assert pivot[source]["target_vectors"] == plain["en"]["target_vectors"]
    monkeypatch.setenv("XNER_PIVOT", "yes")
    with pytest.raises(Exception, match="XNER_PIVOT: expected true or false, got yes"):
        translators()
