"""The trained parameters: one flat buffer with ``coef`` and ``intercept`` views."""

import inspect

import numpy as np

from .losses import targets_for


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

    @classmethod
    def start(
        cls,
        data,
        loss,
        fit_intercept,
        coef_init=None,
        intercept_init=None,
        prior_weight=0.0,
    ):
        """Parameters from scratch: ``coef_init``/``intercept_init`` or defaults.

        ``coef`` starts at zero and ``intercept`` at the loss's best constant
        prediction (``loss.baseline``), unless given.

        Parameters
        ----------
        data : TrainingData
            The training data (``loss.baseline`` of its targets and weights).
        loss : Loss
        fit_intercept : bool
        coef_init : array-like of shape (n_outputs, n_features), optional
            A 1-D array is accepted for a single output.
        intercept_init : array-like of shape (n_outputs,), optional
        prior_weight : float, default=0.0
            Pseudo-rows at raw 0 that bound ``loss.baseline`` where the best
            constant is unbounded (see :meth:`Loss.baseline`).

        Raises
        ------
        ValueError
            If ``coef_init`` or ``intercept_init`` has the wrong size.
        """
        X, Y = data.X, data.Y
        n_outputs, n_features = Y.shape[1], X.shape[1]
        if coef_init is None:
            W = np.zeros((n_outputs, n_features), dtype=X.dtype)
        elif np.size(coef_init) == n_outputs * n_features:
            W = np.array(coef_init, dtype=X.dtype, order="C")
            W = W.reshape(n_outputs, n_features)
        else:
            raise ValueError(
                f"coef_init has shape {np.shape(coef_init)}; expected "
                f"({n_outputs}, {n_features}) or ({n_features},) for one output."
            )
        if not fit_intercept:
            b = np.zeros(n_outputs, dtype=X.dtype)
        elif intercept_init is None:
            b = _baseline(loss, Y, data.sample_weight, prior_weight)
            b = np.asarray(b, dtype=X.dtype)
            b = b.reshape(n_outputs)
        elif np.size(intercept_init) != n_outputs:
            raise ValueError(
                f"intercept_init has shape {np.shape(intercept_init)}; expected "
                f"({n_outputs},)."
            )
        else:
            b = np.array(intercept_init, dtype=X.dtype).reshape(n_outputs)
        return cls(W, b, fit_intercept)

    @classmethod
    def continued(cls, coef, intercept, X, Y, fit_intercept):
        """Parameters continuing a fitted model's ``coef``/``intercept``.

        Raises
        ------
        ValueError
            If ``X`` and ``Y`` need another shape (``warm_start`` on new data).
        """
        # No copies here: the Parameters built below copy into their buffer.
        W = np.asarray(np.atleast_2d(coef), dtype=X.dtype)
        b = np.asarray(np.atleast_1d(intercept), dtype=X.dtype)
        expected = (Y.shape[1], X.shape[1])
        if W.shape != expected:
            raise ValueError(
                f"warm_start needs data shaped like the previous fit's: "
                f"coef_ has shape {W.shape} but X and y need {expected}. Set "
                f"warm_start=False to refit."
            )
        return cls(W, b, fit_intercept)

    def in_coordinates(self, preconditioner):
        """These parameters in a preconditioner's training coordinates."""
        if preconditioner is None:
            return self
        W, b = preconditioner.to_training(self.coef, self.intercept)
        return Parameters(W, b, self.fit_intercept)

    def copy(self):
        """An independent copy."""
        return Parameters(self.coef, self.intercept, self.fit_intercept)

    def all_finite(self):
        """Whether every parameter is finite."""
        return bool(np.all(np.isfinite(self.buffer))) and bool(
            np.all(np.isfinite(self.intercept))
        )


def _baseline(loss, Y, sample_weight, prior_weight):
    """``loss.baseline``; without ``prior_weight`` for a custom loss that has none."""
    Y = targets_for(loss, "baseline", Y)
    parameters = inspect.signature(loss.baseline).parameters
    if "prior_weight" in parameters:
        return loss.baseline(Y, sample_weight, prior_weight=prior_weight)
    return loss.baseline(Y, sample_weight)
