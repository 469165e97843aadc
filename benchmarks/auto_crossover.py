"""Where optimizer="auto" switches from Newton to L-BFGS: a measurement.

Fits the same problems with ``optimizer="newton"`` and ``"lbfgs"`` (the
defaults otherwise) over a grid of sizes, and prints the fit times, their
ratio and each fit's objective gap to the better of the two. The rule in
``sklearn_nnopt._validation.auto_optimizer`` comes from this table.

    python benchmarks/auto_crossover.py            # the full grid (~5 min)
    python benchmarks/auto_crossover.py --quick    # a smaller one
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor  # noqa: E402


def problem(task, n, p, seed=0):
    if task == "regression":
        X, y = make_regression(n, p, n_informative=p // 2, noise=10, random_state=seed)
        return X, y, LinearNNRegressor
    k = 2 if task == "binary" else 10
    X, y = make_classification(
        n, p, n_informative=max(2, p // 2), n_classes=k, random_state=seed
    )
    return X, y, LinearNNClassifier


def objective(est, X, y):
    """J of the fitted model in the user's coordinates (the documented one)."""
    from sklearn_nnopt._objective import Objective

    loss = est.loss_function_
    Y = est._encode_targets(
        y, np.ones(len(y)), first_call=True, classes=None, loss=loss, dtype=X.dtype
    )[0]
    obj = Objective(loss, est.alpha, est.penalty, est.l1_ratio, est.fit_intercept)
    W = np.atleast_2d(est.coef_)
    b = np.atleast_1d(est.intercept_)
    return obj.value_grad(X, np.asfortranarray(Y), None, W, b)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [1000, 10000] if args.quick else [1000, 10000, 50000]
    widths = [10, 50, 200] if args.quick else [10, 30, 100, 200, 400]
    print(
        "| task | n_samples | n_features | n_params | newton s | lbfgs s | "
        "lbfgs/newton | newton gap | lbfgs gap |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for task in ["binary", "multiclass", "regression"]:
        for n in sizes:
            for p in widths:
                X, y, cls = problem(task, n, p)
                times, values = {}, {}
                for opt in ["newton", "lbfgs"]:
                    est = cls(optimizer=opt, random_state=0)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        start = time.perf_counter()
                        est.fit(X, y)
                        times[opt] = time.perf_counter() - start
                    values[opt] = objective(est, X, y)
                best = min(values.values())
                n_params = (10 if task == "multiclass" else 1) * (p + 1)
                gaps = {k: (v - best) / abs(best) for k, v in values.items()}
                print(
                    f"| {task} | {n} | {p} | {n_params} | {times['newton']:.3f} | "
                    f"{times['lbfgs']:.3f} | {times['lbfgs'] / times['newton']:.2f} | "
                    f"{gaps['newton']:.1e} | {gaps['lbfgs']:.1e} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
