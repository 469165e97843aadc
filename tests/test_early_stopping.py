"""Early stopping on small data: patience in steps, no first-score best, ties."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_nnopt import LinearNNClassifier
from sklearn_nnopt._training import MIN_PATIENCE_STEPS, Progress, _Run


def _small(seed):
    X, y = make_classification(
        1060, 10, n_informative=4, class_sep=1.5, random_state=seed
    )
    return train_test_split(X, y, train_size=60, random_state=seed)


def test_small_data_early_stopping_scores_like_no_early_stopping():
    # 60 easy rows: 6 validation rows and one minibatch per epoch. Patience
    # counted in epochs (10 steps) stopped these fits at ~0.66 test accuracy.
    with_es, without = [], []
    for seed in range(5):
        X_train, X_test, y_train, y_test = _small(seed)
        params = dict(optimizer="adam", random_state=seed)
        es = LinearNNClassifier(early_stopping=True, **params)
        plain = LinearNNClassifier(tol=None, **params)
        with warnings.catch_warnings():
            # Both may end at max_iter: the training objective is not the
            # goal of early stopping.
            warnings.simplefilter("ignore", ConvergenceWarning)
            es.fit(X_train, y_train)
            plain.fit(X_train, y_train)
        with_es.append(es.score(X_test, y_test))
        without.append(plain.score(X_test, y_test))
    assert np.mean(with_es) >= np.mean(without) - 0.02


def test_auto_with_early_stopping_trains_stochastically():
    X_train, _, y_train, _ = _small(0)
    clf = LinearNNClassifier(early_stopping=True, max_iter=5, tol=None)
    clf.fit(X_train, y_train)
    assert type(clf.optimizer_).__name__ == "Adam"
    assert len(clf.validation_scores_) == clf.n_iter_


@pytest.mark.parametrize(
    "n_train, batch_size, n_iter_no_change, expected",
    [
        (54, 54, 10, 10 * MIN_PATIENCE_STEPS),  # one step per epoch
        (54, 54, 3, 3 * MIN_PATIENCE_STEPS),
        (10_000, 200, 10, 10 * 50),  # 50 steps per epoch: epochs as before
        (1_000, 200, 2, 2 * MIN_PATIENCE_STEPS),  # 5 steps per epoch
    ],
)
def test_patience_counts_steps(n_train, batch_size, n_iter_no_change, expected):
    run = SimpleNamespace(
        data=SimpleNamespace(n_train=n_train, batch_size=batch_size),
        config=SimpleNamespace(n_iter_no_change=n_iter_no_change),
    )
    assert _Run.validation_patience(run) == expected


def test_one_batch_epochs_do_not_stop_before_the_patience():
    X_train, _, y_train, _ = _small(1)
    clf = LinearNNClassifier(
        optimizer="sgd",
        learning_rate="constant",
        learning_rate_init=50.0,  # scores jump around: stalls happen early
        early_stopping=True,
        n_iter_no_change=2,
        max_iter=1000,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    # One step per epoch: no stop before 2 x MIN_PATIENCE_STEPS steps.
    assert clf.n_iter_ >= 2 * MIN_PATIENCE_STEPS


def _validation_run(scores, steps=1, tol=1e-4):
    progress = Progress(validation_scores=[])
    run = SimpleNamespace(progress=progress)
    params = iter(range(len(scores)))
    run.exposed = lambda: (np.array([next(params)]), np.zeros(1))
    for value in scores:
        _Run.record_validation(run, lambda coef, intercept, v=value: v, steps, tol)
    return progress


def test_first_score_is_not_a_best():
    progress = _validation_run([0.9, 0.5, 0.6])
    assert progress.best_validation_score == 0.6
    assert progress.best_params[0][0] == 2


def test_ties_stall_and_keep_the_later_model():
    progress = _validation_run([0.1, 0.5, 0.4, 0.5, 0.5], steps=3)
    # One worse score and two ties, 3 steps each: a score that stays put
    # for good must end the fit (it ran to max_iter when ties did not count).
    assert progress.validation_stalled_steps == 9
    assert progress.best_params[0][0] == 4  # the last of the tied models
    progress = _validation_run([0.1, 0.5, 0.4, 0.7], steps=3)
    assert progress.validation_stalled_steps == 0  # a real improvement
