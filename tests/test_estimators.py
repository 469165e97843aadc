"""Behaviour of LinearNNClassifier and LinearNNRegressor."""

import pickle
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import (
    LOSSES,
    SGD,
    Adam,
    Hinge,
    Huber,
    LinearNNClassifier,
    LinearNNRegressor,
    Quantile,
)


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=6, n_classes=3, random_state=1
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=6, noise=5.0, random_state=2)
    return X, y + 100.0


# ---------------------------------------------------------------- objective
@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_lbfgs_log_loss_matches_logistic_regression(data, request):
    X, y = request.getfixturevalue(data)
    alpha = 1e-2
    ours = LinearNNClassifier(optimizer="lbfgs", alpha=alpha, tol=1e-10, max_iter=1000)
    ours.fit(X, y)
    ref = LogisticRegression(C=1 / (len(y) * alpha), tol=1e-10, max_iter=1000)
    ref.fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    if data == "binary":
        assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)
    else:
        # Softmax intercepts are defined up to a constant.
        assert_allclose(
            ours.intercept_ - ours.intercept_.mean(),
            ref.intercept_ - ref.intercept_.mean(),
            atol=1e-4,
        )


def test_lbfgs_squared_error_matches_ridge(regression):
    X, y = regression
    alpha = 0.1
    ours = LinearNNRegressor(optimizer="lbfgs", alpha=alpha, tol=1e-10, max_iter=1000)
    ours.fit(X, y)
    ref = Ridge(alpha=len(y) * alpha).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-4)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)


def test_multioutput_squared_error_matches_ridge(regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y + 3])
    alpha = 0.1
    ours = LinearNNRegressor(optimizer="lbfgs", alpha=alpha, tol=1e-10, max_iter=1000)
    ours.fit(X, Y)
    ref = Ridge(alpha=len(y) * alpha).fit(X, Y)
    assert ours.coef_.shape == ref.coef_.shape == (2, X.shape[1])
    assert ours.predict(X).shape == Y.shape
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-4)


def test_adam_gets_close_to_logistic_regression(binary):
    X, y = binary
    alpha = 1e-2
    ours = LinearNNClassifier(alpha=alpha, max_iter=1000, tol=None, random_state=0)
    ours.fit(X, y)
    ref = LogisticRegression(C=1 / (len(y) * alpha), tol=1e-10).fit(X, y)
    # Constant-step Adam ends in a noise ball around the optimum.
    assert_allclose(ours.coef_, ref.coef_, atol=5e-2)


def test_adam_gets_close_to_ridge(regression):
    X, y = regression
    ours = LinearNNRegressor(
        alpha=0.1, batch_size=50, max_iter=500, tol=None, random_state=0
    ).fit(X, y)
    ref = Ridge(alpha=len(y) * 0.1).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=2e-2, atol=0.5)


def test_loss_curve_is_the_documented_objective_for_full_batch(regression):
    # One batch, no shuffle: the epoch objective is J at the start of the epoch.
    X, y = regression
    est = LinearNNRegressor(
        optimizer="sgd", batch_size=len(y), shuffle=False, max_iter=3, tol=None
    )
    est.fit(X, y)
    again = LinearNNRegressor(
        optimizer="sgd", batch_size=len(y), shuffle=False, max_iter=2, tol=None
    ).fit(X, y)
    r = y - again.predict(X)
    expected = 0.5 * np.mean(r**2) + 0.5 * est.alpha * np.sum(again.coef_**2)
    # loss_curve_[2] is computed from the parameters after two steps, the
    # penalty from the parameters after the third.
    assert est.loss_curve_[2] == pytest.approx(
        expected - 0.5 * est.alpha * (np.sum(again.coef_**2) - np.sum(est.coef_**2)),
        rel=1e-10,
    )


