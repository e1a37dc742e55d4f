"""
Puts a trained archive under models/ with the data of its model card (models/README.md):

    .venv/bin/python scripts/ship_model.py runs/any_target/model.tar.gz \
        --name encoder_any_target --data ../shared/data

writes `models/<name>.tar.gz` and `models/<name>.json`: the archive's size and SHA-256, the
SHA-256 of the encoder weights it needs (`make encoder`), its span F1 on each target's dev set
under `--data` (those that exist there), and its F1 on the fixtures' dev files, the smoke check
that `tests/models/test_shipped_model.py` recomputes without real data.

Each language's gold file is read by the archive's own validation reader with the language
table's encoding and tag mapping (Bengali's `TIM` -> O, empty tags -> O); nothing that changes
what the model reads (characters, normalisation) is overridden.
"""

import argparse
import json
import os
import shutil
import sys
import tarfile
from typing import Any, Dict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from xner_allennlp.common.languages import LANGUAGES  # noqa: E402
from xner_allennlp.pretrained.resolve import file_sha256  # noqa: E402

TARGETS = ("es", "nl", "de", "bn")
# The fixture dev files' encodings (fixtures/README.md).
FIXTURE_ENCODINGS = {"es": "latin-1", "nl": "latin-1", "de": "latin-1", "bn": "utf-8"}
# Reader options that map a language's gold tags; the rest of target_extra changes the input.
TAG_OPTIONS = ("tag_map", "empty_tag")


def reader_overrides(language: str, encoding: str) -> Dict[str, Any]:
    extra = LANGUAGES[language]["target_extra"]
    # Dotted keys: allennlp replaces a nested object of the overrides whole.
    reader = {"encoding": encoding, **{k: extra[k] for k in TAG_OPTIONS if k in extra}}
    return {f"validation_dataset_reader.{key}": value for key, value in reader.items()}


def score(archive_file: str, path: str, language: str, encoding: str) -> Dict[str, Any]:
    """The archive's span P/R/F1 on `path` (and the file's size)."""
    from allennlp.models.archival import load_archive

    from xner_allennlp.evaluation.evaluate import report

    archive = load_archive(archive_file, overrides=json.dumps(reader_overrides(language, encoding)))
    result = report(archive.model, archive.validation_dataset_reader, path)
    overall = result["spans"]["overall"]
    return {
        "file": os.path.relpath(path, ROOT) if path.startswith(ROOT) else path,
        "sentences": result["sentences"],
        "precision": round(overall["precision"], 6),
        "recall": round(overall["recall"], 6),
        "f1": round(overall["f1"], 6),
        "by_type": {k: round(v["f1"], 4) for k, v in result["spans"].items() if k != "overall"},
    }


def encoder_record(archive_file: str) -> Dict[str, Any]:
    with tarfile.open(archive_file) as archive:
        member = archive.extractfile("encoder/weights.json")
        if member is None:
            raise SystemExit(f"{archive_file}: no encoder/weights.json (not an encoder archive)")
        return json.load(member)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("archive_file")
    parser.add_argument("--name", required=True, help="models/<name>.tar.gz")
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--command", default="", help="the command that trained it, for the card")
    args = parser.parse_args()

    target = os.path.join(ROOT, "models", f"{args.name}.tar.gz")
    if os.path.abspath(args.archive_file) != target:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(args.archive_file, target)
    card: Dict[str, Any] = {
        "archive": os.path.relpath(target, ROOT),
        "archive_bytes": os.path.getsize(target),
        "archive_sha256": file_sha256(target),
        "encoder": encoder_record(target),
        "command": args.command,
        "dev": {},
        "fixtures": {},
    }
    for language in TARGETS:
        dev = LANGUAGES[language]["dev"]
        path = os.path.join(args.data, dev["path"])
        if os.path.isfile(path):
            card["dev"][language] = score(target, path, language, dev["encoding"])
            card["dev"][language]["file"] = dev["path"]
            print(language, "dev", card["dev"][language], flush=True)
        fixture = os.path.join(ROOT, "fixtures", "conll", f"{language}.dev")
        card["fixtures"][language] = score(target, fixture, language, FIXTURE_ENCODINGS[language])
        print(language, "fixture", card["fixtures"][language], flush=True)
    with open(os.path.join(ROOT, "models", f"{args.name}.json"), "w", encoding="utf-8") as handle:
        json.dump(card, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


if __name__ == "__main__":
    main()
