"""
Draws dev F1 per target language and variant from docs/results.jsonl (the rows that
`scripts/reproduce.py` logs) into docs/results.png, the figure at the top of docs/RESULTS.md:

    make results-plot
    .venv/bin/python scripts/plot_results.py [--input docs/results.jsonl] [--output docs/results.png]

One group of bars per target, one bar per variant (encoder-backend variants as
`encoder/<variant>`, profiles other than cpu_fast in brackets); a later row of the same target
and variant replaces an earlier one. matplotlib's Agg canvas: no display needed.
"""

import argparse
import importlib.util
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _plots_module():
    # The drawing code alone, loaded from its file: importing the xner_allennlp package would
    # import all of allennlp (seconds) for nothing.
    path = os.path.join(ROOT, "xner_allennlp", "evaluation", "plots.py")
    spec = importlib.util.spec_from_file_location("xner_plots", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_rows(path: str):
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise SystemExit(f"{path}:{number}: not a JSON line ({error})")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=os.path.join(ROOT, "docs", "results.jsonl"))
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "results.png"))
    args = parser.parse_args(argv)
    if not os.path.isfile(args.input):
        print(f"error: {args.input}: no such file", file=sys.stderr)
        return 1
    plots = _plots_module()
    rows = read_rows(args.input)
    try:
        plots.plot_results(rows, args.output)
    except ValueError as error:
        print(f"error: {args.input}: {error}", file=sys.stderr)
        return 1
    targets, variants, _ = plots.results_table(rows)
    print(f"wrote {args.output}: {len(targets)} targets ({', '.join(targets)}), {len(variants)} variants")
    return 0


if __name__ == "__main__":
    sys.exit(main())
