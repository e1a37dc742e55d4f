#!/usr/bin/env bash
# `make demo`: train en -> es on the fixtures, evaluate on the Spanish test file, tag raw text.
set -euo pipefail
PY=${1:-.venv/bin/python}
OUT=${2:-demo_output}
ALLENNLP="$(dirname "$PY")/allennlp"
rm -rf "$OUT"
mkdir -p "$OUT"

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
