r"""Training coordinates in which the problem is well conditioned.

A raw feature with a large offset (a calendar year, a timestamp) or columns
on scales from :math:`10^{-3}` to :math:`10^{3}` make the objective badly
conditioned in the user's coordinates: the automatic step is set by the
largest column, the intercept is coupled to every offset column, and
first-order methods crawl (or L-BFGS stops early). Training instead runs in
coordinates of centered, unit-spread columns,

.. math::
    \tilde x = (x - m) / s, \qquad \tilde W = W \operatorname{diag}(s), \qquad
    \tilde b = b + W m, \qquad
    \tilde x \tilde W^\top + \tilde b = x W^\top + b,

an exact reparameterization: the objective, ``coef_`` and ``intercept_`` stay
in the user's units, and ``X`` is never centered (the offset is folded into
the intercept, so sparse ``X`` stays sparse). ``m`` is the weighted column
mean (0 without an intercept, which could not absorb it) and

.. math::
    s_j = \sqrt{\operatorname{Var}_w(x_j) + \alpha_2 / \kappa}

the weighted column spread, floored by the l2 penalty's curvature
:math:`\alpha_2` relative to the loss's :math:`\kappa`, so that every
coordinate's curvature, :math:`(\kappa \operatorname{Var}(x_j) + \alpha_2) /
s_j^2 \approx \kappa`, is about the same (a constant column gets
:math:`s_j = \sqrt{\alpha_2 / \kappa}`, or 1 without a penalty). Adding a
constant to a column then changes only ``intercept_``; multiplying it by a
factor divides its coefficient by that factor.
"""

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import assert_all_finite

from . import _kernels
from ._validation import raise_non_finite

__all__ = ["Preconditioner"]

#: Rows per block of the passes over X: the scratch stays a small, fixed size.
_BLOCK = 256


class Preconditioner:
    r"""Centering ``mean`` and column ``scale`` of the training coordinates.

    Parameters
    ----------
    mean : ndarray of shape (n_features,) or None
        Column offsets ``m`` (None: no centering).
    scale : ndarray of shape (n_features,)
        Column spreads ``s`` (> 0).
    mean_squared_norm : float or None, default=None
        The weighted mean over the rows of the squared norm of the centered,
        scaled row, :math:`\sum_j (\sigma_j^2 + (\mu_j - m_j)^2) / s_j^2`
        from the columns' weighted means :math:`\mu_j` and variances
        :math:`\sigma_j^2` (:meth:`fit` sets it).
    """

    def __init__(self, mean, scale, mean_squared_norm=None):
        self.mean = mean
        self.scale = scale
        self.mean_squared_norm = mean_squared_norm
        self.inv_scale = 1.0 / scale

    @classmethod
    def fit(
        cls, X, sample_weight, *, center, l2=0.0, curvature=1.0, estimator_name=None
    ):
        """The preconditioner of ``X`` (dense or sparse).

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
        sample_weight : ndarray of shape (n_samples,)
        center : bool
            Whether to center (only with a trained intercept).
        l2 : float, default=0.0
            The l2 penalty's strength :math:`\\alpha_2`.
        curvature : float, default=1.0
            The loss's curvature scale :math:`\\kappa`.
        estimator_name : str, optional
            For the error message.

        Returns
        -------
        Preconditioner
        """
        weights = sample_weight.astype(np.float64)
        total = weights.sum()
        moments = _kernels.column_moments(X, weights)
        if moments is not None:
            # One compiled pass (the numpy passes below are its reference).
            mean, var = moments
            if not np.all(np.isfinite(mean)):
                assert_all_finite(X, input_name="X", estimator_name=estimator_name)
        elif isinstance(X, np.ndarray):
            # By blocks of rows into one float64 buffer: weights @ X would
            # convert a float32 X whole, and (X - mean) ** 2 allocate its size.
            n_samples, n_features = X.shape
            buffer = np.empty((min(_BLOCK, n_samples), n_features))
            mean = np.zeros(n_features)
            with np.errstate(invalid="ignore", over="ignore"):
                for rows in gen_batches(n_samples, _BLOCK):
                    block = buffer[: rows.stop - rows.start]
                    block[...] = X[rows]
                    mean += weights[rows] @ block
            mean /= total
            if not np.all(np.isfinite(mean)):
                # NaN or inf in X (even in a zero-weight row: 0 * inf is NaN)
                # spoils the mean: say so before computing with it.
                assert_all_finite(X, input_name="X", estimator_name=estimator_name)
            var = np.zeros(n_features)
            for rows in gen_batches(n_samples, _BLOCK):
                block = buffer[: rows.stop - rows.start]
                np.subtract(X[rows], mean, out=block)
                block *= block
                var += weights[rows] @ block
            var /= total
        else:
            # (scikit-learn's kernel wants the weights in X's dtype.)
            mean, var = mean_variance_axis(X, axis=0, weights=weights.astype(X.dtype))
            mean, var = mean.astype(np.float64), var.astype(np.float64)
        if not np.all(np.isfinite(var)):
            # (NaN or inf in X, or squares that overflow: no scale.)
            raise_non_finite(X, estimator_name)
        var = np.maximum(var, 0.0)  # rounding
        floor = l2 / curvature if curvature > 0 else 0.0
        scale = np.sqrt(var + floor)
        scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
        # Rounded to a power of two (the scaling is then exact in floating
        # point) and the offsets to a grid of scale / 4096: conditioning only
        # needs them approximately, and rounded they do not depend on the
        # order of summation, so that weighted rows and their repetitions
        # train in the same coordinates.
        scale = np.exp2(np.round(np.log2(scale)))
        offset = np.zeros_like(mean)
        if center:
            grid = scale * 2.0**-12
            offset = np.round(mean / grid) * grid
        # The rows' mean squared norm in these coordinates, at no pass over X
        # (an automatic step in parameter units needs only that).
        mean_squared_norm = float(np.sum((var + (mean - offset) ** 2) / scale**2))
        dtype = X.dtype
        return cls(
            offset.astype(dtype) if center else None,
            scale.astype(dtype),
            mean_squared_norm,
        )

    def to_user(self, W, b):
        """``(coef, intercept)`` in the user's units from training coordinates."""
        coef = W * self.inv_scale
        if self.mean is None:
            return coef, b.copy()
        return coef, b - coef @ self.mean

    def to_training(self, coef, intercept):
        """Training coordinates ``(W, b)`` of a user's ``(coef, intercept)``."""
        W = coef * self.scale
        if self.mean is None:
            return W, np.array(intercept, copy=True)
        return W, intercept + coef @ self.mean

    def transform(self, rows, out):
        """Write the centered, scaled ``rows`` (dense or sparse) into ``out``.

        ``out`` is a dense buffer of ``rows``' shape: callers work by blocks
        of rows, so that nothing of ``X``'s size is allocated.
        """
        out[...] = rows.toarray() if hasattr(rows, "toarray") else rows
        if self.mean is not None:
            out -= self.mean
        out *= self.inv_scale
        return out

    def squared_row_norms(self, X):
        """Squared norms of the rows of the centered, scaled ``X`` (by blocks)."""
        norms = _kernels.scaled_row_norms(X, self.mean, self.inv_scale)
        if norms is not None:
            return norms
        norms = np.empty(X.shape[0])
        buffer = np.empty((min(_BLOCK, X.shape[0]), X.shape[1]), dtype=X.dtype)
        for rows in gen_batches(X.shape[0], _BLOCK):
            block = self.transform(X[rows], buffer[: rows.stop - rows.start])
            norms[rows] = np.einsum("ij,ij->i", block, block)
        return norms
