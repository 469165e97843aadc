"""Shared pytest configuration: hypothesis profiles, shared fixtures.

``default`` keeps the property-based tests fast enough for CI; ``thorough``
explores many more examples::

    python -m pytest --hypothesis-profile=thorough

(the option comes from hypothesis's pytest plugin). The profile can also be
chosen with the ``HYPOTHESIS_PROFILE`` environment variable.
"""

import os

import pytest
from hypothesis import HealthCheck, settings
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import _steppers

# derandomize: CI explores the same examples every run (no flaky red builds);
# the thorough profile searches at random.
settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "default")


# Shared by the schedule and penalty tests.
@pytest.fixture(scope="module")
def data():
    """A standardized 500 x 20 binary problem with 4 informative features."""
    X, y = make_classification(
        n_samples=500, n_features=20, n_informative=4, n_redundant=0, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def easy():
    """The same, with well separated classes (LogisticRegression: 0.876)."""
    X, y = make_classification(
        n_samples=500,
        n_features=20,
        n_informative=4,
        n_redundant=0,
        class_sep=2.0,
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


# Shared by the compiled kernels' tests: which stepper a fit ran.


@pytest.fixture
def spy(monkeypatch):
    """The type of each stepper that make_stepper returns."""
    made = []
    original = _steppers.make_stepper

    def make_stepper(*args, **kwargs):
        stepper = original(*args, **kwargs)
        made.append(type(stepper))
        return stepper

    monkeypatch.setattr(_steppers, "make_stepper", make_stepper)
    return made
