"""Statistics of the data that the automatic step sizes are computed from."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh
from sklearn.utils import gen_batches
from sklearn.utils.extmath import row_norms

from ._validation import raise_non_finite
from .losses import targets_for
from .optimizers import ProblemScale


def _sample_rows(X, sample_weight):
    """Rows of positive weight: all for sparse ``X``; for dense ``X``, at most
    10,000 evenly spaced among them.

    The mean count of non-zeros per row sets a scale, not a bound, and counting
    a dense array's non-zeros costs a pass over it. Sampling among the weighted
    rows only: evenly spaced rows of the whole array could all have zero
    weight (weights on every other row), or leave a handful that do not.
    """
    positive = sample_weight > 0
    if sp.issparse(X) and positive.all():
        return slice(None)  # (views: no row-sized index and copies)
    rows = np.flatnonzero(positive)
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


#: Rows of the sample whose second moment gives ``batch_smoothness``.
_SPECTRAL_ROWS = 10_000
#: Rows per block of its products with dense ``X``.
_SPECTRAL_BLOCK = 1024
#: Lanczos iterations at most (ARPACK: ``_SPECTRAL_RESTARTS`` restarts of
#: ``_SPECTRAL_NCV`` vectors), and the multiply-adds of all of them together.
_SPECTRAL_NCV = 10
_SPECTRAL_RESTARTS = 6
_SPECTRAL_WORK = 2e8


def _spectral_rows(sample_weight, row_cost):
    """Evenly spaced rows among those of positive weight, within the budget.

    At most ``_SPECTRAL_ROWS``, and few enough that the iterations' products
    (``row_cost`` multiply-adds per row and product) stay within
    ``_SPECTRAL_WORK``, but at least 500. A smaller sample of isotropic rows
    overestimates the eigenvalue (the sample's spectrum spreads), so its step
    errs on the safe side.
    """
    rows = np.flatnonzero(sample_weight > 0)
    products = 2 * _SPECTRAL_NCV * _SPECTRAL_RESTARTS
    budget = max(500, int(_SPECTRAL_WORK / (products * max(row_cost, 1.0))))
    size = min(_SPECTRAL_ROWS, budget)
    if len(rows) <= size:
        return rows
    picks = np.linspace(0, len(rows) - 1, size).astype(np.intp)
    return rows[np.unique(picks)]


def largest_curvature(X, sample_weight, curvature, fit_intercept, preconditioner):
    r"""The full batch's smoothness: the largest eigenvalue of
    :math:`\sum_i w_i \kappa_i \tilde x_i \tilde x_i^\top / \sum_i w_i`.

    :math:`\tilde x_i = [x_i, 1]` (``[x_i]`` without intercept) in the
    training coordinates and :math:`\kappa_i` the loss's curvature bound. Its
    trace is the mean row curvature (the library's full-batch ``smoothness``);
    the eigenvalue is up to ``n_features`` times smaller on dense data. From
    at most 10,000 evenly spaced rows of positive weight (all the rows of a
    smaller set; fewer for wide rows, within a budget of about 2e8
    multiply-adds), by at most 60 Lanczos iterations (``eigsh``) on products
    with the rows, or from the second moment itself when it is small.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
    curvature : float or ndarray of shape (n_samples,)
    fit_intercept : bool
    preconditioner : Preconditioner or None
        The training coordinates (applied to the products, never to a copy
        of the rows).

    Returns
    -------
    float or None
        None if the eigenvalue solver did not converge.
    """
    if sp.issparse(X):
        row_cost = X.nnz / max(X.shape[0], 1) + 1
    else:
        row_cost = X.shape[1] + 1
    rows = _spectral_rows(sample_weight, row_cost)
    weights = sample_weight[rows].astype(np.float64)
    weights /= weights.sum()
    weights *= curvature[rows] if np.ndim(curvature) else float(curvature)
    n_features = X.shape[1]
    size = n_features + int(fit_intercept)
    inv_scale = mean = None
    if preconditioner is not None:
        inv_scale = preconditioner.inv_scale.astype(np.float64)
        if preconditioner.mean is not None:
            mean = preconditioner.mean.astype(np.float64)
    if sp.issparse(X):
        parts = [(X[rows], weights)]  # a sample of a sparse X is small
    else:
        parts = [
            (rows[block], weights[block])
            for block in gen_batches(len(rows), _SPECTRAL_BLOCK)
        ]

    def rows_of(part):
        return X[part] if isinstance(part, np.ndarray) and part.ndim == 1 else part

    def matvec(v):
        v = np.ravel(v).astype(np.float64)
        u = v[:n_features] if inv_scale is None else v[:n_features] * inv_scale
        shift = float(mean @ u) if mean is not None else 0.0
        if fit_intercept:
            shift -= v[n_features]
        out = np.zeros(n_features + 1)  # the last entry: the sum of z
        for part, w in parts:
            Xp = rows_of(part)
            z = Xp @ u
            z -= shift
            z *= w
            out[:n_features] += Xp.T @ z
            out[n_features] += z.sum()
        if mean is not None:
            out[:n_features] -= mean * out[n_features]
        if inv_scale is not None:
            out[:n_features] *= inv_scale
        return out[:size]

    if size * size * len(rows) <= 1e7 or size <= 2:
        # Small: the second moment itself, column by column of the identity.
        M = np.column_stack([matvec(e) for e in np.eye(size)])
        return float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1])
    operator = LinearOperator((size, size), matvec=matvec, dtype=np.float64)
    start = np.random.RandomState(0).uniform(0.5, 1.5, size)  # reproducible
    try:
        value = eigsh(
            operator,
            k=1,
            which="LA",
            v0=start,
            tol=1e-3,
            ncv=min(_SPECTRAL_NCV, size),
            maxiter=_SPECTRAL_RESTARTS,
        )[0]
    except ArpackError:  # no convergence within the budget: no estimate
        return None
    return float(value[0])


def _param_scale(X, Y, sw, loss, l2, mean_sq_norm, mean_nnz):
    """``ProblemScale.param_scale`` from the rows' mean squared norm and
    non-zeros (in the training coordinates; ``l2`` in them too)."""
    x_scale = np.sqrt(mean_sq_norm / mean_nnz) if mean_nnz > 0 else 1.0
    if not 0 < x_scale < np.inf:
        # Squares under- or overflowed: fall back to the largest entry.
        x_scale = float(abs(X).max()) or 1.0
    # A coefficient's natural size is target / x_scale when each feature is
    # present in most rows (dense data: one feature may carry the
    # prediction). In sparse rows many rare features share it, and the
    # size is nearer target / row norm, sqrt(nnz) times smaller: there the
    # per-entry scale made Adam's steps 7x too large to settle (tf-idf-like
    # benchmark set). The factor moves from 1 to sqrt(nnz) with sparsity,
    # so that the same data dense or CSR gets the same step.
    target = loss.target_scale(targets_for(loss, "target_scale", Y), sw)
    density = mean_nnz / max(X.shape[1], 1)
    spread = np.sqrt(1.0 + mean_nnz * (1.0 - density))
    param_scale = target / (x_scale * spread)
    # The l2 penalty caps it near target * x_scale / alpha (its gradient
    # balances the loss's), which matters for features far below unit scale.
    if l2 > 0:
        param_scale = min(param_scale, target * x_scale / l2)
    return param_scale


def problem_scale(
    data,
    loss,
    *,
    l2,
    fit_intercept,
    preconditioner=None,
    batch_smoothness=False,
    smoothness=True,
    batch_size_rule=None,
):
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
    batch_smoothness : bool, default=False
        Also compute ``ProblemScale.batch_smoothness`` (a few passes over a
        sample of rows).
    smoothness : bool, default=True
        Compute ``ProblemScale.smoothness`` (a pass over ``X`` for the rows'
        norms). Without it, and with a ``preconditioner``, ``param_scale``
        comes from the preconditioner's column statistics alone and
        ``smoothness`` is None: the automatic step of an optimizer in
        parameter units (Adam and its family) cost about a third of an epoch
        of Adam on the dense benchmark set, setting up a one-epoch fit.
    batch_size_rule : callable or None, default=None
        Resolves ``batch_size="auto"`` from the full batch's smoothness:
        ``batch_size_rule(n_rows, L)`` (``L`` with the l2 strength; the
        eigenvalue with ``batch_smoothness``, else the mean curvature) is
        written to ``data.batch_size`` before the minibatch statistics use it.

    Returns
    -------
    ProblemScale
    """
    X, Y, sw, batch_size = data.X, data.Y, data.sample_weight, data.batch_size
    n, batch = X.shape[0], batch_size
    needs_rows = smoothness or batch_smoothness or batch_size_rule is not None
    if preconditioner is not None:
        # Each coordinate's l2 curvature is l2 / s_j^2; the largest bounds it.
        l2 = l2 * float(np.max(preconditioner.inv_scale) ** 2)
        mean_sq_norm = preconditioner.mean_squared_norm
        if not needs_rows and mean_sq_norm is not None:
            # Centered columns: every entry counts as a non-zero.
            return ProblemScale(
                smoothness=None,
                param_scale=_param_scale(X, Y, sw, loss, l2, mean_sq_norm, X.shape[1]),
                steps_per_epoch=-(-n // batch),
            )
    sq_norms = data.sq_row_norms
    if (
        preconditioner is None
        and sp.issparse(X)
        and sq_norms is None
        and not needs_rows
        and bool(np.all(sw == sw[0]))
    ):
        # Equal weights: the means over rows are sums over the stored entries
        # (a pass over X.data instead of per-row norms and counts: a third of
        # an epoch of lazy Adam on the sparse benchmark set).
        mean_sq_norm = float(np.einsum("i,i->", X.data, X.data, dtype=np.float64)) / n
        if not np.isfinite(mean_sq_norm):  # (X.data is finite: overflow)
            raise_non_finite(X, data.estimator_name)
        mean_nnz = np.count_nonzero(X.data) / n
        return ProblemScale(
            smoothness=None,
            param_scale=_param_scale(X, Y, sw, loss, l2, mean_sq_norm, mean_nnz),
            steps_per_epoch=-(-n // batch),
        )
    # Statistics of the weighted sample, so that integer weights and repeated
    # rows give the same step size.
    if preconditioner is not None:
        sq_norms = preconditioner.squared_row_norms(X)
    elif sq_norms is None:
        sq_norms = row_norms(X, squared=True)
    uniform = bool(np.all(sw == sw[0]))
    mean_sq_norm = float(np.average(sq_norms, weights=None if uniform else sw))
    if not np.isfinite(mean_sq_norm):  # (X is finite here: overflow)
        raise_non_finite(X, data.estimator_name)
    if preconditioner is not None:
        mean_nnz = float(X.shape[1])  # centered columns: every entry counts
    else:
        rows = _sample_rows(X, sw)
        mean_nnz = float(np.average(_row_nnz(X, rows), weights=sw[rows]))
    # Expected smoothness of a minibatch gradient (Gower et al., 2019, sampling
    # without replacement): the mean curvature for the full batch, the
    # largest single row's for batch 1.
    curvature = loss.sample_curvature(targets_for(loss, "sample_curvature", Y), sw)
    if uniform and np.ndim(curvature) == 0:
        mean_curvature = curvature * (mean_sq_norm + fit_intercept)
        max_curvature = curvature * (float(np.max(sq_norms)) + fit_intercept)
    else:
        row_curvature = curvature * (sq_norms + fit_intercept)
        mean_curvature = float(np.average(row_curvature, weights=sw))
        max_curvature = float(np.max(row_curvature * (sw / np.mean(sw))))

    def expected(full):
        if batch >= n:
            return full + l2
        return (
            n * (batch - 1) / (batch * (n - 1)) * full
            + (n - batch) / (batch * (n - 1)) * max_curvature
            + l2
        )

    full = mean_curvature
    largest = None
    if batch_smoothness:
        largest = largest_curvature(X, sw, curvature, fit_intercept, preconditioner)
        if largest is not None and largest > 0:
            # Within the trace bound, whatever the sample (or rounding) says.
            full = min(largest, mean_curvature)
    if batch_size_rule is not None:
        batch = data.batch_size = batch_size_rule(n, full + l2)
    smoothness = expected(mean_curvature)
    tight = None
    if largest is not None and largest > 0:
        tight = max(expected(full), np.finfo(float).tiny)
    param_scale = _param_scale(X, Y, sw, loss, l2, mean_sq_norm, mean_nnz)
    return ProblemScale(
        smoothness=max(smoothness, np.finfo(np.float64).tiny),
        param_scale=param_scale,
        steps_per_epoch=-(-n // batch),
        batch_smoothness=tight,
    )
