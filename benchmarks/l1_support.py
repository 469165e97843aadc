"""l1 / elastic-net support recovery of every stochastic optimizer, at its defaults.

For each problem below, the exact optimum ``(w*, b*)`` of the library's
objective (``sklearn_nnopt._objective.Objective``, the same ``J`` the fits
minimize)::

    J(w, b) = mean_i loss(y_i, x_i w + b)
              + alpha * (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||^2)

comes from a tight exact solver: ``LogisticRegression(solver="saga",
tol=1e-10, C=1/(n alpha))`` for the log loss, ``Lasso``/``ElasticNet``
(``tol=1e-12``) for the squared error (the same objective with the same
``alpha``), then polished by 2,000 full-batch proximal gradient steps (kept
only where they lower ``J``). Its first-order optimality (the minimum-norm
subgradient's largest entry) is printed as a check. Then, for every
registered stochastic optimizer that takes an l1 penalty,
``LinearNN*(optimizer=name, penalty=..., alpha=..., random_state=0)`` (every
other parameter at its default) is fitted and we report:

* zeros recovered: the share of ``w*``'s exact zeros that are exactly zero
  in ``coef_`` (target >= 90%);
* wrongly zeroed: the share of ``w*``'s non-zeros that are zero in ``coef_``
  (target <= 5%);
* gap: ``(J - J*) / J*`` (target <= 1%);
* the fit's time, its epochs, and whether it raised a ``ConvergenceWarning``.

    python benchmarks/l1_support.py                     # every problem
    python benchmarks/l1_support.py --problems named    # one
    python benchmarks/l1_support.py --markdown benchmarks/l1_support.md
"""

import argparse
import os
import platform
import subprocess
import time
import warnings
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import sklearn_nnopt  # noqa: E402
from sklearn_nnopt import OPTIMIZERS, LinearNNClassifier, LinearNNRegressor  # noqa: E402
from sklearn_nnopt._objective import Objective  # noqa: E402
from sklearn_nnopt._parameters import Parameters  # noqa: E402
from sklearn_nnopt._training import (  # noqa: E402
    TrainingData,
    full_gradient,  # noqa: E402
    gradient_optimality,
)
from sklearn_nnopt.losses import LogLoss, SquaredError  # noqa: E402

#: Every registered stochastic optimizer that takes an l1 penalty (the
#: schedule-free ones, whose model is an average, refuse it).
OPTIMIZER_NAMES = [
    name
    for name, cls, _ in OPTIMIZERS.items()
    if cls.stochastic and not cls.exposes_average
]


@dataclass
class Problem:
    name: str
    description: str
    X: object
    y: np.ndarray
    task: str  # "classification" or "regression"
    penalty: str
    alpha: float
    l1_ratio: float = 0.15