# ------------------------------------------------------------ newcomer defaults
def _cv(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cross_val_score(make_pipeline(StandardScaler(), estimator), X, y, cv=5)


@pytest.mark.parametrize("load", [load_breast_cancer, load_digits])
def test_default_classifier_close_to_logistic_regression(load):
    # The same objective: C = 1 / (n_train alpha) with the default alpha=1e-4
    # (weaker than LogisticRegression's default C=1; the defaults now reach
    # the optimum, so no early stop regularizes them either).
    X, y = load(return_X_y=True)
    ours = _cv(LinearNNClassifier(random_state=0), X, y).mean()
    n_train = len(y) * 4 / 5
    ref = _cv(LogisticRegression(C=1 / (n_train * 1e-4), max_iter=10_000), X, y)
    assert ours >= ref.mean() - 0.01


def test_default_regressor_close_to_ridge_on_unscaled_target():
    X, y = load_diabetes(return_X_y=True)
    ours = _cv(LinearNNRegressor(random_state=0), X, y).mean()
    ref = _cv(Ridge(), X, y).mean()
    assert ours >= ref - 0.02


# ----------------------------------------------------------- sklearn plumbing
def test_grid_search_over_losses_and_optimizers(binary):
    X, y = binary
    pipe = make_pipeline(StandardScaler(), LinearNNClassifier(max_iter=30, tol=None))
    grid = GridSearchCV(
        pipe,
        {
            "linearnnclassifier__loss": ["log_loss", "hinge", Hinge()],
            "linearnnclassifier__optimizer": ["sgd", "lbfgs", Adam(beta_1=0.8)],
        },
        cv=3,
    )
    # The hinge with L-BFGS is refused (a non-smooth loss): those candidates
    # score nan with FitFailedWarning, as scikit-learn reports failed fits,
    # and GridSearchCV says that some mean scores are not finite.
    with (
        pytest.warns(FitFailedWarning),
        pytest.warns(UserWarning, match="test scores are non-finite"),
    ):
        grid.fit(X, y)
    params, scores = grid.cv_results_["params"], grid.cv_results_["mean_test_score"]
    assert len(params) == 9
    refused = np.array(
        [
            p["linearnnclassifier__optimizer"] == "lbfgs"
            and p["linearnnclassifier__loss"] != "log_loss"
            for p in params
        ]
    )
    assert refused.sum() == 2
    assert np.all(np.isnan(scores[refused]))
    assert np.all(np.isfinite(scores[~refused]))
    assert grid.best_score_ > 0.8


def test_grid_search_over_nested_optimizer_parameter(binary):
    X, y = binary
    est = LinearNNClassifier(optimizer=Adam(), max_iter=20, tol=None, random_state=0)
    grid = GridSearchCV(est, {"optimizer__beta_1": [0.5, 0.9]}, cv=3).fit(X, y)
    assert [p["optimizer__beta_1"] for p in grid.cv_results_["params"]] == [0.5, 0.9]
    assert (
        grid.best_estimator_.optimizer_.beta_1 == grid.best_params_["optimizer__beta_1"]
    )
    assert "optimizer__beta_1" in est.get_params()


def test_fit_leaves_passed_objects_untouched(binary):
    X, y = binary
    opt, loss = Adam(beta_1=0.8), Hinge()
    est = LinearNNClassifier(loss=loss, optimizer=opt, max_iter=5, tol=None).fit(X, y)
    assert est.optimizer is opt and est.loss is loss
    assert not hasattr(opt, "t_") and not hasattr(opt, "exp_avg_")
    assert est.optimizer_ is not opt and est.optimizer_.t_ > 0
    assert est.loss_function_ is not loss


def test_clone_and_pickle(binary):
    X, y = binary
    est = LinearNNClassifier(
        optimizer=Adam(beta_1=0.7), random_state=0, max_iter=5, tol=None
    )
    cloned = clone(est)
    assert cloned.optimizer is not est.optimizer
    assert cloned.optimizer.beta_1 == 0.7
    est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    refit = pickle.loads(pickle.dumps(clone(est))).fit(X, y)
    assert_array_equal(refit.coef_, est.coef_)


def test_same_random_state_same_coefficients(multiclass):
    X, y = multiclass
    # A stochastic optimizer: random_state decides the shuffling.
    params = dict(optimizer="adam", max_iter=5, tol=None)
    a = LinearNNClassifier(random_state=3, **params).fit(X, y)
    b = LinearNNClassifier(random_state=3, **params).fit(X, y)
    c = LinearNNClassifier(random_state=4, **params).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)


