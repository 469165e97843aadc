"""The peak memory a fit allocates (a helper of the memory tests)."""

import tracemalloc
import warnings

from sklearn.exceptions import ConvergenceWarning


def fit_peak_memory(estimator, X, y):
    """Bytes ``estimator.fit(X, y)`` allocated at its peak (tracemalloc: numpy
    arrays included, BLAS-internal buffers not); ConvergenceWarnings of the
    short fits the tests make are ignored."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
