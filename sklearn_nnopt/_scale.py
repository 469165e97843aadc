"""Statistics of the data that the automatic step sizes are computed from."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import gen_batches
from sklearn.utils.extmath import row_norms

from .optimizers import ProblemScale


def _sample_rows(X, sample_weight):
    """Rows of positive weight: all for sparse ``X``; for dense ``X``, at most
    10,000 evenly spaced among them.

    The mean count of non-zeros per row sets a scale, not a bound, and counting
    a dense array's non-zeros costs a pass over it. Sampling among the weighted
    rows only: evenly spaced rows of the whole array could all have zero
    weight (weights on every other row), or leave a handful that do not.
    """
    rows = np.flatnonzero(sample_weight > 0)
    if sp.issparse(X) or len(rows) <= 10_000:
        return rows
    return rows[np.unique(np.linspace(0, len(rows) - 1, 10_000).astype(np.intp))]


def _row_nnz(X, rows):
    """Non-zero entries of the given rows, without allocating ``X``'s size."""
    if sp.issparse(X):
        counts = np.diff(X.indptr)
        if X.nnz and not np.all(X.data):
            # Explicitly stored zeros are not entries of the data.
            starts = np.minimum(X.indptr[:-1], X.nnz - 1)
            nonzero = np.add.reduceat(X.data != 0, starts, dtype=np.int64)
            counts = np.where(counts > 0, nonzero, 0)
        return counts[rows]
    # By blocks of rows: count_nonzero(X, axis=1) would allocate X's shape.
    return np.concatenate(
        [
            np.count_nonzero(X[rows[block]], axis=1)
            for block in gen_batches(len(rows), 256)
        ]
    )


def problem_scale(data, loss, *, l2, fit_intercept, preconditioner=None):
    """What an optimizer's automatic step size is computed from.

    Parameters
    ----------
    data : TrainingData
        The training data (its squared row norms are computed if missing).
    loss : Loss
    l2 : float
        The l2 penalty's strength (0 for none).
    fit_intercept : bool
    preconditioner : Preconditioner or None, default=None
        The statistics are then those of the training coordinates: centered,
        scaled columns, and the l2 curvature of the most penalized one.

    Returns
    -------
    ProblemScale
    """
    X, Y, sw, batch_size = data.X, data.Y, data.sample_weight, data.batch_size
    sq_norms = data.sq_row_norms
    # Statistics of the weighted sample, so that integer weights and repeated
    # rows give the same step size.
    if preconditioner is not None:
        sq_norms = preconditioner.squared_row_norms(X)
        # Each coordinate's l2 curvature is l2 / s_j^2; the largest bounds it.
        l2 = l2 * float(np.max(preconditioner.inv_scale) ** 2)
    elif sq_norms is None:
        sq_norms = row_norms(X, squared=True)
    uniform = bool(np.all(sw == sw[0]))
    mean_sq_norm = float(np.average(sq_norms, weights=None if uniform else sw))
    if preconditioner is not None:
        mean_nnz = float(X.shape[1])  # centered columns: every entry counts
    else:
        rows = _sample_rows(X, sw)
        mean_nnz = float(np.average(_row_nnz(X, rows), weights=sw[rows]))
    x_scale = np.sqrt(mean_sq_norm / mean_nnz) if mean_nnz > 0 else 1.0
    if not 0 < x_scale < np.inf:
        # Squares under- or overflowed: fall back to the largest entry.
        x_scale = float(abs(X).max()) or 1.0
    # Expected smoothness of a minibatch gradient (Gower et al., 2019, sampling
    # without replacement): the mean curvature for the full batch, the
    # largest single row's for batch 1.
    curvature = loss.sample_curvature(Y, sw)
    if uniform and np.ndim(curvature) == 0:
        mean_curvature = curvature * (mean_sq_norm + fit_intercept)
        max_curvature = curvature * (float(np.max(sq_norms)) + fit_intercept)
    else:
        row_curvature = curvature * (sq_norms + fit_intercept)
        mean_curvature = float(np.average(row_curvature, weights=sw))
        max_curvature = float(np.max(row_curvature * (sw / np.mean(sw))))
    n, batch = X.shape[0], batch_size
    if batch >= n:
        smoothness = mean_curvature + l2
    else:
        smoothness = (
            n * (batch - 1) / (batch * (n - 1)) * mean_curvature
            + (n - batch) / (batch * (n - 1)) * max_curvature
            + l2
        )
    # A coefficient's natural size is target / x_scale when each feature is
    # present in most rows (dense data: one feature may carry the
    # prediction). In sparse rows many rare features share it, and the
    # size is nearer target / row norm, sqrt(nnz) times smaller: there the
    # per-entry scale made Adam's steps 7x too large to settle (tf-idf-like
    # benchmark set). The factor moves from 1 to sqrt(nnz) with sparsity,
    # so that the same data dense or CSR gets the same step.
    target = loss.target_scale(Y, sw)
    density = mean_nnz / max(X.shape[1], 1)
    spread = np.sqrt(1.0 + mean_nnz * (1.0 - density))
    param_scale = target / (x_scale * spread)
    # The l2 penalty caps it near target * x_scale / alpha (its gradient
    # balances the loss's), which matters for features far below unit scale.
    if l2 > 0:
        param_scale = min(param_scale, target * x_scale / l2)
    return ProblemScale(
        smoothness=max(smoothness, np.finfo(np.float64).tiny),
        param_scale=param_scale,
        steps_per_epoch=-(-n // batch),
    )
