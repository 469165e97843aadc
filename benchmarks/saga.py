"""SAGA against scikit-learn's: epochs and seconds to an objective gap of 1e-6.

On the dense binary and the sparse benchmark sets of ``_data.py`` (training
rows), the objective is the library's (and ``LogisticRegression``'s with
``C = 1 / (n alpha)``)::

    J(w, b) = mean_i log(1 + exp(-y_i (x_i w + b))) + alpha / 2 ||w||^2

with ``alpha = 1e-4`` (the estimators' default). ``J*`` comes from a tight
L-BFGS-B (scipy, ``gtol=1e-12``) on this file's numpy ``J``. Then:

* ``LinearNNClassifier(optimizer="saga")``: a callback computes the gap after
  every epoch (``tol=None``, so that only the gap stops it); its time is that
  of a fit of exactly those epochs, without the callback (the fastest of
  ``--repeats``), setup included (the preconditioner, the step's eigenvalue,
  the convergence check's reference gradient);
* ``LogisticRegression(solver="saga", tol=0, max_iter=k)`` for k = 1, 2, ...
  (its epochs from scratch, as it has no callback), the first k whose gap is
  at most 1e-6, and the time of that fit (the fastest of ``--repeats``);
* both at their defaults, for the record: gap, epochs and time.

Both draw their rows from ``random_state=0``; BLAS and OpenMP run one thread.

    python benchmarks/saga.py                      # both sets (a few minutes)
    python benchmarks/saga.py --scale 0.1          # a tenth of the rows
    python benchmarks/saga.py --markdown benchmarks/saga.md
"""

import argparse
import importlib.util
import os
import platform
import subprocess
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import sklearn  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import expit  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import sklearn_nnopt  # noqa: E402
from sklearn_nnopt import LinearNNClassifier  # noqa: E402

HERE = Path(__file__).resolve().parent
ALPHA = 1e-4
TARGET = 1e-6
SETS = ["dense_binary", "sparse_binary"]


def _load_data_module():
    """benchmarks/_data.py under a name of its own (as convergence.py does)."""
    spec = importlib.util.spec_from_file_location(
        "sklearn_nnopt_benchmark_data", HERE / "_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def objective(X, y01, w, b):
    """``J`` above, with ``y01`` in {0, 1}."""
    z = X @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y01 * z) + 0.5 * ALPHA * w @ w)


def optimum(X, y01):
    """``J*`` by L-BFGS-B from zero, to a gradient of 1e-12."""

    def fun(theta):
        w, b = theta[:-1], theta[-1]
        z = X @ w + b
        value = np.mean(np.logaddexp(0.0, z) - y01 * z) + 0.5 * ALPHA * w @ w
        g = (expit(z) - y01) / len(y01)
        return float(value), np.concatenate([X.T @ g + ALPHA * w, [g.sum()]])

    result = minimize(
        fun,
        np.zeros(X.shape[1] + 1),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "gtol": 1e-12, "ftol": 0.0},
    )
    return float(result.fun)


class GapMonitor:
    """A scikit-learn fit callback: the gap after every epoch; stops at TARGET."""

    def __init__(self, X, y01, best):
        self.X, self.y01, self.best = X, y01, best
        self.gaps = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "fit" or fitted_estimator is None:
            return False
        w = np.ravel(fitted_estimator.coef_)
        b = float(np.ravel(fitted_estimator.intercept_)[0])
        gap = (objective(self.X, self.y01, w, b) - self.best) / self.best
        self.gaps.append(gap)
        return gap <= TARGET


def _timed(make, X, y, repeats):
    """The fitted estimator and the fastest of ``repeats`` fit times."""
    best, model = np.inf, None
    for _ in range(repeats):
        model = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            best = min(best, time.perf_counter() - start)
    return model, best


def ours(X, y, y01, best, batch_size, max_epochs, repeats):
    monitor = GapMonitor(X, y01, best)
    params = dict(optimizer="saga", random_state=0, batch_size=batch_size)
    LinearNNClassifier(max_iter=max_epochs, tol=None, **params).set_callbacks(
        monitor
    ).fit(X, y)
    reached = [i + 1 for i, g in enumerate(monitor.gaps) if g <= TARGET]
    epochs = reached[0] if reached else None
    seconds = gap = None
    if epochs is not None:
        model, seconds = _timed(
            lambda: LinearNNClassifier(max_iter=epochs, tol=None, **params),
            X,
            y,
            repeats,
        )
        w, b = np.ravel(model.coef_), float(model.intercept_[0])
        gap = (objective(X, y01, w, b) - best) / best
    return epochs, seconds, gap, monitor.gaps


