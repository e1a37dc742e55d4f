import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from allennlp.common.checks import ConfigurationError
from allennlp.common.util import JsonDict
from allennlp.data import DatasetReader, Instance
from allennlp.models import Model
from allennlp.predictors.predictor import Predictor

from xner_allennlp.common.errors import InputFormatError, check_text
from xner_allennlp.common.languages import LANGUAGES, detect_language
from xner_allennlp.evaluation.report import bioul_spans
from xner_allennlp.training.threads import set_torch_threads

logger = logging.getLogger(__name__)

# Languages whose spaCy tokenizer (`spacy.blank`, rules only: nothing to download) the predictor
# offers: those of the package's language table, code -> name, in code order (the order the
# error message lists them in). "xx" is spaCy's multilingual tokenizer.
SUPPORTED_LANGUAGES = {code: LANGUAGES[code]["name"] for code in sorted(LANGUAGES)}
# Each input's tokenizer language detected from its text (`detect_language`).
AUTO_LANGUAGE = "auto"
# Tokens after which a long input is preferably cut (the Bengali danda included).
_SENTENCE_END = {".", "!", "?", "\u0964", "\u2026", "...", ";"}
INPUT_NAME = "predictor input"

_tokenizers: Dict[str, Any] = {}
_tokenizers_lock = threading.Lock()


def blank_tokenizer(language: str):
    """spaCy's rule-based tokenizer of `language` (`spacy.blank`), built once per process."""
    with _tokenizers_lock:
        tokenizer = _tokenizers.get(language)
        if tokenizer is None:
            import spacy

            tokenizer = _tokenizers[language] = spacy.blank(language).tokenizer
        return tokenizer


@dataclass
class _Input:
    text: str  # what the offsets index
    words: List[str]
    starts: List[int]
    language: Optional[str] = None  # the detected one, in `auto` mode


