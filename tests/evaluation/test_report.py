import json
import random
import re
import sys

import pytest
import torch
from allennlp.commands import main
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.data.dataset_readers.dataset_utils.span_utils import bioul_tags_to_spans
from allennlp.models.archival import load_archive
from allennlp.training.metrics import SpanBasedF1Measure

from tests.xner_model_fixture import FIXTURES, ROOT, trained_archive
from xner_allennlp.evaluation.evaluate import aligned_vectors_lookup, format_report, report
from xner_allennlp.evaluation.report import (
    bioul_spans,
    length_bucket,
    length_scores,
    oov_rates,
    piece_stats,
    span_scores,
)

ES_TEST = str(FIXTURES / "conll" / "es.test")


@pytest.fixture(scope="module")
def archive():
    return trained_archive()


@pytest.fixture(scope="module")
def loaded(archive):
    return load_archive(str(archive))


# ---------------------------------------------------------------- plain functions, by hand

# Two sentences; spans are (type, start, end) with end exclusive.
GOLD = [
    [("PER", 0, 2), ("LOC", 3, 4), ("ORG", 5, 8)],  # lengths 2, 1, 3
    [("MISC", 0, 1), ("PER", 2, 6)],  # lengths 1, 4
]
PREDICTED = [
    [("PER", 0, 2), ("LOC", 3, 4), ("ORG", 5, 7)],  # match, match, wrong end (length 2)
    [("ORG", 0, 1), ("PER", 2, 6), ("LOC", 7, 8)],  # wrong type (length 1), match, spurious (1)
]


def test_length_buckets_by_hand():
    scores = length_scores(GOLD, PREDICTED)
    # Bucket 1: gold LOC(3,4), MISC(0,1) -> 2, of which LOC is matched: recall 1/2.
    # Predicted of length 1: LOC(3,4) (matched, gold length 1), ORG(0,1) and LOC(7,8)
    # (unmatched, own length 1) -> 3, 1 correct: precision 1/3. F1 = 2*(1/3)*(1/2)/(5/6) = 2/5.
    assert scores["1"] == pytest.approx(
        {"precision": 1 / 3, "recall": 1 / 2, "f1": 2 / 5, "gold": 2, "predicted": 3, "correct": 1}
    )
    # Bucket 2: gold PER(0,2), matched: recall 1. Predicted PER(0,2) (matched) and ORG(5,7)
    # (unmatched, its own length 2 although the gold ORG it overlaps has length 3):
    # precision 1/2. F1 = 2*(1/2)*1/(3/2) = 2/3.
    assert scores["2"] == pytest.approx(
        {"precision": 1 / 2, "recall": 1.0, "f1": 2 / 3, "gold": 1, "predicted": 2, "correct": 1}
    )
    # Bucket >=3: gold ORG(5,8) and PER(2,6) (length 4), PER matched: recall 1/2. Predicted
    # PER(2,6) only: precision 1. F1 = 2/3.
    assert scores[">=3"] == pytest.approx(
        {"precision": 1.0, "recall": 1 / 2, "f1": 2 / 3, "gold": 2, "predicted": 1, "correct": 1}
    )


def test_span_scores_by_hand():
    scores = span_scores(GOLD, PREDICTED)
    assert list(scores) == ["LOC", "MISC", "ORG", "PER", "overall"]
    # PER: gold 2, predicted 2, both right.
    assert scores["PER"] == pytest.approx(
        {"precision": 1, "recall": 1, "f1": 1, "gold": 2, "predicted": 2, "correct": 2}
    )
    # LOC: gold 1, predicted 2 (one spurious): P 1/2, R 1, F1 2/3.
    assert scores["LOC"]["f1"] == pytest.approx(2 / 3)
    # ORG: gold 1, predicted 2, none right; MISC: gold 1, predicted 0.
    assert scores["ORG"]["f1"] == 0 and scores["MISC"]["predicted"] == 0
    # Overall: gold 5, predicted 6, correct 3: P 1/2, R 3/5, F1 = 2*0.3/1.1 = 6/11.
    assert scores["overall"] == pytest.approx(
        {"precision": 0.5, "recall": 0.6, "f1": 6 / 11, "gold": 5, "predicted": 6, "correct": 3}
    )


def test_length_bucket_names():
    assert [length_bucket(n) for n in (1, 2, 3, 7)] == ["1", "2", ">=3", ">=3"]
    with pytest.raises(ValueError):
        length_bucket(0)