# ------------------------------------------------------------ training loop
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "amsgrad"])
def test_partial_fit_equals_fit_without_shuffle(binary, optimizer):
    X, y = binary
    params = dict(optimizer=optimizer, shuffle=False, batch_size=64, random_state=0)
    fitted = LinearNNClassifier(max_iter=4, tol=None, **params).fit(X, y)
    partial = LinearNNClassifier(**params)
    for _ in range(4):
        partial.partial_fit(X, y, classes=np.unique(y))
    assert_allclose(partial.coef_, fitted.coef_, rtol=1e-12)
    assert_allclose(partial.intercept_, fitted.intercept_, rtol=1e-12)
    assert partial.t_ == fitted.t_ == 4 * 5
    assert partial.n_iter_ == fitted.n_iter_ == 4
    assert partial.loss_curve_ == pytest.approx(fitted.loss_curve_)


def test_partial_fit_regressor_equals_fit(regression):
    X, y = regression
    params = dict(optimizer="adam", shuffle=False, batch_size=50, random_state=0)
    # partial_fit trains in the user's coordinates (precondition applies to
    # fit, whose data are all there): it equals fit with precondition=False.
    fitted = LinearNNRegressor(max_iter=3, tol=None, precondition=False, **params)
    fitted.fit(X, y)
    partial = LinearNNRegressor(**params)
    for _ in range(3):
        partial.partial_fit(X, y)
    assert_allclose(partial.coef_, fitted.coef_, rtol=1e-12)


def test_partial_fit_unavailable_for_lbfgs():
    assert not hasattr(LinearNNClassifier(optimizer="lbfgs"), "partial_fit")
    assert not hasattr(LinearNNRegressor(optimizer="lbfgs"), "partial_fit")
    assert hasattr(LinearNNRegressor(optimizer="sgd"), "partial_fit")


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam", "lbfgs"])
def test_full_batch_does_not_depend_on_batch_size(binary, optimizer):
    X, y = binary
    params = dict(optimizer=optimizer, max_iter=20, tol=None, random_state=0)
    a = LinearNNClassifier(batch_size=len(y), **params).fit(X, y)
    b = LinearNNClassifier(batch_size=10 * len(y), **params).fit(X, y)
    assert_allclose(a.coef_, b.coef_, rtol=1e-10)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "lbfgs"])
def test_sample_weight_two_equals_duplicated_rows(regression, optimizer):
    X, y = regression
    w = np.ones(len(y))
    w[:50] = 2
    X_dup = np.vstack([X, X[:50]])
    y_dup = np.concatenate([y, y[:50]])
    params = dict(optimizer=optimizer, max_iter=30, tol=None, shuffle=False)
    weighted = LinearNNRegressor(batch_size=1000, **params).fit(X, y, sample_weight=w)
    duplicated = LinearNNRegressor(batch_size=1000, **params).fit(X_dup, y_dup)
    # The intercept starts at the weighted mean, whose last bit depends on the
    # summation order; Adam turns that rounding residue into a first step of
    # about lr * 1e-6, hence not 1e-8.
    assert_allclose(weighted.coef_, duplicated.coef_, rtol=1e-6)
    assert_allclose(weighted.intercept_, duplicated.intercept_, rtol=1e-6)


def test_tol_none_runs_exactly_max_iter(binary):
    X, y = binary
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Epochs of a stochastic optimizer (Newton stops once at the optimum).
        est = LinearNNClassifier(optimizer="adam", max_iter=7, tol=None).fit(X, y)
    assert est.n_iter_ == 7
    assert len(est.loss_curve_) == 7


