"""
Scoring an archived model on a CoNLL file the way the paper analyses its results
(`allennlp xner-report`): the model tags every sentence the reader gives, and the metrics of
`evaluation.report` compare its spans with the gold ones; the OOV rate is taken against the
model's own word vectors, and the wordpiece statistics against its transformer indexer.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.tqdm import Tqdm
from allennlp.data import DatasetReader, Instance, Token
from allennlp.data.fields import SequenceLabelField, TextField
from allennlp.models import Model

from xner_allennlp.data.token_indexers import SurfaceTransformerMismatchedIndexer
from xner_allennlp.evaluation.report import (
    LENGTH_BUCKETS,
    bioul_spans,
    length_scores,
    oov_rates,
    piece_stats,
    span_scores,
)
from xner_allennlp.token_embedders.aligned_vectors import AlignedVectorsEmbedder


def _gold_tags(instance: Instance) -> List[str]:
    # The reader's tags: a `SequenceLabelField` of strings (one may hold label ids instead).
    tags = cast(SequenceLabelField, instance["tags"])
    return cast(List[str], tags.labels)


def _tokens(instance: Instance) -> List[Token]:
    return cast(TextField, instance["tokens"]).tokens


def _label_namespace(model: Model) -> str:
    return getattr(model, "label_namespace", "labels")


def check_known_tags(model: Model, instances: Sequence[Instance], path: str) -> None:
    """Raises `ConfigurationError` listing the gold tags of `instances` the model cannot predict."""
    namespace = _label_namespace(model)
    known = model.vocab.get_token_to_index_vocabulary(namespace)
    unknown = sorted({t for i in instances for t in _gold_tags(i) if t not in known})
    if unknown:
        raise ConfigurationError(
            f"{path}: tags the model does not know: {', '.join(unknown)} (the model knows "
            f"{', '.join(sorted(known))}); map or drop them with the validation reader's "
            "tag_map / drop_tag_types (-o overrides)"
        )


def aligned_vectors_lookup(model: Model) -> Optional[Callable[[str], bool]]:
    """
    `word -> bool`: whether the model's `aligned_vectors` embedder has a vector for the
    (normalised) word; `None` when the model has no such embedder (no word vectors at all).
    """
    embedders = [m for m in model.modules() if isinstance(m, AlignedVectorsEmbedder)]
    if not embedders:
        return None
    embedder = embedders[0]
    index = model.vocab.get_token_to_index_vocabulary(embedder.vocab_namespace)
    has_vector = embedder.has_vector.detach().cpu().tolist()

    def lookup(word: str) -> bool:
        row = index.get(word)
        if row is not None and row < len(has_vector):
            return bool(has_vector[row])
        # Outside the vocabulary: covered when the model composes it (`composition`).
        return embedder.composes(word)

    return lookup


def predict_tags(model: Model, instances: List[Instance], batch_size: int) -> List[List[str]]:
    """The model's tags for every instance, in order (batches of similar lengths)."""
    model.eval()
    order = sorted(range(len(instances)), key=lambda i: -len(instances[i]["tokens"]))
    tags: List[Optional[List[str]]] = [None] * len(instances)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    # Without the gold tags: the model then only decodes (no loss, no metric updates).
    untagged = [Instance({k: v for k, v in i.fields.items() if k != "tags"}) for i in instances]
    with torch.no_grad():
        for batch in Tqdm.tqdm(batches, desc="tagging"):
            outputs = model.forward_on_instances([untagged[i] for i in batch])
            for i, output in zip(batch, outputs):
                tags[i] = list(output["tags"])
    return tags  # type: ignore


