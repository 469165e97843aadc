"""Multilabel ``y`` (issue 16): LinearNNClassifier against scikit-learn.

Usage::

    python benchmarks/multilabel.py
    python benchmarks/multilabel.py --markdown benchmarks/multilabel.md

On variants of ``make_multilabel_classification`` (standardized ``X``, a
75/25 split), the same objective at matched regularization, the mean over
rows of the sum over labels of the binary log loss plus ``alpha/2 ||W||^2``:

* ``LinearNNClassifier(alpha=alpha)`` at its defaults (``optimizer="auto"``);
* ``MLPClassifier(hidden_layer_sizes=())`` with its default solver
  ``"adam"`` and with ``"lbfgs"``. Its penalty is ``alpha_mlp / (2 m)
  ||W||^2`` per gradient of ``m`` rows: ``m = n`` for ``"lbfgs"`` (so
  ``alpha_mlp = alpha * n``), the batch size ``min(200, n)`` for ``"adam"``
  (``alpha_mlp = alpha * min(200, n)``: with ``alpha * n`` it would be
  ``n / 200`` times stronger);
* ``MultiOutputClassifier(LogisticRegression(C=1 / (alpha * n)))`` (its
  objective per label is ``C sum_i loss_i + ||w||^2 / 2``).

Reported: F1 (samples average) and Hamming loss on the test rows, and the fit
time (the median of ``--repeats`` fits, run round-robin). One BLAS thread is
recommended (``OPENBLAS_NUM_THREADS=1``).
"""

import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, hamming_loss
from sklearn.model_selection import train_test_split
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MaxAbsScaler, StandardScaler

from sklearn_nnopt import LinearNNClassifier

#: name -> make_multilabel_classification parameters (and sparse X or not).
VARIANTS = {
    "small: 1000 x 20, 5 labels": dict(
        n_samples=1000, n_features=20, n_classes=5, n_labels=2
    ),
    "medium: 5000 x 50, 10 labels": dict(
        n_samples=5000, n_features=50, n_classes=10, n_labels=3
    ),
    "many labels: 4000 x 100, 20 labels": dict(
        n_samples=4000, n_features=100, n_classes=20, n_labels=4
    ),
    "tall: 20000 x 50, 5 labels": dict(
        n_samples=20000, n_features=50, n_classes=5, n_labels=2
    ),
    "sparse X: 3000 x 300, 6 labels": dict(
        n_samples=3000,
        n_features=300,
        n_classes=6,
        n_labels=2,
        length=15,
        sparse=True,
    ),
    "sparse X: 10000 x 1000, 10 labels": dict(
        n_samples=10000,
        n_features=1000,
        n_classes=10,
        n_labels=3,
        length=20,
        sparse=True,
    ),
}

ALPHA = 1e-4


def make_data(params, random_state=0):
    X, Y = make_multilabel_classification(
        random_state=random_state, allow_unlabeled=True, **params
    )
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=0.25, random_state=random_state
    )
    scaler = MaxAbsScaler() if sp.issparse(X) else StandardScaler()
    X_train = scaler.fit_transform(X_train)
    X_test = scaler.transform(X_test)
    return X_train, X_test, Y_train, Y_test


def estimators(n_train, alpha=ALPHA):
    """name -> estimator, all minimizing the same objective."""
    return {
        "LinearNNClassifier": LinearNNClassifier(alpha=alpha, random_state=0),
        "MLP(hidden=(), adam)": MLPClassifier(
            hidden_layer_sizes=(), alpha=alpha * min(200, n_train), random_state=0
        ),
        "MLP(hidden=(), lbfgs)": MLPClassifier(
            hidden_layer_sizes=(),
            alpha=alpha * n_train,
            solver="lbfgs",
            max_iter=1000,
            random_state=0,
        ),
        "MultiOutput(LogisticRegression)": MultiOutputClassifier(
            LogisticRegression(C=1.0 / (alpha * n_train))
        ),
    }


def measure(variant, repeats=3):
    """Rows of (estimator, F1 samples, Hamming loss, fit seconds, warned)."""
    X_train, X_test, Y_train, Y_test = make_data(VARIANTS[variant])
    models = estimators(X_train.shape[0])
    times = {name: [] for name in models}
    results = {}
    for _ in range(repeats):
        for name, model in models.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                start = time.process_time()
                model.fit(X_train, Y_train)
                times[name].append(time.process_time() - start)
            warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            pred = model.predict(X_test)
            results[name] = (
                f1_score(Y_test, pred, average="samples", zero_division=0.0),
                hamming_loss(Y_test, pred),
                warned,
            )
    return [
        (name, *results[name][:2], float(np.median(times[name])), results[name][2])
        for name in models
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args()
    lines = [
        "# Multilabel y: LinearNNClassifier against scikit-learn",
        "",
        "`python benchmarks/multilabel.py` (see its docstring for the settings); "
        f"alpha = {ALPHA} in LinearNNClassifier's units, matched for the others; "
        f"fit times are medians of {args.repeats} fits.",
        "",
    ]
    for variant in VARIANTS:
        lines += [
            f"## {variant}",
            "",
            "| estimator | F1 (samples) | Hamming loss | fit CPU time (s) | "
            "ConvergenceWarning |",
            "|---|---|---|---|---|",
        ]
        for name, f1, hamming, seconds, warned in measure(variant, args.repeats):
            lines.append(
                f"| {name} | {f1:.4f} | {hamming:.4f} | {seconds:.3f} | "
                f"{'yes' if warned else 'no'} |"
            )
        lines.append("")
        print("\n".join(lines[-len(estimators(1)) - 5 :]), flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines))


if __name__ == "__main__":
    main()
