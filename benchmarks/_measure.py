"""Timing and memory primitives: interleaved repetitions, the floor, targets.

A *runner* is a callable that does one measured run and returns its seconds
(or None when it has nothing to time, e.g. a target that was never reached).
"""

import gc
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp


def timed(fn):
    """Seconds taken by ``fn()`` (after a garbage collection, outside the clock)."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(runners, repeats):
    """Run every runner once per repetition, round-robin, the order rotated.

    Interleaving spreads slow drifts of the machine (frequency, other load)
    over all runners instead of charging them to whichever ran last.

    Parameters
    ----------
    runners : dict of str to callable
    repeats : int

    Returns
    -------
    dict of str to list of (float or None)
    """
    names = list(runners)
    times = {name: [] for name in names}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(runners[name]())
    return times


def median(times):
    """Median of the measured times, ignoring None; None if there is none."""
    values = [t for t in times if t is not None]
    return float(np.median(values)) if values else None


def _gather(X, order, start, stop, buffer):
    """Rows ``order[start:stop]`` of X (contiguous rows if ``order`` is None)."""
    if order is None:
        return X[start:stop]
    idx = order[start:stop]
    if buffer is None:
        return X[idx]
    # mode="clip": with out=, the default "raise" gathers into a temporary first.
    return np.take(X, idx, axis=0, out=buffer[: len(idx)], mode="clip")


def floor_time(X, *, n_outputs, batch_size, epochs, shuffle, seed=0):
    """Seconds for ``epochs`` passes of the least work a minibatch method does.

    Per batch: gather the rows (a fresh permutation per epoch; ``np.take`` into
    a preallocated buffer for dense X, ``X[idx]`` for CSR; a slice when
    ``shuffle`` is False), one forward ``X_b @ W`` and one backward
    ``X_b.T @ G``, with ``W`` of shape (n_features, n_outputs).
    """
    n_samples, n_features = X.shape
    W = np.zeros((n_features, n_outputs))
    rng = np.random.default_rng(seed)
    buffer = None
    if shuffle and not sp.issparse(X):
        buffer = np.empty((batch_size, n_features), dtype=X.dtype)
    gc.collect()
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n_samples) if shuffle else None
        for lo in range(0, n_samples, batch_size):
            Xb = _gather(X, order, lo, lo + batch_size, buffer)
            G = Xb @ W
            Xb.T @ G
    return time.perf_counter() - start


def peak_memory(fn):
    """Peak bytes allocated (tracemalloc, which numpy reports to) during ``fn()``."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def first_reaching(reached, k_max):
    """Smallest ``k <= k_max`` with ``reached(k)``, or None.

    Doubling then bisection, so ``reached`` is assumed monotone in ``k``; the
    answer ``k`` satisfies ``reached(k)`` and not ``reached(k - 1)`` (k > 1).
    """
    failed, k = 0, 1
    while not reached(k):
        if k >= k_max:
            return None
        failed, k = k, min(2 * k, k_max)
    while k - failed > 1:
        mid = (failed + k) // 2
        if reached(mid):
            k = mid
        else:
            failed = mid
    return k


class EpochByEpoch:
    """Runner: ``partial_fit`` one epoch at a time until the test score is reached.

    Only ``partial_fit`` is on the clock, not scoring. The first run learns
    the number of epochs the target takes (at most ``max_epochs``); the seed
    fixes the trajectory, so later runs stop after as many epochs, and are
    skipped when the first run missed the target.

    Parameters
    ----------
    make : callable
        Returns a fresh estimator.
    data : Dataset
    target : float
        Test score to reach (``estimator.score``).
    max_epochs : int
    """

    def __init__(self, make, data, target, max_epochs):
        self.make = make
        self.data = data
        self.target = target
        self.max_epochs = max_epochs
        self.first = None  # (epochs, score, estimator) of the first run

    def _partial_fit(self, estimator):
        data = self.data
        if data.classes is None:
            estimator.partial_fit(data.X_train, data.y_train)
        else:
            estimator.partial_fit(data.X_train, data.y_train, classes=data.classes)

    def __call__(self):
        if self.first is not None and not self.reached:
            return None
        limit = self.max_epochs if self.first is None else self.first[0]
        estimator = self.make()
        elapsed, epoch, score = 0.0, 0, None
        gc.collect()
        while epoch < limit and (score is None or score < self.target):
            start = time.perf_counter()
            self._partial_fit(estimator)
            elapsed += time.perf_counter() - start
            epoch += 1
            score = estimator.score(self.data.X_test, self.data.y_test)
        if self.first is None:
            self.first = (epoch, score, estimator)
        return elapsed if score >= self.target else None

    @property
    def reached(self):
        """Whether the first run reached the target."""
        return self.first is not None and self.first[1] >= self.target

    def summary(self):
        """Epochs, test score and estimator of the first run."""
        epochs, score, estimator = self.first
        return {"epochs": epochs, "score": score, "estimator": estimator}


class FewestIterations:
    """Runner: a full fit with ``max_iter=k``, ``k`` the fewest that reach a target.

    ``find_k()`` (called once, off the clock) returns ``k`` or None; each run
    then times ``make(k).fit(X_train, y_train)``.
    """

    def __init__(self, make, data, find_k):
        self.make = make
        self.data = data
        self.find_k = find_k
        self.k = None
        self.searched = False
        self.estimator = None

    def __call__(self):
        if not self.searched:
            self.k = self.find_k()
            self.searched = True
        if self.k is None:
            return None
        estimator = self.make(self.k)
        seconds = timed(lambda: estimator.fit(self.data.X_train, self.data.y_train))
        self.estimator = estimator
        return seconds
