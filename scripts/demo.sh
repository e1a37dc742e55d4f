#!/usr/bin/env bash
# `make demo`: tag raw Spanish, Dutch, German and Bengali text with the shipped zero-shot model
# (models/, trained on English only); then train en -> es on the fixtures, evaluate on the
# Spanish test file and tag raw text, so that every allennlp command of the plugin shows.
set -euo pipefail
PY=${1:-.venv/bin/python}
OUT=${2:-demo_output}
MODEL=${3:-models/encoder_any_target.tar.gz}
ALLENNLP="$(dirname "$PY")/allennlp"
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== allennlp predict $MODEL (trained on English CoNLL-2003 only) on raw text in four languages"
cat > "$OUT/raw_4_languages.txt" <<'TEXT'
La presidenta Ana Torres visitó Bogotá con el Banco Mundial el lunes.
De Nederlandse premier Mark Rutte sprak in Brussel met de Europese Commissie.
Angela Merkel traf in Frankfurt den Vorstand der Deutschen Bank.
শেখ হাসিনা ঢাকায় জাতিসংঘের প্রতিনিধিদের সঙ্গে দেখা করেছেন।
TEXT
"$ALLENNLP" predict "$MODEL" "$OUT/raw_4_languages.txt" --batch-size 32 --silent \
  --output-file "$OUT/predictions_4_languages.jsonl" > "$OUT/predict_4_languages.log" 2>&1 \
  || { tail -5 "$OUT/predict_4_languages.log"; exit 1; }
"$PY" - "$OUT/raw_4_languages.txt" "$OUT/predictions_4_languages.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
for line, output in zip(lines, map(json.loads, open(sys.argv[2], encoding="utf-8"))):
    print(f"[{output['language']}] {line}")
    for entity in output["entities"]:
        assert line[entity["start"]:entity["end"]] == entity["text"]
        print(f"    {entity['type']:<4} {entity['start']:>3}-{entity['end']:<3} {entity['text']}")
PY
echo

echo "== allennlp train training_configs/fixture.jsonnet (en -> es, fixtures)"
"$ALLENNLP" train training_configs/fixture.jsonnet -s "$OUT/model" > "$OUT/train.log" 2>&1 \
  || { tail -40 "$OUT/train.log"; exit 1; }

echo "== allennlp evaluate on fixtures/conll/es.test"
"$ALLENNLP" evaluate "$OUT/model/model.tar.gz" fixtures/conll/es.test \
  --output-file "$OUT/test_metrics.json" > "$OUT/evaluate.log" 2>&1 \
  || { tail -40 "$OUT/evaluate.log"; exit 1; }

echo "== allennlp predict on raw Spanish text"
cat > "$OUT/raw_es.txt" <<'TEXT'
El presidente de Colombia visitó Bogotá con Ana Torres .
Los jugadores del Real Madrid llegaron a Sevilla el lunes .
TEXT
"$ALLENNLP" predict "$OUT/model/model.tar.gz" "$OUT/raw_es.txt" --silent \
  --output-file "$OUT/predictions.jsonl" > "$OUT/predict.log" 2>&1 \
  || { tail -40 "$OUT/predict.log"; exit 1; }
cat "$OUT/predictions.jsonl"

"$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
metrics = json.load(open(f"{out}/model/metrics.json"))
test = json.load(open(f"{out}/test_metrics.json"))
print()
print(f"es dev  F1 (best epoch {metrics['best_epoch']}): {metrics['best_validation_f1-measure-overall']:.4f}")
print(f"es test F1: {test['f1-measure-overall']:.4f}")
PY
