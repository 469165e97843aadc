"""Fixed and per-iteration costs (issue 17): L-BFGS against its product floor,
grid searches on bundled datasets against ``LogisticRegression``.

Usage::

    python benchmarks/overheads.py                       # all sections
    python benchmarks/overheads.py --scale 0.25          # smaller L-BFGS sets
    python benchmarks/overheads.py --markdown benchmarks/overheads.md

In one process, with the peers in the same run:

* **L-BFGS per iteration**: ``fit(optimizer="lbfgs", tol=None, max_iter=k)``
  for two ``k`` up to ``LBFGS_ITERS``, within scipy's first run (a fit that
  has reached the optimum to rounding restarts L-BFGS, at 3 to 5 evaluations
  per iteration without progress: not what a fit pays); the time per
  iteration is the slope between them (set-up excluded) and is compared
  with the *floor*, one full-batch forward product ``X @ W.T`` and one
  backward product ``X.T @ G`` (the least an iteration can cost: scipy's
  line search usually takes one objective evaluation per iteration). Also
  the function evaluations per iteration, from a counting wrapper, and
  *scipy alone*: the slope of ``scipy.optimize.minimize(method="L-BFGS-B")``
  itself on a diagonal quadratic with as many parameters (its objective a
  few vector operations), the part of an iteration no objective can save.
* **Grid search**: 5-fold ``GridSearchCV`` over 20 values of ``alpha``
  (``np.logspace(-5, 1, 20)``) of ``StandardScaler`` + the default
  ``LinearNNClassifier`` on ``load_breast_cancer`` and ``load_digits``,
  against the same grid of ``LogisticRegression(C=1 / (n_train alpha))``
  (the same objective), each the fastest of ``REPEATS`` runs.

Times are the fastest of ``REPEATS`` runs (a shared 2-core machine);
``OPENBLAS_NUM_THREADS=1`` is recommended. Ratios within one run are what to
read.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _data import DATASETS, make_dataset
from _estimators import ours
from scipy.optimize import minimize
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.extmath import safe_sparse_dot

from sklearn_nnopt import LinearNNClassifier
from sklearn_nnopt import _objective as objective_module
from sklearn_nnopt import _training as training_module
from sklearn_nnopt import optimizers as optimizers_module

REPEATS = 3
LBFGS_ITERS = (5, 25)
LBFGS_SETS = ("dense_binary", "dense_multiclass", "sparse_binary", "dense_regression")
ALPHAS = np.logspace(-5, 1, 20)
CV = 5


def fastest(run, repeats=REPEATS):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def product_floor(X, n_outputs, dtype):
    """One forward and one backward full-batch product (the fastest of runs)."""
    rng = np.random.RandomState(0)
    W = rng.randn(n_outputs, X.shape[1]).astype(dtype)
    G = rng.randn(X.shape[0], n_outputs).astype(dtype)

    def run():
        safe_sparse_dot(X, W.T)
        safe_sparse_dot(X.T, G)

    return fastest(run, 2 * REPEATS)


def scipy_alone(n_params, iterations):
    """Seconds per iteration of scipy's L-BFGS-B itself on ``n_params``
    parameters: the slope between two ``maxiter`` on a diagonal quadratic
    (one objective evaluation per iteration; its cost, a few vector
    operations, is included)."""
    d = np.random.RandomState(0).rand(n_params) + 0.1

    def quadratic(x):
        g = d * x
        return 0.5 * float(x @ g), g

    def run(k):
        def go():
            minimize(
                quadratic,
                np.ones(n_params),
                jac=True,
                method="L-BFGS-B",
                options=dict(maxiter=k, gtol=0, ftol=0),
            )

        return fastest(go)

    k0, k1 = iterations
    return (run(k1) - run(k0)) / (k1 - k0)


def _first_run_iterations(data, X, y):
    """Iterations of scipy's first L-BFGS-B run in a ``tol=None`` fit."""
    runs = []
    original = optimizers_module.minimize

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        runs.append(int(result.nit))
        return result

    optimizers_module.minimize = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours(data.task, optimizer="lbfgs", tol=None, max_iter=LBFGS_ITERS[1]).fit(
                X, y
            )
    finally:
        optimizers_module.minimize = original
    return runs[0]