@Predictor.register("xner_tagger")
class XnerTaggerPredictor(Predictor):
    """
    Tags raw text or pre-tokenized sentences with a cross-lingual NER model; the default
    predictor of the `xner_crf_tagger` model, so `allennlp predict model.tar.gz input.txt`
    needs no `--predictor`.

    Input, one item per line (`load_line`):

    * plain text: one sentence or paragraph, tokenized with the rule-based
      `spacy.blank(language)` tokenizer;
    * `{"sentence": "..."}`: the same, for the string;
    * `{"tokens": ["...", ...]}`: already tokenized.

    A line whose first non-blank character is `{` is JSON. A JSON line with neither `sentence`
    nor `tokens`, or with both, or that does not parse, is an `InputFormatError` naming the
    line: the predictor counts the lines `load_line` sees. (`allennlp predict` skips blank lines
    without showing them to the predictor, so there the count is of non-blank lines.)

    The text follows the data files' policy (`xner_allennlp.common.errors.check_text`): a
    byte-order mark at the start of the first line is dropped, a control character (NUL,
    ESC, ...), a line or paragraph separator (U+000B, U+000C, U+0085, U+2028, U+2029) or a lone
    surrogate (a JSON `\\ud800`) is an `InputFormatError` naming the line, and the text, JSON
    strings included, is taken in Unicode NFC, the form the reader gives the model in training:
    NFD input (`n` + U+0303 for `ñ`) gets the tags of the same text in NFC, and its output
    `tokens` and offsets are those of the NFC text. (`allennlp predict`, the plugin's
    `commands/predict.py`, decodes the input file before the predictor sees a line, and names
    the file and line of every error.)

    The words go through the dataset reader's `text_to_instance`, the normalisation and
    romanization path of training. Inputs longer than `max_tokens` words are tagged in chunks
    of at most `max_tokens` words, cut after a sentence-final token where there is one in the
    second half of the chunk; the tags of the chunks are concatenated (an entity cannot span a
    cut).

    Output per input (`dump_line`: one JSON line, UTF-8 not escaped):

    * `tokens`: the words;
    * `tags`: one BIOUL tag per word;
    * `entities`: `[{"text", "type", "start", "end"}]`, `start`/`end` character offsets
      (end exclusive) such that `text == input[start:end]`, where `input` is the plain-text line
      without its line break, the `sentence` string, or `" ".join(tokens)` for `tokens` input.

    An empty input (blank line, `""`, `[]`) gives `{"tokens": [], "tags": [], "entities": []}`.

    Registered as a `Predictor` with name "xner_tagger".

    # Parameters

    model : `Model`
    dataset_reader : `DatasetReader`
        The archive's validation reader (`xner_conll`) normally.
    language : `str`, optional (default = the model's `target_language`, else `"auto"`)
        Tokenizer language: one of `bn`, `de`, `en`, `es`, `nl`, `xx` (multilingual), or
        `"auto"`: each input's language detected from its text (`detect_language`: Bengali
        script, else the table's function words; `xx` when unsure), reported as the output's
        `language`. An `xner_crf_tagger` loaded from an archive knows its target language from
        the model's `target_language` config field (archives older than that field: from their
        file names); a model trained for any target (no `target_language`) detects it. Passed
        as `--predictor-args '{"language": "es"}'`.
    max_tokens : `int`, optional (default = `400`)
        Longest word sequence given to the model at once.
    max_batch_size : `int`, optional (default = `32`)
        Most sequences (inputs or chunks of inputs) run through the model at once.
    frozen : `bool`, optional (default = `True`)
    num_threads : `int` or `str`, optional (default = `$XNER_NUM_THREADS`, else unchanged)
        Torch threads to predict with: a number, or `"auto"` (the cores not busy with other
        processes, as the `torch_threads` training callback). On a shared machine torch's
        default (every core) can be many times slower than the idle cores. When neither this
        nor `XNER_NUM_THREADS` is given, torch's setting is left as it is. Passed as
        `--predictor-args '{"num_threads": "auto"}'`.
    """

    def __init__(
        self,
        model: Model,
        dataset_reader: DatasetReader,
        language: Optional[str] = None,
        max_tokens: int = 400,
        max_batch_size: int = 32,
        frozen: bool = True,
        num_threads: Optional[Union[int, str]] = None,
    ) -> None:
        super().__init__(model, dataset_reader, frozen)
        if num_threads is None:
            num_threads = os.environ.get("XNER_NUM_THREADS") or None
        if num_threads is not None:
            set_torch_threads(num_threads)
        if language is None:
            language = getattr(model, "target_language", None) or AUTO_LANGUAGE
        language = str(language).strip().lower()
        if language not in SUPPORTED_LANGUAGES and language != AUTO_LANGUAGE:
            supported = ", ".join(f"{code} ({name})" for code, name in SUPPORTED_LANGUAGES.items())
            raise ConfigurationError(
                f"xner_tagger: language {language!r} is not supported; supported: {supported}, "
                f"or {AUTO_LANGUAGE!r} (detected per input)"
            )
        if max_tokens < 1 or max_batch_size < 1:
            raise ConfigurationError("xner_tagger: max_tokens and max_batch_size must be >= 1")
        self.language = language
        # In `auto` mode each input's tokenizer is chosen by `_prepare`.
        self._tokenizer: Any = None if language == AUTO_LANGUAGE else blank_tokenizer(language)
        self._max_tokens = max_tokens
        self._max_batch_size = max_batch_size
        self._line_number = 0

    # ------------------------------------------------------------------ input

    def load_line(self, line: str) -> JsonDict:
        """
        Plain text becomes `{"sentence": line}` (without the line break); a line starting with
        `{` must be a JSON object with `sentence` or `tokens`.
        """
        self._line_number += 1
        text = check_text(line.rstrip("\r\n"), INPUT_NAME, self._line_number)
        if not text.lstrip().startswith("{"):
            return {"sentence": text}
        try:
            inputs = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputFormatError(
                INPUT_NAME,
                self._line_number,
                f"line starts with '{{' but is not valid JSON ({error})",
            ) from None
        self._check_json(inputs, self._line_number)
        return self._checked_text(inputs, self._line_number)

    @staticmethod
    def _check_json(inputs: Any, line: Optional[int]) -> None:
        if not isinstance(inputs, dict):
            raise InputFormatError(INPUT_NAME, line, f"expected a JSON object, got {type(inputs).__name__}")
        has_sentence, has_tokens = "sentence" in inputs, "tokens" in inputs
        if has_sentence == has_tokens:
            raise InputFormatError(
                INPUT_NAME,
                line,
                'a JSON input needs exactly one of "sentence" (a string) and "tokens" '
                f"(a list of strings); got keys {sorted(inputs)}",
            )
        if has_sentence and not isinstance(inputs["sentence"], str):
            raise InputFormatError(INPUT_NAME, line, '"sentence" must be a string')
        if has_tokens:
            tokens = inputs["tokens"]
            if not isinstance(tokens, list) or not all(isinstance(t, str) and t.strip() for t in tokens):
                raise InputFormatError(INPUT_NAME, line, '"tokens" must be a list of non-blank strings')

    @staticmethod
    def _checked_text(inputs: JsonDict, line: Optional[int]) -> JsonDict:
        # JSON escapes (\u0000, \u0303) pass the check of the line they are written on. A CR
        # inside a "sentence" is whitespace to the tokenizer: it becomes a space (the offsets
        # stay those of the string) rather than check_text's CR-only-file error.
        if "sentence" in inputs:
            sentence = check_text(inputs["sentence"].replace("\r", " "), INPUT_NAME, line)
            if sentence != inputs["sentence"]:
                inputs = dict(inputs, sentence=sentence)
        else:
            tokens = [check_text(t, INPUT_NAME, line) for t in inputs["tokens"]]
            if tokens != inputs["tokens"]:
                inputs = dict(inputs, tokens=tokens)
        return inputs

    def _prepare(self, inputs: JsonDict) -> _Input:
        self._check_json(inputs, None)
        inputs = self._checked_text(inputs, None)
        if "tokens" in inputs:
            words = list(inputs["tokens"])
            starts, position = [], 0
            for word in words:
                starts.append(position)
                position += len(word) + 1
            text = " ".join(words)
            return _Input(text, words, starts, self._detected(text))
        text = inputs["sentence"]
        language = self._detected(text)
        tokenizer = self._tokenizer if language is None else blank_tokenizer(language)
        words, starts = [], []
        for token in tokenizer(text):
            if not token.text.isspace():
                words.append(token.text)
                starts.append(token.idx)
        return _Input(text, words, starts, language)

    def _detected(self, text: str) -> Optional[str]:
        return detect_language(text) if self.language == AUTO_LANGUAGE else None

    def _json_to_instance(self, json_dict: JsonDict) -> Instance:
        """The whole input as one instance (no chunking); prediction goes through `predict_json`."""
        return self._dataset_reader.text_to_instance(self._prepare(json_dict).words)

    def _chunks(self, words: List[str]) -> List[Tuple[int, int]]:
        chunks = []
        start = 0
        while start < len(words):
            end = min(start + self._max_tokens, len(words))
            if end < len(words):
                for cut in range(end, start + self._max_tokens // 2, -1):
                    if words[cut - 1] in _SENTENCE_END:
                        end = cut
                        break
            chunks.append((start, end))
            start = end
        return chunks

    # ------------------------------------------------------------------ prediction

    def predict(self, sentence: str) -> JsonDict:
        return self.predict_json({"sentence": sentence})

    def predict_json(self, inputs: JsonDict) -> JsonDict:
        return self.predict_batch_json([inputs])[0]

    def predict_batch_json(self, inputs: List[JsonDict]) -> List[JsonDict]:
        prepared = [self._prepare(item) for item in inputs]
        pieces: List[Tuple[int, int, int]] = []  # (input, first word, end word)
        for number, item in enumerate(prepared):
            pieces.extend((number, start, end) for start, end in self._chunks(item.words))
        # Longest first, so each model batch holds sequences of similar length.
        pieces.sort(key=lambda piece: piece[1] - piece[2])
        tags: List[List[str]] = [[""] * len(item.words) for item in prepared]
        for first in range(0, len(pieces), self._max_batch_size):
            batch = pieces[first : first + self._max_batch_size]
            instances = [
                self._dataset_reader.text_to_instance(prepared[number].words[start:end])
                for number, start, end in batch
            ]
            outputs = self.predict_batch_instance(instances)
            for (number, start, end), output in zip(batch, outputs):
                tags[number][start:end] = output["tags"]
        return [self._result(item, item_tags) for item, item_tags in zip(prepared, tags)]

    @staticmethod
    def _result(item: _Input, tags: List[str]) -> JsonDict:
        entities = []
        for kind, start, end in bioul_spans(tags):
            first = item.starts[start]
            last = item.starts[end - 1] + len(item.words[end - 1])
            entities.append({"text": item.text[first:last], "type": kind, "start": first, "end": last})
        result = {"tokens": item.words, "tags": tags, "entities": entities}
        if item.language is not None:
            result["language"] = item.language
        return result

    def dump_line(self, outputs: JsonDict) -> str:
        return json.dumps(outputs, ensure_ascii=False) + "\n"