def test_oov_rates_by_hand():
    vectors = {"el", "madrid", "."}
    words = ["el", "madrid", "enero", "num", "qqzx", "el", "."]
    # Tokens: enero, num, qqzx are OOV -> 3 of 7. Types: el madrid enero num qqzx . -> 3 of 6.
    assert oov_rates(words, vectors.__contains__) == pytest.approx(
        {"tokens": 7, "oov_tokens": 3, "token_rate": 3 / 7} | {"types": 6, "oov_types": 3, "type_rate": 0.5}
    )
    assert oov_rates([], vectors.__contains__)["token_rate"] == 0.0


def _random_bioul(rng, length):
    tags, position = [], 0
    while position < length:
        size = rng.choice([0, 0, 1, 2, 3, 4])
        if size == 0 or position + size > length:
            tags.append("O")
            position += 1
            continue
        kind = rng.choice(["PER", "LOC", "ORG"])
        if size == 1:
            tags.append("U-" + kind)
        else:
            tags += ["B-" + kind] + ["I-" + kind] * (size - 2) + ["L-" + kind]
        position += size
    return tags


def _perturb(rng, tags):
    """A valid BIOUL prediction close to `tags`: spans dropped, retyped, spurious U- spans."""
    out = list(tags)
    for _, start, end in bioul_spans(tags):
        draw = rng.random()
        if draw < 0.15:
            out[start:end] = ["O"] * (end - start)
        elif draw < 0.3:
            kind = rng.choice(["PER", "LOC", "ORG"])
            out[start:end] = [t[:2] + kind for t in out[start:end]]
    return ["U-" + rng.choice(["PER", "LOC"]) if t == "O" and rng.random() < 0.1 else t for t in out]