def report(model: Model, reader: DatasetReader, path: str, batch_size: int = 64) -> Dict[str, Any]:
    """
    The full report as a JSON-able dict (what `allennlp xner-report --output-file` writes):
    the file's size, `span_scores`, `length_scores`, and `oov_rates` / `piece_stats` where the
    model has word vectors / a transformer indexer (`None` otherwise).

    # Parameters

    model : `Model`
        A tagger whose `forward_on_instances` outputs have `tags`.
    reader : `DatasetReader`
        Reads `path` with gold tags (an archive's validation reader).
    path : `str`
        The CoNLL file to score.
    batch_size : `int`, optional (default = `64`)
        Sentences per model batch.
    """
    instances = list(reader.read(path))
    if not instances:
        raise ConfigurationError(f"{path}: no sentences")
    for instance in instances:
        if "tags" not in instance.fields:
            raise ConfigurationError(f"{path}: the reader gave a sentence without tags")
        reader.apply_token_indexers(instance)
    check_known_tags(model, instances, path)
    predicted_tags = predict_tags(model, instances, batch_size)
    gold = [bioul_spans(_gold_tags(instance)) for instance in instances]
    predicted = [bioul_spans(tags) for tags in predicted_tags]
    tokens = [token for instance in instances for token in _tokens(instance)]
    # The reader's tokens all have a text (allennlp's `Token.text` is optional).
    words = cast(List[str], [token.text for token in tokens])
    surface = [getattr(token, "surface", None) or word for token, word in zip(tokens, words)]
    lookup = aligned_vectors_lookup(model)
    subword = subword_tokenizer(reader)
    return {
        "file": path,
        "sentences": len(instances),
        "tokens": len(words),
        "spans": span_scores(gold, predicted),
        "length": length_scores(gold, predicted),
        "oov": oov_rates(words, lookup) if lookup is not None else None,
        "pieces": piece_stats(surface, *subword) if subword is not None else None,
    }


def subword_tokenizer(
    reader: DatasetReader,
) -> Optional[Tuple[Callable[[str], List[str]], str]]:
    """`(word -> pieces, unk piece)` of the reader's transformer indexer, or `None`."""
    indexers = getattr(reader, "_token_indexers", {}) or {}
    for indexer in indexers.values():
        if isinstance(indexer, SurfaceTransformerMismatchedIndexer):
            return indexer.word_pieces, indexer.unk_piece
    return None


def _score_table(title: str, first_column: str, rows: Dict[str, Dict[str, float]]) -> List[str]:
    width = max([len(first_column)] + [len(name) for name in rows])
    lines = [
        title,
        f"  {first_column:<{width}}  precision  recall      f1    gold  predicted  correct",
    ]
    for name, s in rows.items():
        lines.append(
            f"  {name:<{width}}  {100 * s['precision']:9.2f}  {100 * s['recall']:6.2f}  "
            f"{100 * s['f1']:6.2f}  {s['gold']:6d}  {s['predicted']:9d}  {s['correct']:7d}"
        )
    return lines


def format_report(result: Dict[str, Any]) -> str:
    """The readable table printed to stdout (scores in %)."""
    lines = [f"{result['file']}: {result['sentences']} sentences, {result['tokens']} tokens", ""]
    lines += _score_table("Entity spans, exact match (scores in %)", "type", result["spans"])
    lines.append("")
    lines += _score_table(
        "By entity length in tokens (scores in %; a matched prediction counts in its gold span's bucket)",
        "length",
        {bucket: result["length"][bucket] for bucket in LENGTH_BUCKETS},
    )
    lines.append("")
    oov = result["oov"]
    pieces = result.get("pieces")
    if pieces is not None:
        lines += [
            "Encoder wordpieces (the subword counterpart of the OOV rate)",
            f"  pieces per word {pieces['pieces_per_word']:.2f}; <unk> pieces "
            f"{100 * pieces['unk_piece_rate']:.2f}%, words with an <unk> piece "
            f"{100 * pieces['unk_word_rate']:.2f}%",
        ]
    if oov is None and pieces is not None:
        pass  # the encoder's piece statistics stand in for the OOV rate
    elif oov is None:
        lines.append("OOV rate: the model has no aligned_vectors embedder (no word vectors)")
    else:
        lines += [
            "OOV rate against the model's word vectors (normalised words)",
            "           total      oov   rate %",
            f"  tokens  {oov['tokens']:7d}  {oov['oov_tokens']:7d}  {100 * oov['token_rate']:7.2f}",
            f"  types   {oov['types']:7d}  {oov['oov_types']:7d}  {100 * oov['type_rate']:7.2f}",
        ]
    return "\n".join(lines)
