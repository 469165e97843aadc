"""The trained parameters: one flat buffer with ``coef`` and ``intercept`` views."""

import numpy as np


def one_buffer(*arrays):
    """A 1-D buffer holding copies of ``arrays`` back to back, and views of them.

    Optimizers then run their elementwise rules once on the buffer instead of
    once per array (``Optimizer.step(..., flat=...)``).

    Examples
    --------
    >>> import numpy as np
    >>> buffer, (a, b) = one_buffer(np.ones((1, 2)), np.zeros(1))
    >>> buffer.tolist(), a.shape, b.shape
    ([1.0, 1.0, 0.0], (1, 2), (1,))
    """
    buffer = np.concatenate([a.ravel() for a in arrays])
    views, start = [], 0
    for a in arrays:
        views.append(buffer[start : start + a.size].reshape(a.shape))
        start += a.size
    return buffer, views


class Parameters:
    """``coef`` (n_outputs, n_features) and ``intercept`` (n_outputs,) in one buffer.

    The buffer holds ``coef`` followed by ``intercept`` when the intercept is
    trained; otherwise ``coef`` alone, and ``intercept`` is a separate array
    that no step changes.

    Parameters
    ----------
    coef : array-like of shape (n_outputs, n_features)
        Copied.
    intercept : array-like of shape (n_outputs,)
        Copied.
    fit_intercept : bool, default=True

    Attributes
    ----------
    buffer : ndarray of shape (n_params,)
    coef, intercept : ndarray
        Views of ``buffer`` (``intercept`` only if trained).
    arrays : list of ndarray
        ``[coef, intercept]``, or ``[coef]`` without a trained intercept: what
        optimizers update.
    """

    def __init__(self, coef, intercept, fit_intercept=True):
        self.fit_intercept = fit_intercept
        if fit_intercept:
            self.buffer, (self.coef, self.intercept) = one_buffer(coef, intercept)
            self.arrays = [self.coef, self.intercept]
        else:
            self.buffer, (self.coef,) = one_buffer(coef)
            self.intercept = np.array(intercept)
            self.arrays = [self.coef]

    def copy(self):
        """An independent copy."""
        return Parameters(self.coef, self.intercept, self.fit_intercept)

    def all_finite(self):
        """Whether every parameter is finite."""
        return bool(np.all(np.isfinite(self.buffer))) and bool(
            np.all(np.isfinite(self.intercept))
        )
