"""Schedule-Free SGD and AdamW at their defaults, against Adam's and L-BFGS.

For each data set, the relative gap of the training objective at the fitted
``coef_``/``intercept_`` to L-BFGS's (``tol=1e-10``), ``n_iter_``, whether the
fit raised a ``ConvergenceWarning`` and its time (median of ``--repeats``
fits, ``random_state=0``)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/schedule_free.py --repeats 3

The numbers in the optimizers guide (``docs/user_guide/optimizers.rst``,
"Schedule-Free SGD and AdamW") come from this script.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor
from sklearn_nnopt._objective import Objective

OPTIMIZERS = ["adam", "schedulefree_sgd", "schedulefree_adamw"]


def data_sets():
    X, y = load_breast_cancer(return_X_y=True)
    yield (
        "breast_cancer (scaled)",
        LinearNNClassifier,
        StandardScaler().fit_transform(X),
        y,
    )
    X, y = load_digits(return_X_y=True)
    yield "digits (scaled)", LinearNNClassifier, StandardScaler().fit_transform(X), y
    X, y = make_regression(n_samples=20_000, n_features=100, noise=10.0, random_state=0)
    yield "make_regression 20k x 100", LinearNNRegressor, X, y


def objective(est, X, y):
    """The estimator's training objective at its coef_ and intercept_."""
    Y, _, _ = est._encode_targets(
        np.asarray(y),
        np.ones(len(y)),
        first_call=True,
        classes=None,
        loss=est.loss_function_,
        dtype=X.dtype,
    )
    objective = Objective(
        est.loss_function_, est.alpha, est.penalty, est.l1_ratio, est.fit_intercept
    )
    coef, intercept = np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_)
    return objective.value_grad(X, np.asfortranarray(Y), None, coef, intercept)[0]


def main(repeats):
    print(
        f"{'data':28s} {'optimizer':20s} {'gap':>9s} {'n_iter_':>7s} "
        f"{'warned':>6s} {'seconds':>8s}"
    )
    for name, cls, X, y in data_sets():
        best = cls(optimizer="lbfgs", tol=1e-10, max_iter=10_000).fit(X, y)
        best = objective(best, X, y)
        for optimizer in OPTIMIZERS:
            times = []
            for _ in range(repeats):
                est = cls(optimizer=optimizer, random_state=0)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ConvergenceWarning)
                    start = time.perf_counter()
                    est.fit(X, y)
                    times.append(time.perf_counter() - start)
            warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            gap = (objective(est, X, y) - best) / abs(best)
            print(
                f"{name:28s} {optimizer:20s} {gap:9.2e} {est.n_iter_:7d} "
                f"{str(warned):>6s} {np.median(times):8.3f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