def test_convergence_warning_when_max_iter_reached(binary):
    X, y = binary
    with pytest.warns(ConvergenceWarning, match="did not reach the optimum"):
        LinearNNClassifier(max_iter=2).fit(X, y)


def test_stopping_rule_stops_before_max_iter(binary):
    X, y = binary
    # The n_iter_no_change rule of the schedules other than "auto". Whether the
    # constant step's noise ball passes the first-order check depends on the
    # shuffling; a fit that stops away from the optimum says so.
    est = LinearNNClassifier(
        optimizer="sgd", learning_rate="constant", max_iter=1000, tol=1e-3
    )
    for seed in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.set_params(random_state=seed).fit(X, y)
        assert est.n_iter_ < 1000
        assert all("when the objective stalled" in str(w.message) for w in caught)
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.loss_ == est.loss_curve_[-1]


def test_warm_start_continues_optimizer_state(binary):
    X, y = binary
    est = LinearNNClassifier(max_iter=3, tol=None, warm_start=True, random_state=0)
    est.fit(X, y)
    t_after_first = est.optimizer_.t_
    coef = est.coef_.copy()
    est.fit(X, y)
    assert est.optimizer_.t_ == 2 * t_after_first
    # A warm fit is a new fit: n_iter_ and loss_curve_ are its own.
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    assert not np.array_equal(est.coef_, coef)
    cold = LinearNNClassifier(max_iter=3, tol=None, random_state=0).fit(X, y)
    cold.fit(X, y)
    assert cold.optimizer_.t_ == t_after_first


def test_coef_init_and_intercept_init(regression):
    X, y = regression
    coef_init = np.arange(X.shape[1], dtype=float)
    # A negligible step of a stochastic optimizer leaves the start in place.
    est = LinearNNRegressor(
        optimizer="adam", max_iter=1, tol=None, learning_rate_init=1e-12
    )
    est.fit(X, y, coef_init=coef_init, intercept_init=[7.0])
    assert_allclose(est.coef_, coef_init, atol=1e-9)
    assert est.intercept_ == pytest.approx(7.0, abs=1e-9)
    with pytest.raises(ValueError, match="coef_init has shape"):
        est.fit(X, y, coef_init=np.zeros(3))


@pytest.mark.parametrize(
    "loss, expected",
    [
        ("squared_error", np.mean),
        ("absolute_error", np.median),
        (Huber(), np.median),
        (Quantile(quantile=0.9), lambda y: np.quantile(y, 0.9, method="inverted_cdf")),
        ("poisson", lambda y: np.log(np.mean(y))),
    ],
)
def test_intercept_starts_at_best_constant(loss, expected):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(101, 3))
    y = rng.poisson(5.0, size=101).astype(float)
    # A negligible step of a stochastic optimizer leaves the start in place.
    est = LinearNNRegressor(
        loss=loss, optimizer="adam", max_iter=1, tol=None, learning_rate_init=1e-12
    )
    est.fit(X, y)
    assert est.intercept_ == pytest.approx(expected(y), rel=1e-8)


def test_binary_log_loss_intercept_starts_at_log_odds(binary):
    X, y = binary
    y = np.r_[y, np.ones(100, dtype=int)]
    X = np.vstack([X, X[:100]])
    est = LinearNNClassifier(
        optimizer="adam", max_iter=1, tol=None, learning_rate_init=1e-12
    ).fit(X, y)
    p = y.mean()
    assert est.intercept_[0] == pytest.approx(np.log(p / (1 - p)), rel=1e-6)


def test_verbose_prints_one_line_per_epoch(binary, capsys):
    X, y = binary
    LinearNNClassifier(optimizer="adam", max_iter=4, tol=None, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert re.match(r"Epoch 1, loss = [0-9.]+, lr = .*, time = .*s", lines[0])


# ------------------------------------------------------------ classification
def test_string_labels_and_multiclass_shapes(multiclass):
    X, y = multiclass
    labels = np.array(["ant", "bee", "cat"])[y]
    est = LinearNNClassifier(random_state=0).fit(X, labels)
    assert_array_equal(est.classes_, ["ant", "bee", "cat"])
    assert est.coef_.shape == (3, X.shape[1])
    assert est.decision_function(X).shape == (len(y), 3)
    proba = est.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1)
    assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])
    assert est.score(X, labels) > 0.7