def classification_named():
    """The case of issue 16: 3,000 x 60, 6 informative features, l1, alpha=0.01."""
    X, y = make_classification(
        n_samples=3000, n_features=60, n_informative=6, n_redundant=0, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    return Problem(
        "named",
        "make_classification 3000 x 60, 6 informative, standardized; l1, alpha=0.01",
        X,
        y,
        "classification",
        "l1",
        0.01,
    )


def classification_elasticnet():
    X, y = make_classification(
        n_samples=2000,
        n_features=100,
        n_informative=10,
        n_redundant=5,
        random_state=1,
    )
    X = StandardScaler().fit_transform(X)
    return Problem(
        "elasticnet",
        "make_classification 2000 x 100, 10 informative + 5 redundant, "
        "standardized; elasticnet l1_ratio=0.5, alpha=0.02",
        X,
        y,
        "classification",
        "elasticnet",
        0.02,
        0.5,
    )


def sparse_text_like(n_samples=4000, n_features=5000, density=0.004, seed=0):
    """A tf-idf-like CSR design (non-negative, rows of unit norm) and a sparse
    logistic truth on 30 of its more frequent columns."""
    rng = np.random.RandomState(seed)
    # Zipf-like column frequencies, as words have.
    freq = 1.0 / np.arange(1, n_features + 1) ** 0.8
    freq *= density * n_features / freq.sum()
    freq = np.minimum(freq, 0.5)
    mask = rng.random_sample((n_samples, n_features)) < freq
    X = sp.csr_matrix(mask, dtype=np.float64)
    X.data = rng.exponential(1.0, size=X.nnz) + 0.5
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    X = sp.diags(1.0 / norms) @ X
    X = sp.csr_matrix(X)
    w = np.zeros(n_features)
    support = rng.choice(200, size=30, replace=False)
    w[support] = rng.choice([-1, 1], size=30) * rng.uniform(4, 8, size=30)
    p = 1 / (1 + np.exp(-(X @ w)))
    y = (rng.random_sample(n_samples) < p).astype(int)
    return X, y


def classification_sparse():
    X, y = sparse_text_like()
    return Problem(
        "sparse",
        "tf-idf-like CSR 4000 x 5000 (0.4% dense, Zipf column frequencies, rows "
        "of unit norm), logistic truth on 30 columns; l1, alpha=0.0005",
        X,
        y,
        "classification",
        "l1",
        0.0005,
    )


def regression_dense():
    X, y = make_regression(
        n_samples=2000,
        n_features=100,
        n_informative=10,
        noise=20.0,
        random_state=2,
    )
    X = StandardScaler().fit_transform(X)
    return Problem(
        "regression",
        "make_regression 2000 x 100, 10 informative, noise=20, standardized X, "
        "unscaled y; squared_error, l1, alpha=1.0",
        X,
        y,
        "regression",
        "l1",
        1.0,
    )


PROBLEMS = {
    "named": classification_named,
    "sparse": classification_sparse,
    "regression": regression_dense,
    "elasticnet": classification_elasticnet,
}


def objective_of(problem):
    loss = LogLoss() if problem.task == "classification" else SquaredError()
    objective = Objective(loss, problem.alpha, problem.penalty, problem.l1_ratio, True)
    Y = np.asarray(problem.y, dtype=np.float64).reshape(-1, 1)
    data = TrainingData(problem.X, Y, np.ones(len(problem.y)), batch_size=200)
    return objective, data


def value(problem, coef, intercept):
    """``J`` of the library's objective at ``(coef, intercept)``."""
    objective, data = objective_of(problem)
    coef = np.asarray(coef, dtype=np.float64).reshape(1, -1)
    intercept = np.asarray(intercept, dtype=np.float64).reshape(1)
    params = Parameters(coef, intercept, True)
    J, grads = full_gradient(objective, data, params)
    return J, gradient_optimality(objective, coef, grads)


def polish(problem, coef, intercept, steps=2000):
    """Full-batch proximal gradient steps (backtracking), kept where J falls."""
    objective, data = objective_of(problem)
    W = np.asarray(coef, dtype=np.float64).reshape(1, -1).copy()
    b = np.asarray(intercept, dtype=np.float64).reshape(1).copy()
    J, grads = full_gradient(objective, data, Parameters(W, b, True))
    t = 1.0
    for _ in range(steps):
        while True:
            V = W - t * grads[0]
            V = np.sign(V) * np.maximum(np.abs(V) - t * objective.l1, 0.0)
            c = b - t * grads[1]
            Jn, gn = full_gradient(objective, data, Parameters(V, c, True))
            if Jn <= J or t < 1e-12:
                break
            t *= 0.5
        if not Jn < J:
            break
        W, b, J, grads = V, c, Jn, gn
        t *= 1.5
    return W.ravel(), b


def exact_optimum(problem):
    n = len(problem.y)
    if problem.task == "classification":
        r = 1.0 if problem.penalty == "l1" else problem.l1_ratio
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = LogisticRegression(
                l1_ratio=r,
                solver="saga",
                C=1 / (n * problem.alpha),
                tol=1e-10,
                max_iter=200_000,
            ).fit(problem.X, problem.y)
        coef, intercept = ref.coef_.ravel(), ref.intercept_
    else:
        if problem.penalty == "l1":
            ref = Lasso(alpha=problem.alpha, tol=1e-12, max_iter=200_000)
        else:
            ref = ElasticNet(
                alpha=problem.alpha,
                l1_ratio=problem.l1_ratio,
                tol=1e-12,
                max_iter=200_000,
            )
        ref.fit(problem.X, problem.y)
        coef, intercept = ref.coef_.ravel(), np.atleast_1d(ref.intercept_)
    J0, _ = value(problem, coef, intercept)
    coef2, intercept2 = polish(problem, coef, intercept)
    J2, _ = value(problem, coef2, intercept2)
    if J2 < J0:
        coef, intercept = coef2, intercept2
    J, opt = value(problem, coef, intercept)
    return coef, intercept, J, opt


def measure(problem, name, coef_star, J_star, **params):
    Est = LinearNNClassifier if problem.task == "classification" else LinearNNRegressor
    est = Est(
        optimizer=name,
        penalty=problem.penalty,
        alpha=problem.alpha,
        l1_ratio=problem.l1_ratio,
        random_state=0,
        **params,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(problem.X, problem.y)
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    coef = np.asarray(est.coef_).ravel()
    J, _ = value(problem, coef, est.intercept_)
    zero_star = coef_star == 0
    return dict(
        optimizer=name,
        recovered=100.0 * np.mean(coef[zero_star] == 0) if zero_star.any() else 100.0,
        wrong=100.0 * np.mean(coef[~zero_star] == 0) if (~zero_star).any() else 0.0,
        gap=100.0 * (J - J_star) / abs(J_star),
        seconds=seconds,
        epochs=est.n_iter_,
        warned=warned,
        zeros=int(np.sum(coef == 0)),
    )


def meets(row):
    return row["recovered"] >= 90 and row["wrong"] <= 5 and row["gap"] <= 1


def table(rows):
    lines = [
        "| optimizer | zeros recovered | wrongly zeroed | gap | time | epochs "
        "| ConvergenceWarning | targets met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['optimizer']} | {r['recovered']:.1f}% | {r['wrong']:.1f}% | "
            f"{r['gap']:.3f}% | {r['seconds']:.2f}s | {r['epochs']} | "
            f"{'yes' if r['warned'] else 'no'} | {'yes' if meets(r) else 'no'} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--optimizers", nargs="*", default=OPTIMIZER_NAMES)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
    except OSError:
        commit = "?"
    out = [
        "# l1 / elastic-net support recovery at the defaults",
        "",
        f"`python benchmarks/l1_support.py` at commit {commit}; sklearn-nnopt "
        f"{sklearn_nnopt.__version__}, scikit-learn {sklearn.__version__}, numpy "
        f"{np.__version__}, Python {platform.python_version()}, one BLAS thread. "
        "Targets: zeros recovered >= 90%, wrongly zeroed <= 5%, gap <= 1%.",
    ]
    for key in args.problems:
        problem = PROBLEMS[key]()
        coef_star, _, J_star, opt = exact_optimum(problem)
        n_zero = int(np.sum(coef_star == 0))
        header = (
            f"## {problem.name}: {problem.description}\n\nExact optimum: "
            f"{n_zero} of {coef_star.size} coefficients zero, J* = {J_star:.6g} "
            f"(first-order optimality {opt:.1e})."
        )
        print(header, flush=True)
        rows = []
        for name in args.optimizers:
            row = measure(problem, name, coef_star, J_star)
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
        out += ["", header, "", table(rows)]
    text = "\n".join(out) + "\n"
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
