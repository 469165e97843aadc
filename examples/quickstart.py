"""
Quick start: pick a loss and an optimizer
=========================================

Fit ``LinearNNClassifier`` and ``LinearNNRegressor`` on datasets bundled with
scikit-learn, compare a few loss x optimizer choices by 5-fold
cross-validation, and print the scores next to the classic solvers.
"""

import time
import warnings

from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor


def report(title, X, y, candidates):
    print(title)
    for label, estimator in candidates:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores = cross_val_score(make_pipeline(StandardScaler(), estimator), X, y)
        seconds = time.perf_counter() - start
        print(
            f"  {label:<42} {scores.mean():.4f} +- {scores.std():.4f}  {seconds:5.2f}s"
        )


X, y = load_breast_cancer(return_X_y=True)
report(
    "breast_cancer, accuracy (5-fold CV)",
    X,
    y,
    [
        ("LinearNNClassifier() [log_loss, auto]", LinearNNClassifier(random_state=0)),
        (
            "LinearNNClassifier(hinge, momentum)",
            LinearNNClassifier(loss="hinge", optimizer="momentum", random_state=0),
        ),
        ("LinearNNClassifier(log_loss, lbfgs)", LinearNNClassifier(optimizer="lbfgs")),
        # LogisticRegression(C=1) minimizes sum(loss) + ||w||^2 / 2, which is
        # this library's objective at alpha = 1 / n_train: its default
        # alpha=1e-4 regularizes 20x less on these 455 training rows.
        (
            "LinearNNClassifier(alpha=1 / n_train)",
            LinearNNClassifier(alpha=1 / (0.8 * len(y))),
        ),
        ("LogisticRegression()", LogisticRegression()),
    ],
)
print(
    "  (LogisticRegression's C=1 is alpha = 1 / n_train here; `python -m "
    "sklearn_nnopt compare` picks alpha per candidate.)"
)

X, y = load_diabetes(return_X_y=True)
report(
    "diabetes (unscaled target), R^2 (5-fold CV)",
    X,
    y,
    [
        (
            "LinearNNRegressor() [squared_error, auto]",
            LinearNNRegressor(random_state=0),
        ),
        (
            "LinearNNRegressor(squared_error, nesterov)",
            LinearNNRegressor(optimizer="nesterov", random_state=0),
        ),
        (
            "LinearNNRegressor(squared_error, lbfgs)",
            LinearNNRegressor(optimizer="lbfgs"),
        ),
        ("Ridge()", Ridge()),
    ],
)