def test_binary_has_one_output(binary):
    X, y = binary
    labels = np.where(y == 1, "yes", "no")
    # Shapes only: a short fit without the convergence check.
    est = LinearNNClassifier(loss="hinge", random_state=0, max_iter=20, tol=None)
    est.fit(X, labels)
    assert est.coef_.shape == (1, X.shape[1])
    assert est.intercept_.shape == (1,)
    scores = est.decision_function(X)
    assert scores.shape == (len(y),)
    assert_array_equal(est.predict(X), np.where(scores > 0, "yes", "no"))


@pytest.mark.parametrize("loss", ["log_loss", "modified_huber"])
def test_predict_proba_available(loss, binary):
    X, y = binary
    est = LinearNNClassifier(loss=loss, random_state=0).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (len(y), 2)
    assert_allclose(proba.sum(axis=1), 1)
    assert_allclose(np.exp(est.predict_log_proba(X)), proba)


@pytest.mark.parametrize("loss", ["hinge", "perceptron", "squared_hinge"])
def test_predict_proba_hidden_for_other_losses(loss):
    est = LinearNNClassifier(loss=loss)
    assert not hasattr(est, "predict_proba")
    assert not hasattr(est, "predict_log_proba")


@pytest.mark.parametrize("class_weight", [{0: 1, 1: 5}, "balanced"])
def test_class_weight_equals_sample_weight(binary, class_weight):
    X, y = binary
    X, y = X[:200], y[:200]
    counts = np.bincount(y)
    if class_weight == "balanced":
        per_class = len(y) / (2 * counts)
    else:
        per_class = np.array([1.0, 5.0])
    params = dict(optimizer="lbfgs", tol=1e-10, max_iter=500)
    a = LinearNNClassifier(class_weight=class_weight, **params).fit(X, y)
    b = LinearNNClassifier(**params).fit(X, y, sample_weight=per_class[y])
    assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)


def test_class_weight_balanced_rejected_by_partial_fit(binary):
    X, y = binary
    est = LinearNNClassifier(class_weight="balanced")
    with pytest.raises(ValueError, match="balanced"):
        est.partial_fit(X, y, classes=[0, 1])


def test_partial_fit_needs_classes_first_and_rejects_new_labels(binary):
    X, y = binary
    est = LinearNNClassifier()
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    est.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes"):
        est.partial_fit(X, np.where(y == 1, 2, 0))


def test_regression_loss_in_classifier_is_rejected(binary, regression):
    X, y = binary
    with pytest.raises(ValueError, match="regression loss.*valid losses are"):
        LinearNNClassifier(loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="classification loss"):
        LinearNNRegressor(loss="hinge").fit(*regression)
    with pytest.raises(ValueError, match="classification loss"):
        LinearNNRegressor(loss=Hinge()).fit(*regression)


def test_squared_error_is_valid_for_both_tasks(binary, regression):
    assert LinearNNClassifier(loss="squared_error").fit(*binary).score(*binary) > 0.7
    assert (
        LinearNNRegressor(loss="squared_error").fit(*regression).score(*regression)
        > 0.9
    )


def test_poisson_rejects_negative_target(regression):
    X, y = regression
    with pytest.raises(ValueError, match="non-negative y"):
        LinearNNRegressor(loss="poisson").fit(X, y - 1000)


def test_poisson_fits_counts():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] + 1.0))
    est = LinearNNRegressor(loss="poisson", optimizer="lbfgs", alpha=0).fit(X, y)
    assert_allclose(est.coef_, [0.5, -0.3, 0.0], atol=0.08)
    assert np.all(est.predict(X) > 0)


