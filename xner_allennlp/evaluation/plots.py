"""
PNG figures of the package's results, drawn with matplotlib's Agg canvas (no display, no
pyplot state; matplotlib is imported only when a figure is drawn):

* `plot_report`: an `xner-report` result (`allennlp xner-report ... --plot report.png`): span F1
  by entity length (1 / 2 / >=3 tokens, paper Table 4) and by entity type, each bar labelled
  with its F1 and its number of gold spans;
* `plot_results`: dev F1 per target language and variant from `docs/results.jsonl`
  (`scripts/plot_results.py`, `make results-plot`).

The module imports nothing of the package at its top, so that `scripts/plot_results.py` can load
it without importing allennlp.
"""

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

FIGURE_DPI = 100
_LENGTH_NAMES = {"1": "1 token", "2": "2 tokens", ">=3": "\u2265 3 tokens"}


def _figure(width: float, height: float, columns: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=FIGURE_DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, list(axes)


def _save(figure, path: str) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, format="png", dpi=FIGURE_DPI)
    return path


def _bars(axes, names: Sequence[str], scores: Sequence[Mapping[str, Any]], color: str, title: str):
    f1 = [100 * s["f1"] for s in scores]
    positions = range(len(names))
    bars = axes.bar(positions, f1, color=color, width=0.65)
    for bar, value, score in zip(bars, f1, scores):
        axes.annotate(
            f"{value:.1f}\ngold {score['gold']}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set_xticks(list(positions))
    axes.set_xticklabels(names)
    axes.set_ylim(0, 115)
    axes.set_ylabel("span F1 (%)")
    axes.set_title(title, fontsize=10)
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    return bars


def plot_report(result: Mapping[str, Any], path: str, title: Optional[str] = None) -> str:
    """
    Draws F1 by entity length and F1 by type (overall last) of an `xner-report` result (the dict
    `report()` returns, or its JSON) into the PNG `path` (1000 x 400 pixels); returns `path`.
    """
    from xner_allennlp.evaluation.report import LENGTH_BUCKETS

    figure, (by_length, by_type) = _figure(10, 4, columns=2)
    lengths = result["length"]
    _bars(
        by_length,
        [_LENGTH_NAMES.get(b, b) for b in LENGTH_BUCKETS],
        [lengths[b] for b in LENGTH_BUCKETS],
        "#4c72b0",
        "F1 by gold entity length",
    )
    spans = result["spans"]
    types = [t for t in spans if t != "overall"] + (["overall"] if "overall" in spans else [])
    bars = _bars(by_type, types, [spans[t] for t in types], "#55a868", "F1 by entity type")
    if "overall" in spans:
        bars[-1].set_color("#8c8c8c")
    name = title or os.path.basename(str(result.get("file", "")))
    figure.suptitle(
        f"{name}: {result.get('sentences', '?')} sentences, {result.get('tokens', '?')} tokens",
        fontsize=11,
    )
    figure.tight_layout()
    return _save(figure, path)


def results_table(
    rows: Iterable[Mapping[str, Any]],
) -> Tuple[List[str], List[str], Dict[Tuple[str, str], float]]:
    """
    `(targets, variants, {(target, variant): dev F1 in %})` of results rows, in order of first
    appearance. A variant of the encoder backend (`backend: "encoder"`) is named
    `encoder/<variant>`; profiles other than `cpu_fast` (and the backend's own) are added to the
    name (`full (paper)`). A later row replaces an earlier one of the same target and variant.
    """
    targets: List[str] = []
    variants: List[str] = []
    f1: Dict[Tuple[str, str], float] = {}
    for row in rows:
        if row.get("dev_f1") is None or not row.get("target") or not row.get("variant"):
            continue
        variant = str(row["variant"])
        backend = row.get("backend") or "static"
        if backend != "static":
            variant = f"{backend}/{variant}"
        # The encoder rows' profile is the backend's own name.
        if row.get("profile") not in (None, "cpu_fast", backend):
            variant = f"{variant} ({row['profile']})"
        target = str(row["target"])
        if target not in targets:
            targets.append(target)
        if variant not in variants:
            variants.append(variant)
        f1[(target, variant)] = 100 * float(row["dev_f1"])
    return targets, variants, f1


def plot_results(rows: Iterable[Mapping[str, Any]], path: str) -> str:
    """
    Grouped bars of dev F1: one group per target language, one bar per variant that has a
    row for it (a colour per variant, one legend), into the PNG `path` (1000 x 450 pixels).
    """
    targets, variants, f1 = results_table(rows)
    if not targets:
        raise ValueError("no results rows with target, variant and dev_f1")
    figure, (axes,) = _figure(10, 4.5)
    colors = [
        "#4c72b0",
        "#dd8452",
        "#55a868",
        "#c44e52",
        "#8172b3",
        "#937860",
        "#da8bc3",
        "#8c8c8c",
        "#ccb974",
        "#64b5cd",
    ]
    # Each target's bars side by side, centred on the target (no gaps for missing variants);
    # a variant has one colour everywhere.
    present = {t: [v for v in variants if (t, v) in f1] for t in targets}
    width = 0.84 / max(len(found) for found in present.values())
    labelled = set()
    for position, target in enumerate(targets):
        found = present[target]
        for number, variant in enumerate(found):
            value = f1[(target, variant)]
            x = position + (number - (len(found) - 1) / 2) * width
            color = colors[variants.index(variant) % len(colors)]
            label = None if variant in labelled else variant
            labelled.add(variant)
            axes.bar([x], [value], width=width * 0.92, color=color, label=label)
            axes.annotate(
                f"{value:.0f}",
                (x, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    axes.set_xticks(range(len(targets)))
    axes.set_xticklabels([f"en \u2192 {t}" for t in targets])
    axes.set_ylim(0, 100)
    axes.set_ylabel("dev span F1 (%)")
    axes.set_title("Dev F1 per target and variant (docs/results.jsonl)", fontsize=11)
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    # The legend right of the axes, inside the figure (its size stays 1000 x 450).
    axes.legend(fontsize=8, ncol=1, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.subplots_adjust(left=0.07, right=0.74, bottom=0.1, top=0.9)
    return _save(figure, path)
