"""
What the `cpu_fast` profile costs in F1 against the paper's dimensions, measured on the fixture
data (fixtures/: en.train with reverse translation to Spanish, es.dev for model selection,
es.test scored; 50-d fixture vectors), both trained for the same number of epochs (no early
stopping) with each profile's other hyper-parameters, over several seeds.

Prints, per profile, the span F1 on es.test of the best-dev epoch (mean and spread over seeds),
the training time per epoch and the number of parameters. The fixtures are small, so this is a
sanity check of the profile, not a measurement of its cost on CoNLL. Exits non-zero if a run
fails.

    .venv/bin/python benchmarks/profile_cost.py [--epochs 20] [--seeds 13 14 15]
"""

import json
import os
import statistics
import time
import traceback

os.environ.setdefault("TQDM_DISABLE", "1")

from common import (
    ROOT,
    argument_parser,
    base_import,
    exit_status,
    exit_with,
    jsonnet_config,
    scratch_dir,
)

from allennlp.commands.train import train_model
from allennlp.common import Params

import xner_allennlp  # noqa: F401 - registers the package's components


def config(workdir: str, profile: str, epochs: int, seed: int) -> Params:
    fixtures = os.path.join(ROOT, "fixtures")
    params = jsonnet_config(
        workdir,
        f"{profile}.jsonnet",
        base_import() + f"""local f = {json.dumps(fixtures)};
local source = f + '/vectors/wiki.multi.en.vec';
local target = f + '/vectors/wiki.multi.es.vec';
base.tagger(
  train=f + '/conll/en.train', dev=f + '/conll/es.dev', test=f + '/conll/es.test',
  source_vectors=source, target_vectors=target, vector_dim=50,
  train_reader=base.reader(translator=base.translator(f + '/dictionaries/en-es.txt', source, target)),
  target_reader=base.reader(encoding='latin-1'),
  hp=base.profile({json.dumps(profile)}) {{ num_epochs: {epochs}, patience: {epochs} }},
)
""",
    )
    params["trainer"]["num_epochs"] = epochs
    params["random_seed"] = params["numpy_seed"] = params["pytorch_seed"] = seed
    return Params(params)


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--profiles", nargs="+", default=["paper", "cpu_fast"])
    args = parser.parse_args()
    results = {p: [] for p in args.profiles}
    failed = []
    with scratch_dir("xner-profile-cost-") as workdir:
        for seed in args.seeds:
            for profile in args.profiles:
                serialization_dir = os.path.join(workdir, f"{profile}-{seed}")
                try:
                    start = time.perf_counter()
                    model = train_model(config(workdir, profile, args.epochs, seed), serialization_dir)
                    seconds = time.perf_counter() - start
                    with open(os.path.join(serialization_dir, "metrics.json")) as handle:
                        metrics = json.load(handle)
                except Exception:  # noqa: BLE001
                    traceback.print_exc()
                    failed.append(f"{profile}/{seed}")
                    continue
                parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
                row = {
                    "test_f1": metrics["test_f1-measure-overall"],
                    "dev_f1": metrics["best_validation_f1-measure-overall"],
                    "best_epoch": metrics["best_epoch"],
                    "seconds_per_epoch": seconds / args.epochs,
                    "parameters": parameters,
                }
                results[profile].append(row)
                print(
                    f"  seed {seed} {profile:9s} test F1 {row['test_f1']:.3f} (best dev "
                    f"{row['dev_f1']:.3f} at epoch {row['best_epoch']}), "
                    f"{row['seconds_per_epoch']:.1f} s/epoch",
                    flush=True,
                )

    print()
    print(
        f"| profile | es.test F1 (mean ± sd over {len(args.seeds)} seeds) | best dev F1 | "
        f"s/epoch | trainable parameters |"
    )
    print("|---|---|---|---|---|")
    for profile, rows in results.items():
        if not rows:
            continue
        f1 = [r["test_f1"] for r in rows]
        spread = statistics.stdev(f1) if len(f1) > 1 else 0.0
        print(
            f"| {profile} | {statistics.mean(f1):.3f} ± {spread:.3f} | "
            f"{statistics.mean(r['dev_f1'] for r in rows):.3f} | "
            f"{statistics.mean(r['seconds_per_epoch'] for r in rows):.1f} | "
            f"{rows[0]['parameters']:,} |"
        )
    if len(args.profiles) == 2 and all(results[p] for p in args.profiles):
        a, b = (statistics.mean(r["test_f1"] for r in results[p]) for p in args.profiles)
        print(
            f"\n{args.profiles[1]} - {args.profiles[0]}: {b - a:+.3f} F1 on es.test "
            f"({args.epochs} epochs each)"
        )
    return exit_status(failed)


if __name__ == "__main__":
    exit_with(main)