def test_bioul_spans_match_allennlp_and_tolerate_invalid_sequences():
    rng = random.Random(3)
    for _ in range(200):
        tags = _random_bioul(rng, rng.randint(0, 15))
        expected = sorted((t, s, e + 1) for t, (s, e) in bioul_tags_to_spans(tags))
        assert sorted(bioul_spans(tags)) == expected
    assert bioul_spans(["I-PER", "L-PER", "O", "B-LOC", "O", "L-ORG", "B-PER", "I-PER"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
        ("ORG", 5, 6),
        ("PER", 6, 8),
    ]
    assert bioul_spans(["B-PER", "L-LOC", "S-ORG", "E-ORG"]) == [
        ("PER", 0, 1),
        ("LOC", 1, 2),
        ("ORG", 2, 3),
        ("ORG", 3, 4),
    ]


# ---------------------------------------------------------------- on the trained fixture model


def test_report_agrees_with_allennlp_span_f1(loaded):
    model, reader = loaded.model, loaded.validation_dataset_reader
    # Random output weights so that the model predicts spans (and some right ones).
    torch.manual_seed(0)
    saved = {k: v.clone() for k, v in model.tag_projection_layer.state_dict().items()}
    try:
        for parameter in model.tag_projection_layer.parameters():
            parameter.data.normal_(0, 3)
        result = report(model, reader, ES_TEST, batch_size=16)
        # The model's own SpanBasedF1Measure on the same file: the numbers of `allennlp evaluate`.
        model.get_metrics(reset=True)
        instances = list(reader.read(ES_TEST))
        for start in range(0, len(instances), 16):
            model.forward_on_instances(instances[start : start + 16])
        metrics = model.get_metrics(reset=True)
    finally:
        model.tag_projection_layer.load_state_dict(saved)
    spans = result["spans"]
    assert spans["overall"]["correct"] > 5
    # es.test is IOB2: one B- tag per gold span.
    with open(ES_TEST, encoding="latin-1") as handle:
        assert spans["overall"]["gold"] == sum(1 for line in handle if " B-" in line)
    for kind, scores in spans.items():
        for name in ("precision", "recall", "f1"):
            key = f"{'f1-measure' if name == 'f1' else name}-{kind}"
            assert scores[name] == pytest.approx(metrics[key], abs=1e-9), key
    for count in ("gold", "predicted", "correct"):
        assert sum(b[count] for b in result["length"].values()) == spans["overall"][count]


def test_span_scores_match_allennlp_span_based_f1():
    labels = ["O"] + [f"{p}-{k}" for k in ("PER", "LOC", "ORG") for p in "BILU"]
    vocab = Vocabulary()
    vocab.add_tokens_to_namespace(labels, "labels")
    rng = random.Random(5)
    metric = SpanBasedF1Measure(vocab, "labels", label_encoding="BIOUL")
    gold_all, predicted_all = [], []
    for _ in range(30):
        length = rng.randint(1, 12)
        gold = _random_bioul(rng, length)
        predicted = _perturb(rng, gold) if rng.random() < 0.7 else _random_bioul(rng, length)
        gold_all.append(bioul_spans(gold))
        predicted_all.append(bioul_spans(predicted))
        ids = torch.tensor([[vocab.get_token_index(t, "labels") for t in predicted]])
        scores = torch.nn.functional.one_hot(ids, len(labels)).float()
        gold_ids = torch.tensor([[vocab.get_token_index(t, "labels") for t in gold]])
        metric(scores, gold_ids, torch.ones_like(gold_ids, dtype=torch.bool))
    expected = metric.get_metric()
    ours = span_scores(gold_all, predicted_all)
    assert ours["overall"]["correct"] > 5
    for kind, scores in ours.items():
        assert scores["f1"] == pytest.approx(expected[f"f1-measure-{kind}"], abs=1e-9)
        assert scores["precision"] == pytest.approx(expected[f"precision-{kind}"], abs=1e-9)
        assert scores["recall"] == pytest.approx(expected[f"recall-{kind}"], abs=1e-9)


def test_oov_against_the_model_vectors(loaded, tmp_path):
    model, reader = loaded.model, loaded.validation_dataset_reader
    vector_words = set()
    for name in ("en", "es"):
        with open(FIXTURES / "vectors" / f"wiki.multi.{name}.vec", encoding="utf-8") as handle:
            vector_words |= {line.split(" ", 1)[0] for line in handle}
    vocab = model.vocab.get_token_to_index_vocabulary("tokens")
    # Premises of the hand count below.
    assert {"el", "madrid", "."} <= vector_words
    assert not {"num", "qqzx", "zzyq"} & vector_words
    assert "num" in vocab  # in the vocabulary (numbers of the training data), without a vector
    assert "qqzx" not in vocab and "zzyq" not in vocab  # not even in the vocabulary
    conll = tmp_path / "small.conll"
    conll.write_bytes("El O\nMadrid B-LOC\n1993 O\nqqzx O\nel O\n. O\nzzyq O\n".encode("latin-1"))
    result = report(model, reader, str(conll))
    # Normalised: el madrid num qqzx el . zzyq -> OOV tokens num, qqzx, zzyq: 3 of 7;
    # types el madrid num qqzx . zzyq -> 3 of 6.
    assert result["oov"] == pytest.approx(
        {"tokens": 7, "oov_tokens": 3, "token_rate": 3 / 7} | {"types": 6, "oov_types": 3, "type_rate": 0.5}
    )
    lookup = aligned_vectors_lookup(model)
    assert lookup("madrid") and not lookup("num") and not lookup("@@UNKNOWN@@")


def test_unknown_tags_are_listed(loaded, tmp_path):
    conll = tmp_path / "other.conll"
    conll.write_bytes("Madrid B-FOO\nen O\nmarzo B-DATE\nde I-DATE\n".encode("latin-1"))
    with pytest.raises(ConfigurationError, match=r"does not know: B-DATE, L-DATE, U-FOO \("):
        report(loaded.model, loaded.validation_dataset_reader, str(conll))


def test_xner_report_command(archive, loaded, tmp_path, monkeypatch, capsys):
    output = tmp_path / "report.json"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "allennlp",
            "xner-report",
            str(archive),
            ES_TEST,
            "--output-file",
            str(output),
            "--batch-size",
            "16",
            "--cuda-device",
            "-1",
        ],
    )
    main()
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["archive"] == str(archive)
    assert set(result) >= {"spans", "length", "oov", "sentences", "tokens"}
    expected = report(loaded.model, loaded.validation_dataset_reader, ES_TEST)
    assert {k: result[k] for k in expected} == json.loads(json.dumps(expected))
    printed = capsys.readouterr().out
    assert format_report(result) in printed
    for label in ("overall", "PER", ">=3", "OOV rate", "types"):
        assert label in printed


def test_allennlp_evaluate_command_reports_span_f1_per_type(archive, tmp_path, monkeypatch):
    # The command of docs/usage.md.
    output = tmp_path / "metrics.json"
    monkeypatch.setattr(
        sys, "argv", ["allennlp", "evaluate", str(archive), ES_TEST, "--output-file", str(output)]
    )
    main()
    metrics = json.loads(output.read_text(encoding="utf-8"))
    for kind in ("PER", "LOC", "ORG", "MISC", "overall"):
        for name in ("precision", "recall", "f1-measure"):
            assert f"{name}-{kind}" in metrics


def test_piece_stats_by_hand():
    pieces = {"Bruselas": ["▁Bru", "selas"], "visitó": ["▁visit", "ó"], "ঢাকা": ["▁", "<unk>"], ".": ["▁."]}
    stats = piece_stats(["Bruselas", "visitó", "ঢাকা", ".", "Bruselas"], pieces.__getitem__, "<unk>")
    assert stats["words"] == 5 and stats["pieces"] == 9
    assert stats["pieces_per_word"] == 9 / 5
    assert stats["unk_pieces"] == 1 and stats["unk_piece_rate"] == 1 / 9
    assert stats["unk_words"] == 1 and stats["unk_word_rate"] == 1 / 5


