"""
Pseudo-labels for self-training on unlabelled target text: a trained archive tags sentences,
and a sentence is kept when the model is sure of every one of its tags.

Confidence of a sentence = the smallest, over its tokens, CRF marginal probability of the
tag the constrained Viterbi decoding chose there (forward-backward under the same
constrained transitions). A sentence passes at `threshold` when that minimum is at least
`threshold`, i.e. no token's tag is in doubt beyond 1 - threshold.
"""

from dataclasses import dataclass
from typing import Iterable, Iterator, List, Sequence

import torch
from allennlp.data import Batch
from allennlp.models import Model
from allennlp.nn import util as nn_util

from xner_allennlp.dataset_readers.xner_conll import XnerConllReader


@dataclass
class PseudoSentence:
    words: List[str]
    tags: List[str]  # BIOUL
    confidence: float


def pseudo_label(
    model: Model,
    reader: XnerConllReader,
    sentences: Iterable[Sequence[str]],
    batch_size: int = 32,
) -> Iterator[PseudoSentence]:
    """Tags every sentence (lists of words) and yields it with its confidence, in order."""
    crf = getattr(model, "crf", None)
    if crf is None or not hasattr(crf, "marginals"):
        raise ValueError("self-training needs an xner_crf_tagger model (its CRF gives marginals)")
    model.eval()
    labels = model.vocab.get_index_to_token_vocabulary(getattr(model, "label_namespace", "labels"))
    device = nn_util.get_device_of(next(model.parameters()))
    batch: List[List[str]] = []

    def flush(words_batch: List[List[str]]) -> List[PseudoSentence]:
        instances = [reader.text_to_instance(list(words)) for words in words_batch]
        for instance in instances:
            reader.apply_token_indexers(instance)
        tensors = Batch(instances)
        tensors.index_instances(model.vocab)
        inputs = nn_util.move_to_device(tensors.as_tensor_dict(), device)
        with torch.no_grad():
            output = model(tokens=inputs["tokens"])
            marginals = crf.marginals(output["logits"], output["mask"])
        results = []
        for row, (words, path) in enumerate(zip(words_batch, output["tags"])):
            chosen = marginals[row, torch.arange(len(path)), torch.tensor(path, device=marginals.device)]
            results.append(PseudoSentence(list(words), [labels[i] for i in path], float(chosen.min())))
        return results

    for words in sentences:
        if not words:
            continue
        batch.append(list(words))
        if len(batch) == batch_size:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)


def bioul_to_iob2(tags: Sequence[str]) -> List[str]:
    """U- becomes B-, L- becomes I-: the CoNLL-2002 scheme, which every reader takes."""
    out = []
    for tag in tags:
        if tag.startswith("U-"):
            out.append("B-" + tag[2:])
        elif tag.startswith("L-"):
            out.append("I-" + tag[2:])
        else:
            out.append(tag)
    return out
