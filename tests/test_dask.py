"""Scale-out with Dask: ``dask_ml.wrappers.Incremental`` and joblib's dask backend.

The whole module is skipped unless the ``[dask]`` extra is installed.
"""

import math
import warnings

import numpy as np
import pytest

_INSTALL = "install the [dask] extra: pip install '.[dask]'"
da = pytest.importorskip("dask.array", reason=_INSTALL)
distributed = pytest.importorskip("distributed", reason=_INSTALL)
wrappers = pytest.importorskip("dask_ml.wrappers", reason=_INSTALL)

import joblib  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor  # noqa: E402

N_TRAIN, N_TEST, N_FEATURES, CHUNK, BATCH = 20_000, 4_000, 20, 2_000, 200
N_CHUNKS = N_TRAIN // CHUNK
STEPS_PER_CHUNK = math.ceil(CHUNK / BATCH)  # partial_fit is one epoch over a chunk


@pytest.fixture(scope="module")
def client():
    # processes=False: an in-process worker, no spawned interpreters, fast startup.
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as c:
        yield c


def _split(X, y):
    """In-memory train/test arrays plus the training part as dask arrays."""
    X_train, X_test = X[:N_TRAIN], X[N_TRAIN:]
    y_train, y_test = y[:N_TRAIN], y[N_TRAIN:]
    Xd = da.from_array(X_train, chunks=(CHUNK, N_FEATURES))
    yd = da.from_array(y_train, chunks=CHUNK)
    return X_train, y_train, X_test, y_test, Xd, yd


def _check_one_partial_fit_per_chunk(estimator, passes):
    assert estimator.n_iter_ == passes * N_CHUNKS
    assert estimator.t_ == passes * N_CHUNKS * STEPS_PER_CHUNK


def test_incremental_classifier(client):
    X, y = make_classification(
        n_samples=N_TRAIN + N_TEST,
        n_features=N_FEATURES,
        n_informative=10,
        n_classes=3,
        class_sep=1.5,
        random_state=0,
    )
    X_train, y_train, X_test, y_test, Xd, yd = _split(X, y)
    params = dict(optimizer="adam", batch_size=BATCH, random_state=0)

    inc = wrappers.Incremental(
        LinearNNClassifier(**params), scoring="accuracy", random_state=0
    )
    inc.fit(Xd, yd, classes=np.unique(y))
    est = inc.estimator_
    assert isinstance(est, LinearNNClassifier)
    assert not hasattr(inc.estimator, "coef_")  # fit trained a clone
    _check_one_partial_fit_per_chunk(est, passes=1)
    assert_allclose(est.classes_, [0, 1, 2])
    assert est.coef_.shape == (3, N_FEATURES)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = LinearNNClassifier(**params).fit(X_train, y_train)
    reference = in_memory.score(X_test, y_test)
    assert reference > 0.75  # the comparison below is meaningful
    assert est.score(X_test, y_test) == pytest.approx(reference, abs=0.03)
    # Incremental's own (dask) scorer agrees with the wrapped estimator.
    Xd_test = da.from_array(X_test, chunks=(CHUNK, N_FEATURES))
    yd_test = da.from_array(y_test, chunks=CHUNK)
    assert inc.score(Xd_test, yd_test) == pytest.approx(est.score(X_test, y_test))

    # A second pass continues the same model (and the optimizer's state).
    inc.partial_fit(Xd, yd)
    est = inc.estimator_
    _check_one_partial_fit_per_chunk(est, passes=2)
    assert est.score(X_test, y_test) == pytest.approx(reference, abs=0.03)


def test_incremental_regressor(client):
    X, y = make_regression(
        n_samples=N_TRAIN + N_TEST,
        n_features=N_FEATURES,
        n_informative=10,
        noise=20.0,
        random_state=0,
    )
    X_train, y_train, X_test, y_test, Xd, yd = _split(X, y)
    params = dict(optimizer="adam", batch_size=BATCH, random_state=0)

    inc = wrappers.Incremental(
        LinearNNRegressor(**params), scoring="r2", random_state=0
    )
    inc.fit(Xd, yd)
    est = inc.estimator_
    assert isinstance(est, LinearNNRegressor)
    _check_one_partial_fit_per_chunk(est, passes=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = LinearNNRegressor(**params).fit(X_train, y_train)
    reference = in_memory.score(X_test, y_test)
    assert reference > 0.8
    assert est.score(X_test, y_test) == pytest.approx(reference, abs=0.02)

    inc.partial_fit(Xd, yd)
    est = inc.estimator_
    _check_one_partial_fit_per_chunk(est, passes=2)
    assert est.score(X_test, y_test) == pytest.approx(reference, abs=0.02)


def test_grid_search_on_joblib_dask_backend(client):
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=5, random_state=0
    )
    grid = {"loss": ["log_loss", "hinge"], "optimizer": ["sgd", "nesterov", "adam"]}
    estimator = LinearNNClassifier(max_iter=30, random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = GridSearchCV(estimator, grid, n_jobs=1).fit(X, y)
        with distributed.get_task_stream(client) as tasks:
            with joblib.parallel_backend("dask"):
                on_dask = GridSearchCV(estimator, grid, n_jobs=-1).fit(X, y)

    assert tasks.data, "the search did not run on the dask cluster"
    assert serial.cv_results_["params"] == on_dask.cv_results_["params"]
    assert_allclose(
        on_dask.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-12,
    )
    assert on_dask.best_params_ == serial.best_params_