def lbfgs_section(name, scale, log):
    data = make_dataset(name, scale)
    X, y = data.X_train, data.y_train
    times, evaluations, iterations = {}, {}, {}
    # Objective evaluations: whole-X calls, or passes by blocks of rows.
    originals = {
        "value_grad": objective_module.Objective.value_grad,
        "full_gradient": training_module.full_gradient,
    }
    count = [0]

    def counting(function):
        def counted(*args, **kwargs):
            count[0] += 1
            return function(*args, **kwargs)

        return counted

    # The iterations before the first restart: once L-BFGS has reached the
    # optimum to rounding, tol=None restarts it, and those iterations (3 to 5
    # evaluations each, with no progress left) are not what a fit pays.
    first_run = _first_run_iterations(data, X, y)
    k1 = min(LBFGS_ITERS[1], first_run)
    k0 = min(LBFGS_ITERS[0], max(k1 // 2, 1))
    for k in (k0, k1):

        def fit(k=k):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est = ours(data.task, optimizer="lbfgs", tol=None, max_iter=k)
                return est.fit(X, y).n_iter_

        times[k] = fastest(fit)
        count[0] = 0
        objective_module.Objective.value_grad = counting(originals["value_grad"])
        training_module.full_gradient = counting(originals["full_gradient"])
        try:
            iterations[k] = fit()
        finally:
            objective_module.Objective.value_grad = originals["value_grad"]
            training_module.full_gradient = originals["full_gradient"]
        evaluations[k] = count[0]
    # The slope over the iterations run (a fit may converge before max_iter).
    ran = iterations[k1] - iterations[k0]
    if ran <= 0:
        log(f"  {name}: converged within {iterations[k0]} iterations; skipped")
        return None
    per_iteration = (times[k1] - times[k0]) / ran
    per_evaluation = (times[k1] - times[k0]) / (evaluations[k1] - evaluations[k0])
    floor = product_floor(X, data.n_outputs, X.dtype)
    n_params = data.n_outputs * (X.shape[1] + 1)
    scipy_time = scipy_alone(n_params, LBFGS_ITERS)
    log(
        f"  {name}: {per_iteration * 1e3:.2f} ms/iteration, floor "
        f"{floor * 1e3:.2f} ms, scipy alone {scipy_time * 1e3:.2f} ms"
    )
    return {
        "dataset": name,
        "shape": X.shape,
        "per_iteration": per_iteration,
        "floor": floor,
        "scipy": scipy_time,
        "ratio": per_iteration / floor,
        "evaluation_ratio": per_evaluation / floor,
        "evaluations_per_iteration": (evaluations[k1] - evaluations[k0]) / ran,
        "iterations": (iterations[k0], iterations[k1]),
    }


def grid_section(name, load, log):
    X, y = load(return_X_y=True)
    n_train = len(y) * (CV - 1) // CV

    def ours_grid():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            GridSearchCV(
                make_pipeline(StandardScaler(), LinearNNClassifier(random_state=0)),
                {"linearnnclassifier__alpha": ALPHAS},
                cv=CV,
            ).fit(X, y)

    def logistic_grid():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            GridSearchCV(
                make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                {"logisticregression__C": 1.0 / (n_train * ALPHAS)},
                cv=CV,
            ).fit(X, y)

    ours_time, logistic_time = fastest(ours_grid), fastest(logistic_grid)
    log(f"  {name}: ours {ours_time:.2f} s, LogisticRegression {logistic_time:.2f} s")
    return {
        "dataset": name,
        "ours": ours_time,
        "logistic": logistic_time,
        "ratio": ours_time / logistic_time,
    }


def render(lbfgs, grids, command):
    lines = [
        "# Fixed and per-iteration costs: benchmark",
        "",
        f"Command: `{command}`. Times are the fastest of {REPEATS} runs in one "
        "process on a shared 2-core machine; read the ratios.",
        "",
        "## L-BFGS: time per iteration against one forward and one backward "
        "full-batch product",
        "",
        "Slope between two `max_iter` (`tol=None`; per iteration run, "
        "`n_iter_`), at most "
        f"`{LBFGS_ITERS[1]}` and within scipy's first L-BFGS-B run (after "
        "it, a fit at the optimum to rounding restarts it); evaluations: "
        "objective-and-gradient calls (scipy's line search may take more than "
        "one per iteration); x floor per evaluation: the same slope per call; "
        "scipy alone: `minimize(method='L-BFGS-B')` per iteration on a diagonal "
        "quadratic with as many parameters, as a share of the floor.",
        "",
        "| set | rows x features | iterations | ms / iteration | floor ms "
        "| x floor | evaluations / iteration | x floor per evaluation "
        "| scipy alone, x floor |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in lbfgs:
        shape = "{} x {}".format(*row["shape"])
        lines.append(
            f"| {row['dataset']} | {shape} | {row['iterations'][0]} -> "
            f"{row['iterations'][1]} | {row['per_iteration'] * 1e3:.2f} "
            f"| {row['floor'] * 1e3:.2f} | {row['ratio']:.2f} "
            f"| {row['evaluations_per_iteration']:.2f} "
            f"| {row['evaluation_ratio']:.2f} | {row['scipy'] / row['floor']:.2f} |"
        )
    lines += [
        "",
        f"## Grid search: {CV}-fold `GridSearchCV` over {len(ALPHAS)} alphas "
        "(StandardScaler pipeline)",
        "",
        "| dataset | ours (default LinearNNClassifier) s | LogisticRegression s "
        "| x LogisticRegression |",
        "|---|---:|---:|---:|",
    ]
    for row in grids:
        lines.append(
            f"| {row['dataset']} | {row['ours']:.2f} | {row['logistic']:.2f} "
            f"| {row['ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--datasets", nargs="+", choices=list(DATASETS), default=list(LBFGS_SETS)
    )
    parser.add_argument("--no-grid", action="store_true")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    log("L-BFGS per iteration")
    lbfgs = [lbfgs_section(name, args.scale, log) for name in args.datasets]
    lbfgs = [row for row in lbfgs if row is not None]
    grids = []
    if not args.no_grid:
        log("grid search")
        grids = [
            grid_section("breast_cancer", load_breast_cancer, log),
            grid_section("digits", load_digits, log),
        ]
    command = "python benchmarks/overheads.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = render(lbfgs, grids, command.strip())
    if args.markdown:
        args.markdown.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