def test_quantile_loss_estimates_the_quantile():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 1))
    y = X[:, 0] + rng.normal(size=2000)
    est = LinearNNRegressor(loss=Quantile(quantile=0.9), random_state=0, alpha=0)
    est.set_params(learning_rate="invscaling", max_iter=100, tol=None)
    est.fit(X, y)
    assert np.mean(y < est.predict(X)) == pytest.approx(0.9, abs=0.03)


def test_unknown_names_list_valid_ones(binary):
    X, y = binary
    with pytest.raises(ValueError, match="valid names are .*'adam'"):
        LinearNNClassifier(optimizer="adamm").fit(X, y)
    with pytest.raises(ValueError, match="valid names are .*'hinge'"):
        LinearNNClassifier(loss="hinj").fit(X, y)
    with pytest.raises(TypeError, match="must be a string"):
        LinearNNClassifier(optimizer=SGD).fit(X, y)


def test_penalty_none_fits_separable_data_harder(binary):
    X, y = binary
    l2 = LinearNNClassifier(optimizer="lbfgs", alpha=0.1).fit(X, y)
    free = LinearNNClassifier(optimizer="lbfgs", alpha=0.1, penalty=None).fit(X, y)
    assert np.linalg.norm(free.coef_) > np.linalg.norm(l2.coef_)


@pytest.mark.parametrize(
    "param, value",
    [
        ("learning_rate_init", 0),
        ("learning_rate_init", "fast"),
        ("alpha", -1),
        ("batch_size", 0),
        ("max_iter", 0),
        ("tol", -1),
        ("n_iter_no_change", 0),
        ("validation_fraction", 1.0),
        ("learning_rate", "sometimes"),
        ("penalty", "l3"),
    ],
)
def test_invalid_hyperparameters(binary, param, value):
    with pytest.raises(ValueError, match=param):
        LinearNNClassifier(**{param: value}).fit(*binary)


@pytest.mark.parametrize("optimizer", [SGD(momentum=1.5), Adam(beta_1=1.0)])
def test_invalid_optimizer_parameters_at_fit(binary, optimizer):
    with pytest.raises(ValueError, match="momentum|beta_1"):
        LinearNNClassifier(optimizer=optimizer).fit(*binary)


# Whether each loss fits its task (the scores), at the defaults; whether the
# fits reach the optimum is tests/test_convergence.py's question.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_all_losses_fit_their_task(binary, regression):
    for name, cls, _ in LOSSES.items():
        if "classification" in cls.tasks:
            # The perceptron criterion is minimized by the zero model: what it
            # learns is the path of Rosenblatt's rule, plain SGD.
            extra = {"optimizer": "sgd"} if name == "perceptron" else {}
            est = LinearNNClassifier(loss=name, random_state=0, **extra)
            est.fit(*binary)
            assert est.score(*binary) > 0.7, name
        if "regression" in cls.tasks:
            X, y = regression
            if name == "poisson":
                y = np.exp((y - y.mean()) / y.std())
            est = LinearNNRegressor(loss=name, random_state=0).fit(X, y)
            assert np.all(np.isfinite(est.predict(X))), name
            assert est.score(X, y) > 0.5, name


