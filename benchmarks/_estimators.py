"""Estimator configurations and the objective they are compared on.

Every model is judged on this library's objective,
``mean loss + ALPHA * 0.5 * ||W||^2`` (intercept unpenalized), on the training
set. The matched references are ``LogisticRegression(C=1 / (n * ALPHA))`` and
``Ridge(alpha=n * ALPHA)``; ``SGDClassifier``/``SGDRegressor`` use the same
``alpha`` convention, and ``MLPClassifier``/``MLPRegressor`` divide their
penalty by the batch size, so they get ``alpha=ALPHA * batch_size``.
"""

import numpy as np
from scipy.special import logsumexp
from sklearn.linear_model import (
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.extmath import safe_sparse_dot

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor

ALPHA = 1e-4
BATCH = 256
DEFAULT_BATCH = 200  # LinearNN*(batch_size="auto") is min(200, n_samples)
SEED = 0
# Constant steps of the peers in the per-epoch timings (the time does not depend
# on them; they are small enough not to diverge on this data).
PEER_SGD_ETA0 = {"classification": 1e-2, "regression": 1e-3}


def _is_classification(task):
    return task == "classification"


def ours(task, **params):
    """``LinearNNClassifier`` or ``LinearNNRegressor`` with the benchmark alpha."""
    cls = LinearNNClassifier if _is_classification(task) else LinearNNRegressor
    return cls(alpha=ALPHA, random_state=SEED, **params)


def sgd_peer(task, **params):
    """``SGDClassifier(loss="log_loss")`` or ``SGDRegressor``, same objective."""
    if _is_classification(task):
        return SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=SEED, **params)
    return SGDRegressor(alpha=ALPHA, random_state=SEED, **params)


def mlp_peer(task, *, batch_size=BATCH, **params):
    """``MLP*(hidden_layer_sizes=())``: a linear model, alpha matched per batch."""
    cls = MLPClassifier if _is_classification(task) else MLPRegressor
    return cls(
        hidden_layer_sizes=(),
        batch_size=batch_size,
        alpha=ALPHA * batch_size,
        random_state=SEED,
        **params,
    )


def reference(task, n_train, **params):
    """The matched exact solver: ``LogisticRegression`` (lbfgs) or ``Ridge``."""
    if _is_classification(task):
        params.setdefault("max_iter", 1000)
        return LogisticRegression(C=1.0 / (n_train * ALPHA), **params)
    return Ridge(alpha=n_train * ALPHA, **params)


def reference_name(task):
    """Display name of the reference solver."""
    if _is_classification(task):
        return "LogisticRegression(lbfgs)"
    return "Ridge"


def sgd_peer_name(task):
    """Display name of the SGD peer."""
    return "SGDClassifier" if _is_classification(task) else "SGDRegressor"


def coefficients(estimator):
    """``(W, b)`` of a fitted linear model, ``W`` of shape (n_outputs, n_features)."""
    if hasattr(estimator, "coefs_"):  # an MLP without hidden layers
        return estimator.coefs_[0].T, estimator.intercepts_[0]
    W = np.atleast_2d(estimator.coef_)
    return W, np.atleast_1d(estimator.intercept_)


def objective(estimator, X, y, classes=None, alpha=ALPHA):
    """This library's training objective at a fitted model's coefficients.

    Binary models (one output) use the logistic loss of ``classes[1]``, models
    with one output per class the multinomial log loss (also for
    ``SGDClassifier``'s one-vs-rest coefficients), regressors half the squared
    error.
    """
    W, b = coefficients(estimator)
    raw = safe_sparse_dot(X, W.T, dense_output=True) + b
    if classes is None:
        loss = 0.5 * (y - raw[:, 0]) ** 2
    elif raw.shape[1] == 1:
        positive = (y == classes[1]).astype(float)
        loss = np.logaddexp(0.0, raw[:, 0]) - positive * raw[:, 0]
    else:
        idx = np.searchsorted(classes, y)
        loss = logsumexp(raw, axis=1) - raw[np.arange(len(y)), idx]
    return float(loss.mean() + 0.5 * alpha * np.vdot(W, W))
