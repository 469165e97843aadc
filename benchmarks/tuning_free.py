"""The optimizers that need no tuning (issue 15) against SGD, Adam and L-BFGS.

Usage::

    python benchmarks/tuning_free.py                  # the four benchmark sets
    python benchmarks/tuning_free.py --scale 0.1      # 1/10 of the rows
    python benchmarks/tuning_free.py --markdown benchmarks/tuning_free.md

On each benchmark set (``_data.py``), in one process, every optimizer at its
defaults (no ``learning_rate_init`` given, ``alpha=1e-4``):

* **defaults**: ``fit`` as a user calls it; the relative objective gap
  ``(J - J*) / J*`` on the training rows (``J*`` from a tightly converged
  ``LogisticRegression``/``Ridge``), the test score, the epochs, the fit time,
  and whether a ``ConvergenceWarning`` was raised;
* **time to target**: the fit time (the fastest of ``TIMING_REPEATS``
  identical fits), with the fewest epochs ``k`` for which
  ``fit(max_iter=k)`` scores within 1% (relative) of the reference's test
  score (the score at ``k`` is assumed monotone: doubling, then bisection);
* **tuned Adam**: the same time to target for ``adam`` at each
  ``learning_rate_init`` in 1e-4, 1e-3, 1e-2, 1e-1, and the best of them;
* with ``--plot PATH`` (needs matplotlib): the objective gap against epochs
  and against fit time on ``dense_binary`` and ``sparse_binary``, one line per
  optimizer, each point a fit with ``max_iter=k, tol=None`` (``k`` in
  ``CURVE_EPOCHS``; L-BFGS counts iterations), saved as a PNG.

One BLAS thread is recommended (``OPENBLAS_NUM_THREADS=1``); times are single
runs, so ratios within one run are what to read.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _data import DATASETS, make_dataset
from _estimators import objective, ours, reference
from _measure import first_reaching
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import OPTIMIZERS

HERE = Path(__file__).resolve().parent
SCORE_TOLERANCE = 0.01
TUNED_ADAM = (1e-4, 1e-3, 1e-2, 1e-1)
TIMING_REPEATS = 5
#: The new optimizers (those registered) and the ones they are measured against.
NEW = ("prodigy", "schedulefree_sgd", "schedulefree_adamw", "saga")
BASELINES = ("sgd", "adam", "lbfgs")
CURVE_EPOCHS = (1, 2, 4, 8, 16, 32, 64)
CURVE_SETS = ("dense_binary", "sparse_binary")
GAP_FLOOR = 1e-10  # gaps below are drawn at this floor


def optimizers():
    names = set(OPTIMIZERS.names())
    return [name for name in (*NEW, *BASELINES) if name in names]


def reference_fit(data):
    estimator = reference(data.task, data.X_train.shape[0])
    if data.task == "classification":
        estimator.set_params(tol=1e-10, max_iter=10_000)
    estimator.fit(data.X_train, data.y_train)
    return {
        "objective": objective(estimator, data.X_train, data.y_train, data.classes),
        "score": float(estimator.score(data.X_test, data.y_test)),
    }


def fit(data, **params):
    """Fit ``ours`` on the training rows; objective, score, time, epochs, warned."""
    estimator = ours(data.task, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {
        "objective": objective(estimator, data.X_train, data.y_train, data.classes),
        "score": float(estimator.score(data.X_test, data.y_test)),
        "seconds": seconds,
        "n_iter": int(estimator.n_iter_),
        "warned": warned,
    }


def time_to_target(data, target, max_epochs, **params):
    """Fit time with the fewest epochs reaching ``target``; (None, None) if never."""
    results = {}

    def reached(k):
        if k not in results:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                results[k] = fit(data, max_iter=k, tol=None, **params)
        return results[k]["score"] >= target

    k = first_reaching(reached, max_epochs)
    if k is None:
        return None, None
    # The fastest of TIMING_REPEATS identical fits: one fit of an epoch or two
    # (0.02-0.03 s) varies by a third on a shared machine.
    seconds = min(
        fit(data, max_iter=k, tol=None, **params)["seconds"]
        for _ in range(TIMING_REPEATS)
    )
    return seconds, k


def run_dataset(data, max_epochs, log):
    ref = reference_fit(data)
    target = ref["score"] - SCORE_TOLERANCE * abs(ref["score"])
    rows = {}
    for name in optimizers():
        log(f"  {name}")
        row = fit(data, optimizer=name)
        row["gap"] = (row["objective"] - ref["objective"]) / abs(ref["objective"])
        row["to_target"], row["target_epochs"] = time_to_target(
            data, target, max_epochs, optimizer=name
        )
        rows[name] = row
    tuned = {}
    for lr in TUNED_ADAM:
        log(f"  adam lr={lr:g}")
        tuned[lr] = time_to_target(
            data, target, max_epochs, optimizer="adam", learning_rate_init=lr
        )
    return {"reference": ref, "target": target, "rows": rows, "tuned_adam": tuned}


def _s(value, fmt="{:.2f}"):
    return "never" if value is None else fmt.format(value)


def render(results, settings):
    lines = [
        "# Optimizers that need no tuning: benchmark",
        "",
        f"Command: `python benchmarks/tuning_free.py {settings}`. Every optimizer "
        "at its defaults (no learning rate given), alpha = 1e-4. Gap = "
        "(J - J*) / J* on the training rows; time to target = fit time with the "
        "fewest epochs whose test score is within 1% of the reference's (the "
        f"fastest of {TIMING_REPEATS} identical fits); "
        "tuned Adam = the best of learning_rate_init in "
        + ", ".join(f"{lr:g}" for lr in TUNED_ADAM)
        + ". Single runs on a shared 2-core machine: read ratios within a table.",
    ]
    for name, result in results.items():
        ref = result["reference"]
        lines += [
            "",
            f"## {name}",
            "",
            f"Reference test score {ref['score']:.4f}, target {result['target']:.4f};"
            f" J* = {ref['objective']:.6g}.",
            "",
            "| optimizer | gap | test score | epochs | fit s | warned "
            "| time to target s (epochs) |",
            "|---|---|---|---|---|---|---|",
        ]
        for opt, row in result["rows"].items():
            lines.append(
                f"| {opt} | {row['gap']:.1e} | {row['score']:.4f} | {row['n_iter']} "
                f"| {row['seconds']:.2f} | {'yes' if row['warned'] else 'no'} "
                f"| {_s(row['to_target'], '{:.3f}')} "
                f"({_s(row['target_epochs'], '{}')}) |"
            )
        tuned = {lr: v for lr, v in result["tuned_adam"].items() if v[0] is not None}
        cells = ", ".join(
            f"{lr:g}: {_s(t, '{:.3f}')} s ({_s(k, '{}')})"
            for lr, (t, k) in result["tuned_adam"].items()
        )
        best = min(tuned.items(), key=lambda item: item[1][0]) if tuned else None
        lines += [
            "",
            f"Tuned Adam, time to target: {cells}; best "
            + (f"{best[1][0]:.3f} s (lr {best[0]:g})." if best else "never."),
        ]
    return "\n".join(lines) + "\n"


def curves(data, log):
    """``{optimizer: [(epochs, seconds, gap), ...]}`` from fits of growing length."""
    ref = reference_fit(data)
    out = {}
    for name in optimizers():
        log(f"  curve {name}")
        points = []
        for k in CURVE_EPOCHS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                row = fit(data, optimizer=name, max_iter=k, tol=None)
            gap = (row["objective"] - ref["objective"]) / abs(ref["objective"])
            points.append((row["n_iter"], row["seconds"], max(gap, GAP_FLOOR)))
            if row["n_iter"] < k:  # a full-batch method that has converged
                break
        out[name] = points
    return out


def plot(all_curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        2, len(all_curves), figsize=(5.5 * len(all_curves), 8), squeeze=False
    )
    for j, (name, by_optimizer) in enumerate(all_curves.items()):
        for opt, points in by_optimizer.items():
            epochs, seconds, gaps = zip(*points, strict=True)
            style = "--" if opt in BASELINES else "-"
            axes[0, j].loglog(epochs, gaps, style, marker="o", ms=3, label=opt)
            axes[1, j].loglog(seconds, gaps, style, marker="o", ms=3, label=opt)
        axes[0, j].set_title(name)
        axes[0, j].set_xlabel("epochs (L-BFGS: iterations)")
        axes[1, j].set_xlabel("fit time (s)")
        for i in range(2):
            axes[i, j].set_ylabel("objective gap (J - J*) / J*")
            axes[i, j].axhline(1e-3, color="grey", lw=0.8, ls=":")
            axes[i, j].set_ylim(GAP_FLOOR / 2, 2)
            axes[i, j].grid(True, which="major", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Defaults, no learning rate given (dotted line: gap 1e-3)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--plot", type=Path, help="save the curves figure here")
    args = parser.parse_args(argv)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    results = {}
    for name in args.datasets:
        log(name)
        data = make_dataset(name, args.scale)
        results[name] = run_dataset(data, args.max_epochs, log)
    settings = " ".join(argv if argv is not None else sys.argv[1:])
    text = render(results, settings)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.plot:
        plot(
            {name: curves(make_dataset(name, args.scale), log) for name in CURVE_SETS},
            args.plot,
        )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