@pytest.mark.parametrize("Estimator", [LinearNNClassifier, LinearNNRegressor])
def test_early_stopping_restores_best_epoch(Estimator, binary):
    X, y = binary
    est = Estimator(early_stopping=True, max_iter=300, random_state=0, tol=1e-3)
    est.fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    # The patience: n_iter_no_change epochs of at least 10 optimizer steps.
    n_train = len(y) - int(np.ceil(0.1 * len(y)))
    steps = -(-n_train // min(200, n_train))
    patience = est.n_iter_no_change * max(steps, 10)
    assert est.n_iter_ * steps >= patience  # not before the least training
    with pytest.raises(ValueError, match="early_stopping"):
        Estimator(early_stopping=True).partial_fit(
            X, y, **({"classes": [0, 1]} if Estimator is LinearNNClassifier else {})
        )


def test_warm_start_with_other_features_is_a_clear_error(binary):
    X, y = binary
    est = LinearNNClassifier(warm_start=True, max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        est.fit(X[:, :3], y)


def test_divergence_raises_and_keeps_previous_coefficients(regression):
    from sklearn_nnopt import DivergenceError

    X, y = regression
    est = LinearNNRegressor(optimizer="sgd", max_iter=5, tol=None).fit(X, y)
    coef = est.coef_.copy()
    est.set_params(learning_rate_init=1e3, max_iter=100)
    with pytest.raises(DivergenceError, match="smaller learning_rate_init"):
        est.fit(X, y)
    assert_array_equal(est.coef_, coef)


def test_divergence_under_the_optimal_schedule_names_its_step(regression):
    # The "optimal" schedule's step is 1 / (alpha (t0 + t - 1)): the message
    # used to report learning_rate_init and advise lowering it, which that
    # schedule ignores.
    from sklearn_nnopt import DivergenceError

    X, y = regression
    est = LinearNNRegressor(optimizer="sgd", learning_rate="optimal", tol=None)
    with pytest.raises(DivergenceError) as caught:
        est.set_params(max_iter=20).fit(100 * X, y)
    message = str(caught.value)
    assert "'optimal' schedule" in message and "larger alpha" in message
    assert "smaller learning_rate_init" not in message


def test_perceptron_with_lbfgs_is_refused(binary):
    with pytest.raises(ValueError, match="stochastic optimizer"):
        LinearNNClassifier(loss="perceptron", optimizer="lbfgs").fit(*binary)


# ------------------------------------------------------ sparsify / densify
@pytest.mark.parametrize(
    "Estimator, y_kind",
    [
        (LinearNNClassifier, "binary"),
        (LinearNNClassifier, "multiclass"),
        (LinearNNRegressor, "single"),
        (LinearNNRegressor, "multioutput"),
    ],
)
@pytest.mark.parametrize("sparse_X", [False, True])
def test_sparsify_densify_round_trip(Estimator, y_kind, sparse_X):
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 15))
    if y_kind == "binary":
        y = (X[:, 0] > 0).astype(int)
    elif y_kind == "multiclass":
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    elif y_kind == "single":
        y = X[:, 0] - 2 * X[:, 1]
    else:
        y = np.column_stack([X[:, 0], X[:, 1]])
    Xin = sp.csr_matrix(X) if sparse_X else X
    est = Estimator(optimizer="lbfgs", alpha=0.1).fit(Xin, y)
    dense_coef = est.coef_.copy()
    before = est.predict(Xin)
    raw_before = est._raw(Xin)
    assert est.sparsify() is est
    assert sp.issparse(est.coef_) and est.coef_.shape == np.atleast_2d(dense_coef).shape
    # Labels equal; values to rounding (a sparse product sums in another order).
    same = assert_array_equal if Estimator is LinearNNClassifier else assert_allclose
    same(est.predict(Xin), before)
    assert_allclose(est._raw(Xin), raw_before, rtol=1e-12, atol=1e-12)
    restored = pickle.loads(pickle.dumps(est))
    same(restored.predict(Xin), before)
    assert est.densify() is est
    assert isinstance(est.coef_, np.ndarray)
    assert_array_equal(est.coef_, dense_coef)
    est.densify()  # a no-op on a dense coef_
    assert_array_equal(est.coef_, dense_coef)


def test_a_sparse_coef_continues_densely():
    X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    params = dict(optimizer="sgd", max_iter=3, tol=None, random_state=0)
    est = LinearNNClassifier(warm_start=True, **params).fit(X, y).sparsify()
    est.fit(X, y)
    assert isinstance(est.coef_, np.ndarray)
    ref = LinearNNClassifier(warm_start=True, **params).fit(X, y)
    ref.fit(X, y)
    assert_allclose(est.coef_, ref.coef_)
    est.sparsify()
    est.partial_fit(X, y)
    assert isinstance(est.coef_, np.ndarray)


def test_sparsify_needs_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    for method in ("sparsify", "densify"):
        with pytest.raises(NotFittedError):
            getattr(LinearNNClassifier(), method)()