# ---------------------------------------------------------------- figures


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"), len(data)


def test_xner_report_plot(archive, tmp_path, monkeypatch, capsys):
    figure = tmp_path / "figures" / "report.png"
    monkeypatch.setattr(
        sys, "argv", ["allennlp", "xner-report", str(archive), ES_TEST, "--plot", str(figure)]
    )
    main()
    width, height, size = _png_size(figure)
    assert (width, height) == (1000, 400) and size > 10_000
    monkeypatch.setattr(
        sys, "argv", ["allennlp", "xner-report", str(archive), ES_TEST, "--plot", "report.pdf"]
    )
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "error: --plot report.pdf: the figure is a PNG; give a .png file name\n"
    )
    # Without --plot the command never imports matplotlib.
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "xner_allennlp.evaluation.plots", raising=False)
    monkeypatch.setattr(sys, "argv", ["allennlp", "xner-report", str(archive), ES_TEST])
    main()
    assert "matplotlib" not in sys.modules


def test_report_and_figure_are_written_together(archive, tmp_path, monkeypatch):
    # A figure that fails to draw leaves the previous report and figure, not a new report
    # beside an old figure.
    from xner_allennlp.evaluation import plots

    output, figure = tmp_path / "report.json", tmp_path / "report.png"
    output.write_text("old report")
    figure.write_bytes(b"old figure")

    def full_disk(result, path):
        with open(path, "wb") as handle:
            handle.write(b"\x89PNG half")
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(plots, "plot_report", full_disk)
    monkeypatch.setattr(
        sys, "argv",
        ["allennlp", "xner-report", str(archive), ES_TEST, "--output-file", str(output), "--plot",
         str(figure)],
    )  # fmt: skip
    with pytest.raises(OSError, match=rf"No space left on device: '{re.escape(str(figure))}'$"):
        main()
    assert output.read_text() == "old report" and figure.read_bytes() == b"old figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.png"]


def test_plot_report_by_hand(tmp_path):
    from xner_allennlp.evaluation.plots import plot_report

    result = {
        "file": "dev.conll",
        "sentences": 2,
        "tokens": 16,
        "spans": span_scores(GOLD, PREDICTED),
        "length": length_scores(GOLD, PREDICTED),
    }
    path = plot_report(result, str(tmp_path / "by-hand.png"), title="by hand")
    assert _png_size(tmp_path / "by-hand.png")[:2] == (1000, 400) and path.endswith("by-hand.png")


RESULT_ROWS = [
    {"target": "es", "variant": "full", "profile": "cpu_fast", "dev_f1": 0.6455},
    {"target": "es", "variant": "word_only", "profile": "cpu_fast", "dev_f1": 0.4269},
    {"target": "nl", "variant": "full", "profile": "cpu_fast", "dev_f1": 0.6302},
    {"target": "es", "variant": "full", "profile": "paper", "dev_f1": 0.70},
    {
        "target": "es",
        "variant": "no_translation",
        "profile": "encoder",
        "backend": "encoder",
        "dev_f1": 0.6944,
    },
    {"target": "nl", "variant": "full", "profile": "cpu_fast", "dev_f1": 0.64},  # replaces 0.6302
    {"target": "de", "variant": "full", "profile": "cpu_fast", "dev_f1": None},  # no number
]


def _plot_results_script():
    import importlib.util

    path = ROOT / "scripts" / "plot_results.py"
    spec = importlib.util.spec_from_file_location("plot_results_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_plot_script(tmp_path, capsys):
    from xner_allennlp.evaluation.plots import results_table

    targets, variants, f1 = results_table(RESULT_ROWS)
    assert targets == ["es", "nl"]
    assert variants == ["full", "word_only", "full (paper)", "encoder/no_translation"]
    assert f1[("nl", "full")] == pytest.approx(64.0)
    rows = tmp_path / "results.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in RESULT_ROWS) + "\n", encoding="utf-8")
    output = tmp_path / "docs" / "results.png"
    script = _plot_results_script()
    assert script.main(["--input", str(rows), "--output", str(output)]) == 0
    width, height, size = _png_size(output)
    assert (width, height) == (1000, 450) and size > 10_000
    assert "2 targets (es, nl), 4 variants" in capsys.readouterr().out
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"target": "es"}) + "\n", encoding="utf-8")
    assert script.main(["--input", str(empty), "--output", str(tmp_path / "x.png")]) == 1
    assert script.main(["--input", str(tmp_path / "missing.jsonl")]) == 1
    assert "no such file" in capsys.readouterr().err
