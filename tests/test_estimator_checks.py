"""scikit-learn's estimator checks over every loss and every optimizer."""

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_nnopt import LOSSES, OPTIMIZERS, LinearNNClassifier, LinearNNRegressor


def _estimators():
    estimators = []
    for name, cls, _ in LOSSES.items():
        if "classification" in cls.tasks:
            estimators.append(LinearNNClassifier(loss=name))
        if "regression" in cls.tasks:
            estimators.append(LinearNNRegressor(loss=name))
    for name in OPTIMIZERS.names():
        estimators.append(LinearNNClassifier(optimizer=name))
        estimators.append(LinearNNRegressor(optimizer=name))
    return estimators


ESTIMATORS = _estimators()


def _check_name(check):
    return getattr(check, "func", check).__name__


def _poisson_multioutput(estimator):
    """check_regressor_multioutput on non-negative targets.

    scikit-learn's check draws targets from ``make_regression`` without applying
    the ``positive_only`` target tag (which every other check honours), so a
    Poisson regressor, which must reject ``y < 0``, cannot pass it as written.
    This runs the same assertions on the same data with ``|y|``.
    """
    X, y = make_regression(random_state=42, n_targets=5, n_samples=11, n_features=10)
    y = np.abs(y)
    y_pred = estimator.fit(X, y).predict(X)
    assert y_pred.dtype == np.dtype("float64")
    assert y_pred.shape == y.shape
    with pytest.raises(ValueError, match="non-negative"):
        estimator.fit(X, -y)


def test_every_registered_name_is_checked():
    losses = {e.loss for e in ESTIMATORS}
    optimizers = {e.optimizer for e in ESTIMATORS}
    assert losses == set(LOSSES.names())
    assert optimizers >= set(OPTIMIZERS.names())


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    if (
        _check_name(check) == "check_regressor_multioutput"
        and estimator.loss == "poisson"
    ):
        _poisson_multioutput(estimator)
        return
    check(estimator)