def theirs(X, y, y01, best, max_epochs, repeats):
    C = 1.0 / (X.shape[0] * ALPHA)
    gaps = []
    for k in range(1, max_epochs + 1):

        def make(k=k):
            return LogisticRegression(
                C=C, solver="saga", tol=0.0, max_iter=k, random_state=0
            )

        model, seconds = _timed(make, X, y, 1)
        gap = (objective(X, y01, model.coef_[0], model.intercept_[0]) - best) / best
        gaps.append(gap)
        if gap <= TARGET:
            _, seconds = _timed(make, X, y, repeats)
            return k, seconds, gap, gaps
    return None, None, None, gaps


def defaults(X, y, y01, best, repeats):
    rows = []
    for name, make in [
        (
            "ours, defaults",
            lambda: LinearNNClassifier(optimizer="saga", random_state=0),
        ),
        (
            "scikit-learn, defaults",
            lambda: LogisticRegression(
                C=1.0 / (X.shape[0] * ALPHA), solver="saga", random_state=0
            ),
        ),
    ]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model = make()
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if repeats > 1:
            seconds = min(seconds, _timed(make, X, y, repeats - 1)[1])
        n_iter = int(np.max(model.n_iter_))
        gap = (
            objective(X, y01, np.ravel(model.coef_), model.intercept_[0]) - best
        ) / best
        rows.append((name, n_iter, seconds, gap, warned))
    return rows


def _commit():
    try:
        return subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument(
        "--batch-sizes",
        default="auto,20",
        help="our SAGA's batch sizes, comma-separated (default: auto,20)",
    )
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args()
    data = _load_data_module()
    batch_sizes = [
        b if b == "auto" else int(b) for b in args.batch_sizes.split(",") if b
    ]
    lines = []

    def emit(line=""):
        print(line, flush=True)
        lines.append(line)

    start = time.perf_counter()
    header = (
        f"Measured `{Path(sklearn_nnopt.__file__).parent}` (git {_commit()}); "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"{os.cpu_count()} cores, one BLAS thread; --scale {args.scale}, "
        f"--repeats {args.repeats}."
    )
    results, default_rows = [], []
    with threadpool_limits(1):
        for name in SETS:
            dataset = data.make_dataset(name, args.scale)
            X, y = dataset.X_train, dataset.y_train
            y01 = (y == np.unique(y)[1]).astype(np.float64)
            best = optimum(X, y01)
            kind = "CSR" if sp.issparse(X) else "dense"
            label = f"{name} ({X.shape[0]} x {X.shape[1]}, {kind})"
            for batch_size in batch_sizes:
                epochs, seconds, gap, gaps = ours(
                    X, y, y01, best, batch_size, args.max_epochs, args.repeats
                )
                results.append(
                    (
                        label,
                        f"ours, batch_size={batch_size}",
                        epochs,
                        seconds,
                        gap,
                        gaps,
                    )
                )
                print(results[-1][:5], flush=True)
            epochs, seconds, gap, gaps = theirs(
                X, y, y01, best, args.max_epochs, args.repeats
            )
            results.append((label, "scikit-learn saga", epochs, seconds, gap, gaps))
            print(results[-1][:5], flush=True)
            for row in defaults(X, y, y01, best, args.repeats):
                default_rows.append((label, *row))
                print(default_rows[-1], flush=True)
    emit("# SAGA against scikit-learn's: epochs and seconds to a gap of 1e-6")
    emit()
    emit(header + f" Run time {time.perf_counter() - start:.0f} s.")
    emit()
    emit(
        "Gap = (J - J*) / J*, J the mean log loss + alpha/2 ||w||^2 with "
        "alpha = 1e-4 (C = 1 / (n alpha)), J* from L-BFGS-B at gtol 1e-12. "
        "Epochs: the first epoch whose gap is at most 1e-6 (ours: a callback "
        "after each epoch; scikit-learn: a fit of k epochs, tol=0, for k = "
        "1, 2, ...). Seconds: one fit of exactly those epochs, setup "
        f"included, the fastest of {args.repeats}."
    )
    emit()
    emit(
        "| set | solver | epochs to 1e-6 | seconds | gap then | gaps, epoch 1, 2, ... |"
    )
    emit("|---|---|---|---|---|---|")
    for label, solver, epochs, seconds, gap, gaps in results:
        trail = " ".join(f"{g:.1e}" for g in gaps[:16])
        emit(
            f"| {label} | {solver} | "
            f"{epochs if epochs is not None else f'> {args.max_epochs}'} | "
            f"{seconds:.2f} | {gap:.1e} | {trail} |"
            if epochs is not None
            else f"| {label} | {solver} | > {len(gaps)} | - | - | {trail} |"
        )
    emit()
    emit("Both at their defaults (ours: tol=1e-4, the convergence check stops it):")
    emit()
    emit("| set | fit | epochs | seconds | gap | ConvergenceWarning |")
    emit("|---|---|---|---|---|---|")
    for label, name, n_iter, seconds, gap, warned in default_rows:
        emit(
            f"| {label} | {name} | {n_iter} | {seconds:.2f} | {gap:.1e} | "
            f"{'yes' if warned else 'no'} |"
        )
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
