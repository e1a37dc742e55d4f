"""
The metrics of `allennlp xner-report`, as plain functions over span lists so that they can be
checked by hand.

A span is `(type, start, end)`: token positions in its sentence, `end` exclusive, so its length
is `end - start`. Every function that takes spans takes one list per sentence.

* `span_scores`: exact-match precision / recall / F1 per entity type and overall (micro), the
  numbers allennlp's `SpanBasedF1Measure` gives (`allennlp evaluate`).
* `length_scores`: the same by entity length in tokens, buckets `1`, `2`, `>=3` (paper,
  Table 4). A gold span belongs to the bucket of its own length. A predicted span that matches a
  gold span (same type, start and end) belongs to the bucket of that gold span; an unmatched
  predicted span to the bucket of its own length. So, per bucket b:
  recall_b = matched gold spans in b / gold spans in b,
  precision_b = matched predicted spans in b / predicted spans in b,
  F1_b their harmonic mean. (With exact matching a matched predicted span has the length of its
  gold span, so both rules put it in the same bucket.)
* `oov_rates`: the share of word tokens and of distinct word types that have no vector (paper,
  Table 6).
"""

from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

Span = Tuple[str, int, int]

OVERALL = "overall"
LENGTH_BUCKETS = ("1", "2", ">=3")


def bioul_spans(tags: Sequence[str]) -> List[Span]:
    """
    The entity spans of a BIOUL tag sequence (`B-`, `I-`, `L-`, `U-`, `O`; `E-`/`S-` are read as
    `L-`/`U-`).

    On a well-formed sequence this gives the spans allennlp's `bioul_tags_to_spans` gives. It
    never raises on an ill-formed one: an `I-`/`L-` that does not continue an open span of its
    type opens one, and a span still open at an `O`, at a `B-`/`U-` or at the end of the
    sentence is closed there.
    """
    spans: List[Span] = []
    open_type: Optional[str] = None
    open_start = 0
    for position, tag in enumerate(tags):
        prefix, _, label = tag.partition("-")
        prefix = {"E": "L", "S": "U"}.get(prefix, prefix)
        if open_type is not None and (prefix not in ("I", "L") or label != open_type):
            spans.append((open_type, open_start, position))
            open_type = None
        if prefix == "U":
            spans.append((label, position, position + 1))
        elif prefix == "B" or (prefix in ("I", "L") and open_type is None):
            open_type, open_start = label, position
        if prefix == "L" and open_type is not None:
            spans.append((open_type, open_start, position + 1))
            open_type = None
    if open_type is not None:
        spans.append((open_type, open_start, len(tags)))
    return spans


def prf(correct: int, predicted: int, gold: int) -> Dict[str, float]:
    """Precision, recall and F1 (0 where undefined) with the counts they come from."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "gold": gold,
        "predicted": predicted,
        "correct": correct,
    }


def _check_lengths(gold: Sequence, predicted: Sequence) -> None:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} sentences of gold spans but {len(predicted)} of predicted spans")


def span_scores(
    gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]]
) -> Dict[str, Dict[str, float]]:
    """Exact-match P/R/F1 per entity type (sorted) and `"overall"` (micro-averaged)."""
    _check_lengths(gold, predicted)
    counts: Dict[str, List[int]] = {}  # type -> [correct, predicted, gold]

    def count(kind: str) -> List[int]:
        return counts.setdefault(kind, [0, 0, 0])

    for gold_spans, predicted_spans in zip(gold, predicted):
        gold_set = set(gold_spans)
        for span in set(predicted_spans):
            count(span[0])[1] += 1
            if span in gold_set:
                count(span[0])[0] += 1
        for span in gold_set:
            count(span[0])[2] += 1
    scores = {kind: prf(*counts[kind]) for kind in sorted(counts)}
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    scores[OVERALL] = prf(*totals)
    return scores


def length_bucket(length: int) -> str:
    """`"1"`, `"2"` or `">=3"`."""
    if length < 1:
        raise ValueError(f"a span has at least one token, got length {length}")
    return LENGTH_BUCKETS[min(length, 3) - 1]


def length_scores(
    gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]]
) -> Dict[str, Dict[str, float]]:
    """P/R/F1 per entity-length bucket (`"1"`, `"2"`, `">=3"`), as the module docstring defines."""
    _check_lengths(gold, predicted)
    counts = {bucket: [0, 0, 0] for bucket in LENGTH_BUCKETS}  # [correct, predicted, gold]
    for gold_spans, predicted_spans in zip(gold, predicted):
        gold_set = set(gold_spans)
        for span in gold_set:
            counts[length_bucket(span[2] - span[1])][2] += 1
        for span in set(predicted_spans):
            if span in gold_set:
                # Matched: the bucket of the gold span it matches (its own length here).
                bucket = length_bucket(span[2] - span[1])
                counts[bucket][0] += 1
            else:
                bucket = length_bucket(span[2] - span[1])
            counts[bucket][1] += 1
    return {bucket: prf(*counts[bucket]) for bucket in LENGTH_BUCKETS}


def oov_rates(words: Iterable[str], has_vector: Callable[[str], bool]) -> Dict[str, float]:
    """
    OOV rate of `words` (normalised forms, one per token) by token and by type: a word is OOV
    when `has_vector(word)` is false.
    """
    tokens = oov_tokens = 0
    known: Dict[str, bool] = {}
    for word in words:
        tokens += 1
        if word not in known:
            known[word] = bool(has_vector(word))
        if not known[word]:
            oov_tokens += 1
    oov_types = sum(1 for value in known.values() if not value)
    return {
        "tokens": tokens,
        "oov_tokens": oov_tokens,
        "token_rate": oov_tokens / tokens if tokens else 0.0,
        "types": len(known),
        "oov_types": oov_types,
        "type_rate": oov_types / len(known) if known else 0.0,
    }


def piece_stats(words: Iterable[str], tokenize: Callable[[str], List[str]], unk: str) -> Dict[str, float]:
    """
    How a subword encoder sees the words (its counterpart of the OOV rate): wordpieces per word,
    and the share of pieces and of words that are (or contain) the unknown piece `unk`.
    """
    memo: Dict[str, List[str]] = {}
    words_total = pieces_total = unk_pieces = unk_words = 0
    for word in words:
        pieces = memo.get(word)
        if pieces is None:
            pieces = memo[word] = tokenize(word)
        words_total += 1
        pieces_total += len(pieces)
        unknown = sum(1 for p in pieces if p == unk)
        unk_pieces += unknown
        unk_words += 1 if unknown else 0
    return {
        "words": words_total,
        "pieces": pieces_total,
        "pieces_per_word": pieces_total / words_total if words_total else 0.0,
        "unk_pieces": unk_pieces,
        "unk_piece_rate": unk_pieces / pieces_total if pieces_total else 0.0,
        "unk_words": unk_words,
        "unk_word_rate": unk_words / words_total if words_total else 0.0,
    }
