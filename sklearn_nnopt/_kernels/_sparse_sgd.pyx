# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
r"""Compiled minibatch steps on the rows of a CSR matrix.

:class:`SparseKernel` holds pointers to the training data, the flat parameter
buffer ``[coef, intercept]`` and the optimizer state, and its :meth:`step`
runs one minibatch without the GIL: the forward product over the batch's
non-zeros, the loss and its gradient in the raw prediction, the gradient of
the touched coefficients, and their update, exactly as
:class:`sklearn_nnopt._sparse.SparseColumnStepper` does with numpy:

- ``MODE_EXACT`` (plain SGD): the l2 shrinkage of every coefficient is a global
  scale ``W = s U``, ``s <- (1 - lr l2) s``, ``U_J <- U_J - lr g_J / s``
  (folded into the coefficients below ``MIN_SCALE`` and by :meth:`fold`);
- ``MODE_LAZY`` (Adam, ``lazy=True``): only the batch's columns and their
  moments advance, with the global step count in the bias corrections; their
  l2 gradient is ``penalty_weight[j] * w_j`` (``alpha / p_j``).
- ``MODE_SCHEDULE_FREE`` (Schedule-Free AdamW, ``lazy=True``): as
  ``MODE_LAZY``, with the rule of ``ScheduleFreeAdamW`` in the coordinates of
  :class:`sklearn_nnopt._sparse.LazyScheduleFree` (``zw``: each column's
  ``z`` and ``w``, ``x = z + P w``, ``y = z + beta_1 P w`` with ``P`` the
  running product of ``1 - c_i``): the forward product reads ``y`` from
  ``zw``, a step moves ``v``, ``z`` and ``w`` of the batch's columns, and
  absent columns are not touched (``theta`` is not read or written; the
  Python side keeps ``P`` and writes ``theta`` at the end of each epoch).

One output column runs ``_step``; several (multiclass, multi-target) run
``_step_multi``, the same step over each output (the softmax for log_loss).
:meth:`SparseKernel.step` runs one batch; :meth:`SparseKernel.run` an epoch
of them (``_run_epoch``: the same steps, with Schedule-Free AdamW's step
weights and product advanced in the loop), so that a fit makes one Python
call per epoch.

Floating point: float32 or float64 data and parameters (the fused type
``floating``); sums and scalar arithmetic in double, rounded to the
parameters' type where numpy stores an intermediate array (so float32 runs
stay within float32 rounding of the numpy stepper); int32 or int64 CSR
indices.

Cost: one pass over the batch's non-zeros (forward product, then the
gradient's scatter while the row is in cache) and one over its distinct
columns (rounding, Pflug's product and the update, together). Shuffled rows are scattered over ``X``: the next rows'
non-zeros are prefetched. Pflug's statistic keeps the last gradient in a
second dense array, swapped with the current one each step, so tracking it
costs one product over the batch's columns.
"""

from libc.math cimport pow, sqrt
from libc.stdint cimport int32_t, int64_t

import numpy as np

from .._targets import class_indices

from ._common cimport (
    NNOPT_PREFETCH,
    _adam_coordinate,
    _adam_scalars,
    _address,
    _prefetch_row,
    floating,
    index_t,
    intp_t,
)
from ._row_loss cimport (
    _N_LOSSES,
    _label_outputs_gradient,
    _loss_gradient,
    _outputs_gradient,
    _pairwise_sum,
)

# Losses, optimizers (the Python wrapper maps the classes to these; a loss's
# parameter, delta, epsilon or the quantile, is ``loss_param``).
LOSSES = {
    "log_loss": 0,
    "hinge": 1,
    "squared_error": 2,
    "absolute_error": 3,
    "huber": 4,
    "epsilon_insensitive": 5,
    "squared_epsilon_insensitive": 6,
    "quantile": 7,
    "poisson": 8,
    "squared_hinge": 9,
    "modified_huber": 10,
    "perceptron": 11,
}
MODE_EXACT = 0
MODE_LAZY = 1
MODE_SCHEDULE_FREE = 2
cdef int _MODE_EXACT = 0
cdef int _MODE_LAZY = 1
cdef int _MODE_SCHEDULE_FREE = 2

# As _sparse._MIN_SCALE: below it the global scale is folded into the coefficients.
MIN_SCALE = 1e-6
cdef double _MIN_SCALE = 1e-6


cdef struct State:
    # Data: the whole training set (rows are addressed by index).
    const void* Y           # targets, column-major (n_rows, k), parameters' dtype
    const intp_t* labels    # or one-hot targets by their classes (else NULL)
    double label_low        # the labels' value off the class (0 or -1)
    intp_t n_rows
    const double* sw        # sample weights (float64), read when weighted
    # Parameters: the flat buffer [coef (n_features), intercept (1)].
    void* theta
    intp_t n_features
    intp_t n_outputs        # k: coef (k, n_features) row-major, then k intercepts
    bint fit_intercept
    # Optimizer.
    int loss
    double loss_param
    int mode
    double l2
    double scale            # MODE_EXACT: W = scale * U
    double log_tiny         # log-loss gradient floor (losses._log_tiny)
    double beta_1
    double beta_2
    double epsilon
    bint amsgrad
    void* m                 # Adam's exp_avg, exp_avg_sq, max_exp_avg_sq (flat)
    void* v
    void* vmax
    const double* penalty_weight  # MODE_LAZY with l2: alpha / p_j; else NULL
    # MODE_SCHEDULE_FREE: each parameter's z and w side by side (v is the
    # second moment), and this step's scalars: the bias correction
    # 1 - beta_2^t, beta_1 P and 1 / P for the product P before the step.
    void* sf_zw
    double sf_bias_correction2
    double sf_beta_product
    double sf_inverse_product
    # Work space: the gradient, dense over the features, zero outside the
    # columns touched (cols); per row of the batch, a weight or a gradient.
    double* grad
    double* per_row         # batch_size * k
    double* z               # k
    # Pflug's statistic: the last step's gradient as grad (NULL: not
    # tracked), its columns and intercept; grad and previous swap each step.
    double* previous
    intp_t* previous_cols
    intp_t n_previous
    double previous_intercept
    unsigned char* seen
    intp_t* cols


cdef struct Result:
    double loss
    double weight
    double inner


# Rows ahead whose non-zeros are prefetched (shuffled rows are scattered over
# X: a row's first cache lines are a miss each, which the prefetch hides).
cdef intp_t _AHEAD = 4


cdef inline floating _sf_point(const floating* zw, intp_t idx, floating bp) noexcept nogil:
    """y of parameter idx, as LazyScheduleFree.point: z + (beta_1 P) w, each
    product rounded to the parameters' type."""
    cdef floating y = zw[2 * idx + 1] * bp
    return y + zw[2 * idx]


cdef inline void _sf_update(
    State* s, intp_t idx, floating g, double lr,
) noexcept nogil:
    """One coordinate's lazy ScheduleFreeAdamW step (``_normalized``, then
    LazyScheduleFree.step's z and w), each operation rounded to the
    parameters' type as numpy's array operations with Python scalars."""
    cdef floating* v = <floating*> s.v
    cdef floating* zw = <floating*> s.sf_zw
    cdef floating vj, work, denom, d
    vj = v[idx] * <floating> s.beta_2
    work = g * g
    work = work * <floating> (1.0 - s.beta_2)
    vj = vj + work
    v[idx] = vj
    denom = vj / <floating> s.sf_bias_correction2
    denom = <floating> sqrt(denom)
    denom = denom + <floating> s.epsilon
    d = g / denom
    work = d * <floating> lr
    zw[2 * idx] = zw[2 * idx] - work
    work = work * <floating> s.sf_inverse_product
    zw[2 * idx + 1] = zw[2 * idx + 1] + work


cdef Result _step(
    State* s,
    floating* theta,
    const floating* X_data,
    const index_t* X_indices,
    const index_t* X_indptr,
    const intp_t* rows,
    intp_t start,
    intp_t n_batch,
    bint weighted,
    double lr,
    long t,
) noexcept nogil:
    cdef Result out
    cdef const floating* Y = <const floating*> s.Y
    cdef floating* m = <floating*> s.m
    cdef floating* v = <floating*> s.v
    cdef floating* vmax = <floating*> s.vmax
    cdef double* previous = s.previous
    cdef double* grad = s.grad
    cdef unsigned char* seen = s.seen
    cdef intp_t* cols = s.cols
    cdef intp_t p = s.n_features
    cdef intp_t i, j, k, r, n_cols = 0
    cdef double z, loss, g, gb, weight_sum, loss_sum = 0.0, factor, inner = 0.0
    cdef double scale = s.scale, new_scale, step_size = 0.0, eps = 0.0
    cdef bint schedule_free = s.mode == _MODE_SCHEDULE_FREE
    cdef const floating* zw = <const floating*> s.sf_zw
    cdef floating bp = <floating> s.sf_beta_product
    cdef floating b = 0, y_j
    if s.fit_intercept:
        b = _sf_point(zw, p, bp) if schedule_free else theta[p]

    # The batch's weight: its weighted mean loss's gradient is
    # s_i / sum(s) * loss'(z_i) (Objective.output_gradient).
    # (Sums over the batch's rows as numpy's, pairwise.)
    if weighted:
        for i in range(n_batch):
            s.per_row[i] = s.sw[rows[i] if rows != NULL else start + i]
        weight_sum = _pairwise_sum(s.per_row, n_batch)
    else:
        weight_sum = <double> n_batch
        factor = <floating> (1.0 / weight_sum)
    # Per row: the forward product, the loss and its gradient, and the
    # gradient's scatter into the row's columns (grad is zero outside the
    # columns touched: cleared at the end of each step, or kept as the
    # previous gradient). The columns' list is kept without a branch: each
    # column is written, and counted the first time.
    for i in range(min(_AHEAD, n_batch)):
        _prefetch_row(X_data, X_indices, X_indptr, rows[i] if rows != NULL else start + i)
    for i in range(n_batch):
        r = rows[i] if rows != NULL else start + i
        if i + _AHEAD < n_batch:
            _prefetch_row(
                X_data, X_indices, X_indptr,
                rows[i + _AHEAD] if rows != NULL else start + i + _AHEAD,
            )
        z = 0.0
        if schedule_free:  # y from z and w (theta holds the epoch's start)
            for k in range(X_indptr[r], X_indptr[r + 1]):
                z += X_data[k] * _sf_point(zw, X_indices[k], bp)
        else:
            for k in range(X_indptr[r], X_indptr[r + 1]):
                z += X_data[k] * theta[X_indices[k]]
        # Rounded to the parameters' type as numpy's raw prediction.
        z = <floating> z
        if scale != 1.0:
            z = <floating> (z * scale)
        if s.fit_intercept:
            z = <floating> (z + b)
        _loss_gradient(s.loss, s.loss_param, Y[r], z, s.log_tiny, &loss, &g)
        if weighted:
            loss_sum += s.sw[r] * <floating> loss
            g = <floating> (<floating> g * (s.sw[r] / weight_sum))
        else:
            loss_sum += <floating> loss
            g = <floating> (<floating> g * factor)
        s.per_row[i] = g
        for k in range(X_indptr[r], X_indptr[r + 1]):
            j = X_indices[k]
            grad[j] += X_data[k] * g
            cols[n_cols] = j
            n_cols += 1 - seen[j]
            seen[j] = 1
    gb = <floating> _pairwise_sum(s.per_row, n_batch)

    # Plain SGD: the l2 shrinkage as a global scale.
    if s.mode == _MODE_EXACT and s.l2 != 0:
        new_scale = scale * (1.0 - lr * s.l2)
        if not new_scale >= _MIN_SCALE:
            for j in range(p):
                theta[j] = <floating> (theta[j] * new_scale)
            new_scale = 1.0
        scale = new_scale
        s.scale = scale
    else:
        scale = 1.0
    if s.mode == _MODE_LAZY:
        _adam_scalars(lr, s.beta_1, s.beta_2, s.epsilon, t, &step_size, &eps)

    # One pass over the batch's columns, then the intercept: the gradient in
    # the parameters' type (divided by the global scale), its product with
    # the previous step's (Pflug's statistic), and the update.
    for i in range(n_cols + (1 if s.fit_intercept else 0)):
        if i < n_cols:
            j = cols[i]
            g = <floating> grad[j]
            if scale != 1.0:
                g = <floating> (g / scale)
            seen[j] = 0
            if previous != NULL:
                grad[j] = g
                inner += previous[j] * g
        else:
            j = p
            g = gb
            if previous != NULL:
                inner += s.previous_intercept * g
        if s.mode == _MODE_EXACT:
            theta[j] = theta[j] - <floating> (lr * g)
            continue
        if i < n_cols:
            if i + 16 < n_cols:
                k = cols[i + 16]
                if schedule_free:  # no m, no theta: z and w
                    NNOPT_PREFETCH(&zw[2 * k])
                else:
                    NNOPT_PREFETCH(&m[k])
                    NNOPT_PREFETCH(&theta[k])
                NNOPT_PREFETCH(&v[k])
                if s.penalty_weight != NULL:
                    NNOPT_PREFETCH(&s.penalty_weight[k])
            if s.penalty_weight != NULL:
                y_j = _sf_point(zw, j, bp) if schedule_free else theta[j]
                g = <floating> (g + s.penalty_weight[j] * y_j)
        if schedule_free:
            _sf_update(s, j, <floating> g, lr)
            continue
        _adam_coordinate(
            theta, m, v, vmax, j, g, s.beta_1, s.beta_2, s.amsgrad, eps, step_size
        )

    if previous != NULL:
        # This gradient is the next step's previous one.
        for i in range(s.n_previous):
            previous[s.previous_cols[i]] = 0.0
        s.grad, s.previous = previous, grad
        s.cols, s.previous_cols = s.previous_cols, cols
        s.n_previous = n_cols
        s.previous_intercept = gb
    else:
        for i in range(n_cols):
            grad[cols[i]] = 0.0
    out.loss = loss_sum
    out.weight = weight_sum
    out.inner = inner
    return out


cdef Result _step_multi(
    State* s,
    floating* theta,
    const floating* X_data,
    const index_t* X_indices,
    const index_t* X_indptr,
    const intp_t* rows,
    intp_t start,
    intp_t n_batch,
    bint weighted,
    double lr,
    long t,
) noexcept nogil:
    """:func:`_step` for k > 1 outputs, as numpy does it: the softmax for
    log_loss, independent columns for the other losses; coef (k, p) row-major,
    so coefficient (c, j) is at ``c * p + j`` (and its gradient, state, and
    previous gradient too). Y is column-major, (n, k)."""
    cdef Result out
    cdef const floating* Y = <const floating*> s.Y
    cdef floating* m = <floating*> s.m
    cdef floating* v = <floating*> s.v
    cdef floating* vmax = <floating*> s.vmax
    cdef double* previous = s.previous
    cdef double* grad = s.grad
    cdef double* G = s.per_row
    cdef double* z = s.z
    cdef unsigned char* seen = s.seen
    cdef intp_t* cols = s.cols
    cdef intp_t p = s.n_features, n_out = s.n_outputs, n_rows
    cdef intp_t i, j, k, r, c, idx, n_cols = 0
    cdef double x, loss, row_loss, g, weight_sum, loss_sum = 0.0, factor, inner = 0.0
    cdef double scale = s.scale, new_scale, step_size = 0.0, eps = 0.0
    cdef double gb
    cdef bint schedule_free = s.mode == _MODE_SCHEDULE_FREE
    cdef const floating* zw = <const floating*> s.sf_zw
    cdef floating bp = <floating> s.sf_beta_product
    cdef floating y_j

    n_rows = s.n_rows
    if weighted:
        for i in range(n_batch):
            G[i] = s.sw[rows[i] if rows != NULL else start + i]
        weight_sum = _pairwise_sum(G, n_batch)
    else:
        weight_sum = <double> n_batch
        factor = <floating> (1.0 / weight_sum)
    for i in range(n_batch):
        r = rows[i] if rows != NULL else start + i
        # The raw predictions, as scipy's product: per output, over the row.
        for c in range(n_out):
            z[c] = 0.0
        for k in range(X_indptr[r], X_indptr[r + 1]):
            j = X_indices[k]
            x = X_data[k]
            if schedule_free:  # y from z and w (theta holds the epoch's start)
                for c in range(n_out):
                    z[c] += x * _sf_point(zw, c * p + j, bp)
            else:
                for c in range(n_out):
                    z[c] += x * theta[c * p + j]
        for c in range(n_out):
            z[c] = <floating> z[c]
            if scale != 1.0:
                z[c] = <floating> (z[c] * scale)
            if s.fit_intercept:
                idx = n_out * p + c
                y_j = _sf_point(zw, idx, bp) if schedule_free else theta[idx]
                z[c] = <floating> (z[c] + y_j)
        if s.labels != NULL:
            row_loss = _label_outputs_gradient(
                s.loss, s.loss_param, s.log_tiny, z, n_out, s.labels[r], s.label_low,
                &G[i * n_out], y_j,
            )
        else:
            row_loss = _outputs_gradient(
                s.loss, s.loss_param, s.log_tiny, z, n_out, Y, r, n_rows, &G[i * n_out]
            )
        if weighted:
            loss_sum += s.sw[r] * <floating> row_loss
            factor = s.sw[r] / weight_sum
        else:
            loss_sum += <floating> row_loss
        for c in range(n_out):
            G[i * n_out + c] = <floating> (G[i * n_out + c] * factor)
        for k in range(X_indptr[r], X_indptr[r + 1]):
            j = X_indices[k]
            x = X_data[k]
            for c in range(n_out):
                grad[c * p + j] += x * G[i * n_out + c]
            cols[n_cols] = j
            n_cols += 1 - seen[j]
            seen[j] = 1

    if s.mode == _MODE_EXACT and s.l2 != 0:
        new_scale = scale * (1.0 - lr * s.l2)
        if not new_scale >= _MIN_SCALE:
            for j in range(n_out * p):
                theta[j] = <floating> (theta[j] * new_scale)
            new_scale = 1.0
        scale = new_scale
        s.scale = scale
    else:
        scale = 1.0
    if s.mode == _MODE_LAZY:
        _adam_scalars(lr, s.beta_1, s.beta_2, s.epsilon, t, &step_size, &eps)

    # The batch's columns, each output's coefficient, then the intercepts
    # (their gradient: the column sums of G, in row order as numpy's).
    for i in range(n_cols + (1 if s.fit_intercept else 0)):
        for c in range(n_out):
            if i < n_cols:
                j = cols[i]
                idx = c * p + j
                g = <floating> grad[idx]
                if scale != 1.0:
                    g = <floating> (g / scale)
                if previous != NULL:
                    grad[idx] = g
                    inner += previous[idx] * g
            else:
                idx = n_out * p + c
                gb = G[c]
                for k in range(1, n_batch):
                    gb += G[k * n_out + c]
                g = <floating> gb
                if previous != NULL:
                    inner += previous[idx] * g
                    previous[idx] = g
            if s.mode == _MODE_EXACT:
                theta[idx] = theta[idx] - <floating> (lr * g)
                continue
            if i < n_cols and s.penalty_weight != NULL:
                y_j = _sf_point(zw, idx, bp) if schedule_free else theta[idx]
                g = <floating> (g + s.penalty_weight[j] * y_j)
            if schedule_free:
                _sf_update(s, idx, <floating> g, lr)
                continue
            _adam_coordinate(
                theta, m, v, vmax, idx, g, s.beta_1, s.beta_2, s.amsgrad, eps, step_size
            )
        if i < n_cols:
            seen[cols[i]] = 0

    if previous != NULL:
        for i in range(s.n_previous):
            for c in range(n_out):
                previous[c * p + s.previous_cols[i]] = 0.0
        # (The intercepts' entries sit past the coefficients: swapped along.)
        for c in range(n_out):
            grad[n_out * p + c] = previous[n_out * p + c]
        s.grad, s.previous = previous, grad
        s.cols, s.previous_cols = s.previous_cols, cols
        s.n_previous = n_cols
    else:
        for i in range(n_cols):
            for c in range(n_out):
                grad[c * p + cols[i]] = 0.0
    out.loss = loss_sum
    out.weight = weight_sum
    out.inner = inner
    return out


cdef struct Averaging:
    # Schedule-Free AdamW's step weights (ScheduleFreeAdamW._coefficients)
    # and LazyScheduleFree's product, carried from step to step.
    long warmup_steps
    double r
    double weight_lr_power
    double lr_max
    double weight_sum
    double product
    double min_product


cdef void _run_epoch(
    State* s,
    floating* theta,
    const floating* X_data,
    const index_t* X_indices,
    const index_t* X_indptr,
    const intp_t* order,
    const intp_t* starts,
    const intp_t* stops,
    const double* rates,
    intp_t n_steps,
    bint weighted,
    long t0,
    Averaging* a,
    double* losses,
    double* weights,
    double* inners,
) noexcept nogil:
    """The steps of :meth:`SparseKernel.step` on batches
    ``order[starts[i]:stops[i]]`` (rows ``starts[i]:stops[i]`` if ``order``
    is NULL) at step sizes ``rates[i]``, step ``t0 + i + 1``. Schedule-free:
    each step's warmed-up rate and weight :math:`c_t` as
    ``ScheduleFreeAdamW._coefficients``, then the product's advance, restart
    and fold as ``LazyScheduleFree.after_step``."""
    cdef Result out
    cdef intp_t i, j, n_params
    cdef long t, k
    cdef double lr, ckp1 = 0.0, weight
    cdef floating* zw = <floating*> s.sf_zw
    cdef floating fold
    n_params = s.n_outputs * (s.n_features + (1 if s.fit_intercept else 0))
    for i in range(n_steps):
        t = t0 + i + 1
        lr = rates[i]
        if s.mode == _MODE_SCHEDULE_FREE:
            k = t - 1
            if k < a.warmup_steps:
                lr = lr * (<double> (k + 1) / <double> a.warmup_steps)
            if lr > a.lr_max:
                a.lr_max = lr
            weight = pow(<double> t, a.r) * pow(a.lr_max, a.weight_lr_power)
            a.weight_sum = a.weight_sum + weight
            ckp1 = weight / a.weight_sum if a.weight_sum != 0 else 0.0
            s.sf_bias_correction2 = 1.0 - pow(s.beta_2, <double> t)
            s.sf_beta_product = s.beta_1 * a.product
            s.sf_inverse_product = 1.0 / a.product
        if s.n_outputs > 1:
            out = _step_multi(
                s, theta, X_data, X_indices, X_indptr,
                &order[starts[i]] if order != NULL else NULL,
                starts[i], stops[i] - starts[i], weighted, lr, t,
            )
        else:
            out = _step(
                s, theta, X_data, X_indices, X_indptr,
                &order[starts[i]] if order != NULL else NULL,
                starts[i], stops[i] - starts[i], weighted, lr, t,
            )
        losses[i] = out.loss
        weights[i] = out.weight
        inners[i] = out.inner
        if s.mode == _MODE_SCHEDULE_FREE:
            if ckp1 >= 1.0:  # x = z: w = 0
                for j in range(n_params):
                    zw[2 * j + 1] = 0
                a.product = 1.0
            else:
                a.product = a.product * (1.0 - ckp1)
                if a.product < a.min_product:
                    fold = <floating> a.product
                    for j in range(n_params):
                        zw[2 * j + 1] = zw[2 * j + 1] * fold
                    a.product = 1.0


cdef void _sf_finish(
    floating* zw, floating* theta, floating* z, floating* x, intp_t n,
    double product, double beta,
) noexcept nogil:
    # x = w P + z, y = beta x + (1 - beta) z, then w = x - z (LazyScheduleFree.finish).
    cdef intp_t i
    cdef floating zi, xi, yi, work
    cdef floating p = <floating> product, b = <floating> beta, rest = <floating> (1.0 - beta)
    for i in range(n):
        zi = zw[2 * i]
        xi = zw[2 * i + 1] * p
        xi = xi + zi
        z[i] = zi
        x[i] = xi
        yi = xi * b
        work = zi * rest
        theta[i] = yi + work
        zw[2 * i + 1] = xi - zi


cdef class SparseKernel:
    """One output column's minibatch steps on CSR rows (see the module docstring).

    Parameters
    ----------
    X : CSR matrix of shape (n_samples, n_features)
        float32 or float64 data, int32 or int64 indices.
    y : ndarray of shape (n_samples,) or (n_samples, k), or OneHot
        Targets (the encoded ones the loss takes; k outputs: the softmax for
        log_loss, independent columns for the other losses); one-hot ones
        as :class:`~sklearn_nnopt._targets.OneHot` are read by their classes.
    sample_weight : ndarray of shape (n_samples,), float64
    theta : ndarray of shape (k * (n_features + fit_intercept),)
        The flat parameter buffer ``[coef.ravel(), intercept]`` (``coef``
        alone without an intercept), X's dtype; updated in place.
    fit_intercept : bool
    loss : int
        A value of ``LOSSES``.
    loss_param : float
        The loss's parameter (``delta``, ``epsilon``, ``quantile``), if any.
    mode : int
        ``MODE_EXACT`` (plain SGD), ``MODE_LAZY`` (Adam) or
        ``MODE_SCHEDULE_FREE`` (ScheduleFreeAdamW).
    l2 : float
        The l2 strength (MODE_EXACT; MODE_LAZY takes ``penalty_weight``).
    log_tiny : float
    beta_1, beta_2, epsilon : float
    amsgrad : bool
    m, v, vmax : ndarray shaped as theta, or None
        Adam's state (vmax: with amsgrad), updated in place
        (MODE_SCHEDULE_FREE: ``v`` alone, the second moment).
    penalty_weight : ndarray of shape (n_features,) or None
    track : bool
        Keep ``inner``, the inner product of the last two steps' gradients.
    batch_size : int
    sf_zw : ndarray of shape (theta.size, 2), or None
        MODE_SCHEDULE_FREE: each parameter's ``z`` and ``w``
        (:class:`~sklearn_nnopt._sparse.LazyScheduleFree`'s ``zw``), X's
        dtype, C-contiguous, updated in place.
    """

    cdef State s
    cdef object _refs
    cdef object _X_data, _X_indices, _X_indptr
    cdef const void* X_data
    cdef const void* X_indices
    cdef const void* X_indptr
    cdef bint double_data, wide_indices
    cdef intp_t batch_size

    def __init__(
        self, X, y, sample_weight, theta, fit_intercept, loss, loss_param, mode, l2,
        log_tiny, beta_1, beta_2, epsilon, amsgrad, m, v, vmax, penalty_weight,
        track, batch_size, sf_zw=None,
    ):
        dtype = theta.dtype
        if dtype not in (np.float32, np.float64) or X.dtype != dtype:
            raise TypeError("X and the parameters must both be float32 or float64.")
        if X.indices.dtype not in (np.int32, np.int64):
            raise TypeError("CSR indices must be int32 or int64.")
        if X.indptr.dtype != X.indices.dtype:
            raise TypeError("CSR indices and indptr must have one dtype.")
        n_features = X.shape[1]
        labels, label_low = class_indices(y)
        if labels is not None:
            n_outputs = y.shape[1]
            labels = np.ascontiguousarray(labels, dtype=np.intp)
            if labels.shape != (X.shape[0],):
                raise ValueError("y must have one row per row of X.")
            y = np.empty(0, dtype=dtype)  # not read
        else:
            y = np.asfortranarray(y, dtype=dtype)
            if y.ndim == 1:
                y = y[:, None]
            n_outputs = y.shape[1]
        n_params = n_outputs * (n_features + (1 if fit_intercept else 0))
        if theta.shape != (n_params,) or not theta.flags.c_contiguous:
            raise ValueError("theta must be the flat buffer [coef, intercept].")
        self.double_data = dtype == np.float64
        self.wide_indices = X.indices.dtype == np.int64
        self._X_data = np.ascontiguousarray(X.data)
        self._X_indices = np.ascontiguousarray(X.indices)
        self._X_indptr = np.ascontiguousarray(X.indptr)
        self.X_data = _address(self._X_data)
        self.X_indices = _address(self._X_indices)
        self.X_indptr = _address(self._X_indptr)
        y = y.ravel(order="F")
        if labels is None and y.shape[0] != X.shape[0] * n_outputs:
            raise ValueError("y must have one row per row of X.")
        sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
        for name, a in (
            ("m", m), ("v", v), ("vmax", vmax), ("theta", theta),
        ):
            if a is not None and (
                a.dtype != dtype or a.shape != theta.shape or not a.flags.c_contiguous
            ):
                raise ValueError(f"{name} must be shaped and typed as theta.")
        if sf_zw is not None and (
            sf_zw.dtype != dtype
            or sf_zw.shape != (n_params, 2)
            or not sf_zw.flags.c_contiguous
        ):
            raise ValueError("sf_zw must be (theta.size, 2), C-contiguous, typed as theta.")
        if penalty_weight is not None:
            penalty_weight = np.ascontiguousarray(penalty_weight, dtype=np.float64)
            if penalty_weight.shape != (n_features,):
                raise ValueError("penalty_weight must have one entry per feature.")
        n_work = n_outputs * (n_features + 1)  # coef, then one per intercept
        previous = np.zeros(n_work, dtype=np.float64) if track else None
        grad = np.zeros(n_work, dtype=np.float64)
        per_row = np.empty(max(int(batch_size), 1) * n_outputs, dtype=np.float64)
        z = np.empty(n_outputs, dtype=np.float64)
        seen = np.zeros(n_features, dtype=np.uint8)
        # One more than the distinct columns: the scatter writes a column
        # before it knows whether it is new.
        # A batch's distinct columns are at most its stored entries: at most
        # those of the batch_size fullest rows (a 20th of the features on
        # the text benchmark's 100,000; two lists of n_features + 1 were 3%
        # of its X).
        row_nnz = np.diff(self._X_indptr)
        fullest = min(max(int(batch_size), 1), len(row_nnz))
        most = 0
        if fullest:
            most = int(np.partition(row_nnz, len(row_nnz) - fullest)[-fullest:].sum())
        n_list = min(n_features, most) + 1
        cols = np.empty(n_list, dtype=np.intp)
        previous_cols = np.empty(n_list, dtype=np.intp)
        self._refs = (
            y, sample_weight, theta, m, v, vmax, penalty_weight, previous, grad, per_row, z,
            seen, cols, previous_cols, sf_zw, labels,
        )
        self.batch_size = batch_size
        self.s.Y = _address(y)
        self.s.labels = <const intp_t*> _address(labels)
        self.s.label_low = 0.0 if label_low is None else label_low
        self.s.sw = <const double*> _address(sample_weight)
        self.s.theta = _address(theta)
        self.s.n_features = n_features
        self.s.n_outputs = n_outputs
        self.s.n_rows = X.shape[0]
        self.s.fit_intercept = fit_intercept
        self.s.loss = loss
        self.s.loss_param = loss_param
        self.s.mode = mode
        self.s.l2 = l2
        self.s.scale = 1.0
        self.s.log_tiny = log_tiny
        self.s.beta_1 = beta_1
        self.s.beta_2 = beta_2
        self.s.epsilon = epsilon
        self.s.amsgrad = amsgrad
        self.s.m = _address(m)
        self.s.v = _address(v)
        self.s.vmax = _address(vmax)
        self.s.penalty_weight = <const double*> _address(penalty_weight)
        self.s.previous = <double*> _address(previous)
        self.s.previous_cols = <intp_t*> _address(previous_cols)
        self.s.n_previous = 0
        self.s.previous_intercept = 0.0
        self.s.grad = <double*> _address(grad)
        self.s.per_row = <double*> _address(per_row)
        self.s.z = <double*> _address(z)
        self.s.seen = <unsigned char*> _address(seen)
        self.s.cols = <intp_t*> _address(cols)
        self.s.sf_zw = _address(sf_zw)
        self.s.sf_bias_correction2 = 1.0
        self.s.sf_beta_product = 0.0
        self.s.sf_inverse_product = 1.0
        if mode == _MODE_SCHEDULE_FREE and (v is None or sf_zw is None):
            raise ValueError("Schedule-free steps need v and zw.")
        if mode == _MODE_LAZY and (m is None or v is None or (amsgrad and vmax is None)):
            raise ValueError("Adam's steps need its state arrays.")
        if not 0 <= loss < _N_LOSSES:
            raise ValueError(f"unknown loss code {loss}")
        if mode not in (_MODE_EXACT, _MODE_LAZY, _MODE_SCHEDULE_FREE):
            raise ValueError(f"unknown mode code {mode}")

    @property
    def scale(self):
        """The global scale of MODE_EXACT's coefficients (``W = scale * U``)."""
        return self.s.scale

    def fold(self):
        """Fold the global scale into the coefficients."""
        cdef intp_t j
        cdef double scale = self.s.scale
        if scale == 1.0:
            return
        if self.double_data:
            for j in range(self.s.n_features * self.s.n_outputs):
                (<double*> self.s.theta)[j] = (<double*> self.s.theta)[j] * scale
        else:
            for j in range(self.s.n_features * self.s.n_outputs):
                (<float*> self.s.theta)[j] = <float> ((<float*> self.s.theta)[j] * scale)
        self.s.scale = 1.0

    def step(
        self, rows, double lr, bint weighted, long t, double bias_correction2=1.0,
        double beta_product=0.0, double inverse_product=1.0,
    ):
        """One minibatch step on ``rows`` (a slice of step 1, or intp indices).

        ``t`` is the optimizer's step count after this step (Adam's bias
        corrections). MODE_SCHEDULE_FREE: ``lr`` is the warmed-up step,
        ``bias_correction2`` :math:`1 - \\beta_2^t`, ``beta_product`` and
        ``inverse_product`` :math:`\\beta_1 P` and :math:`1 / P`, ``P`` the
        product of :math:`1 - c_i` before this step. Returns
        ``(weighted loss sum, weight sum, inner)``.
        """
        self.s.sf_bias_correction2 = bias_correction2
        self.s.sf_beta_product = beta_product
        self.s.sf_inverse_product = inverse_product
        cdef const intp_t[::1] index
        cdef const intp_t* row_ptr = NULL
        cdef intp_t start = 0, n_batch
        cdef Result out
        if isinstance(rows, slice):
            start, stop, stride = rows.indices(2**62)
            if stride != 1:
                raise ValueError("a slice of rows must have step 1")
            n_batch = stop - start
        else:
            index = rows
            n_batch = index.shape[0]
            if n_batch:
                row_ptr = &index[0]
        if n_batch > self.batch_size:
            raise ValueError("more rows than the batch size")
        if n_batch == 0:
            return 0.0, 0.0, 0.0
        if self.s.n_outputs > 1:
            return self._multi(row_ptr, start, n_batch, weighted, lr, t)
        with nogil:
            if self.double_data:
                if self.wide_indices:
                    out = _step(
                        &self.s, <double*> self.s.theta, <const double*> self.X_data,
                        <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
                else:
                    out = _step(
                        &self.s, <double*> self.s.theta, <const double*> self.X_data,
                        <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
            else:
                if self.wide_indices:
                    out = _step(
                        &self.s, <float*> self.s.theta, <const float*> self.X_data,
                        <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
                else:
                    out = _step(
                        &self.s, <float*> self.s.theta, <const float*> self.X_data,
                        <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
        return out.loss, out.weight, out.inner

    cdef tuple _multi(
        self, const intp_t* row_ptr, intp_t start, intp_t n_batch, bint weighted,
        double lr, long t,
    ):
        cdef Result out
        with nogil:
            if self.double_data:
                if self.wide_indices:
                    out = _step_multi(
                        &self.s, <double*> self.s.theta, <const double*> self.X_data,
                        <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
                else:
                    out = _step_multi(
                        &self.s, <double*> self.s.theta, <const double*> self.X_data,
                        <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
            else:
                if self.wide_indices:
                    out = _step_multi(
                        &self.s, <float*> self.s.theta, <const float*> self.X_data,
                        <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
                else:
                    out = _step_multi(
                        &self.s, <float*> self.s.theta, <const float*> self.X_data,
                        <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                        row_ptr, start, n_batch, weighted, lr, t,
                    )
        return out.loss, out.weight, out.inner

    def run(
        self, order, starts, stops, rates, bint weighted, long t0, losses, weights,
        inners, long warmup_steps=0, double r=0.0, double weight_lr_power=2.0,
        double lr_max=-1.0, double weight_sum=0.0, double product=1.0,
        double min_product=0.0,
    ):
        """:meth:`step` on many batches in one call, without the GIL.

        Batch ``i`` is ``order[starts[i]:stops[i]]`` (intp; ``order`` None:
        rows ``starts[i]:stops[i]``), at step size ``rates[i]`` and step
        count ``t0 + i + 1``; its weighted loss sum, weight sum and Pflug
        inner product go to ``losses[i]``, ``weights[i]``, ``inners[i]``
        (float64 arrays). MODE_SCHEDULE_FREE: ``rates`` are before warmup;
        ``warmup_steps``, ``r``, ``weight_lr_power`` are the optimizer's,
        ``lr_max``, ``weight_sum`` its state before the epoch, ``product``
        LazyScheduleFree's, folded below ``min_product``. Returns
        ``(lr_max, weight_sum, product)`` after the epoch.
        """
        cdef const intp_t[::1] order_view
        cdef const intp_t* order_ptr = NULL
        cdef const intp_t[::1] starts_view = starts
        cdef const intp_t[::1] stops_view = stops
        cdef const double[::1] rates_view = rates
        cdef double[::1] losses_view = losses
        cdef double[::1] weights_view = weights
        cdef double[::1] inners_view = inners
        cdef intp_t i, n_steps = rates_view.shape[0]
        cdef Averaging a
        if not (
            starts_view.shape[0] == stops_view.shape[0] == n_steps
            and losses_view.shape[0] >= n_steps
            and weights_view.shape[0] >= n_steps
            and inners_view.shape[0] >= n_steps
        ):
            raise ValueError("one start, stop, rate and output per step")
        cdef intp_t limit = self.s.n_rows
        if order is not None:
            order_view = order
            limit = order_view.shape[0]
            if limit:
                order_ptr = &order_view[0]
        for i in range(n_steps):
            if not (
                0 <= starts_view[i] < stops_view[i] <= limit
                and stops_view[i] - starts_view[i] <= self.batch_size
            ):
                raise ValueError(f"batch {i} is empty, out of range or too large")
        if n_steps == 0:
            return lr_max, weight_sum, product
        if self.s.mode == _MODE_SCHEDULE_FREE and warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0")
        a.warmup_steps = warmup_steps
        a.r = r
        a.weight_lr_power = weight_lr_power
        a.lr_max = lr_max
        a.weight_sum = weight_sum
        a.product = product
        a.min_product = min_product
        with nogil:
            if self.double_data:
                if self.wide_indices:
                    _run_epoch(
                        &self.s, <double*> self.s.theta, <const double*> self.X_data,
                        <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                        order_ptr, &starts_view[0], &stops_view[0], &rates_view[0],
                        n_steps, weighted, t0, &a, &losses_view[0], &weights_view[0],
                        &inners_view[0],
                    )
                else:
                    _run_epoch(
                        &self.s, <double*> self.s.theta, <const double*> self.X_data,
                        <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                        order_ptr, &starts_view[0], &stops_view[0], &rates_view[0],
                        n_steps, weighted, t0, &a, &losses_view[0], &weights_view[0],
                        &inners_view[0],
                    )
            else:
                if self.wide_indices:
                    _run_epoch(
                        &self.s, <float*> self.s.theta, <const float*> self.X_data,
                        <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                        order_ptr, &starts_view[0], &stops_view[0], &rates_view[0],
                        n_steps, weighted, t0, &a, &losses_view[0], &weights_view[0],
                        &inners_view[0],
                    )
                else:
                    _run_epoch(
                        &self.s, <float*> self.s.theta, <const float*> self.X_data,
                        <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                        order_ptr, &starts_view[0], &stops_view[0], &rates_view[0],
                        n_steps, weighted, t0, &a, &losses_view[0], &weights_view[0],
                        &inners_view[0],
                    )
        return a.lr_max, a.weight_sum, a.product

    def finish_schedule_free(self, z, x, double product, double beta):
        """LazyScheduleFree.finish in one pass (MODE_SCHEDULE_FREE): ``z`` and
        ``x`` (the optimizer's buffers, shaped and typed as theta) and theta
        (:math:`y`) from ``zw`` at the product ``product``; then ``w = x - z``
        for a product of 1. Each operation rounded as numpy's."""
        if self.s.mode != _MODE_SCHEDULE_FREE:
            raise ValueError("not a schedule-free kernel")
        n = self.s.n_outputs * (self.s.n_features + (1 if self.s.fit_intercept else 0))
        for name, a in (("z", z), ("x", x)):
            if a.dtype != (np.float64 if self.double_data else np.float32) or a.shape != (n,) or not a.flags.c_contiguous:
                raise ValueError(f"{name} must be shaped and typed as theta.")
        if self.double_data:
            _sf_finish(<double*> self.s.sf_zw, <double*> self.s.theta, <double*> _address(z), <double*> _address(x), n, product, beta)
        else:
            _sf_finish(<float*> self.s.sf_zw, <float*> self.s.theta, <float*> _address(z), <float*> _address(x), n, product, beta)


def column_moments(
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    intp_t n_features,
    const double[::1] weights,
):
    """Weighted column means and variances of a CSR matrix with canonical
    indices (no duplicate entries), the formula of scikit-learn's
    ``mean_variance_axis``: the mean over every row, then the weighted squared
    deviations of the stored entries plus those of each column's implicit
    zeros, ``(total - w_j) m_j^2`` (``w_j`` the weight of the rows that store
    column ``j``). Two passes over the non-zeros, sums in double. A non-finite
    entry, even in a row of weight 0, makes its column's mean NaN or infinite.

    Returns
    -------
    mean, var : ndarray of shape (n_features,), float64
    """
    cdef intp_t n = X_indptr.shape[0] - 1, i, k, j
    if weights.shape[0] != n:
        raise ValueError("one weight per row of X")
    # Each column's two sums side by side: one cache line per entry read.
    sums = np.zeros((n_features, 2))
    cdef double[:, ::1] A = sums
    cdef double total = 0.0, w, d, m
    with nogil:
        for i in range(n):
            w = weights[i]
            total += w
            for k in range(X_indptr[i], X_indptr[i + 1]):
                j = X_indices[k]
                A[j, 0] += w * X_data[k]
                A[j, 1] += w
        if total > 0:
            for j in range(n_features):
                A[j, 0] /= total
                # The implicit zeros' deviations, (total - w_j) m_j^2.
                A[j, 1] = (total - A[j, 1]) * (A[j, 0] * A[j, 0])
            for i in range(n):
                w = weights[i]
                for k in range(X_indptr[i], X_indptr[i + 1]):
                    j = X_indices[k]
                    d = X_data[k] - A[j, 0]
                    A[j, 1] += w * (d * d)
            for j in range(n_features):
                A[j, 1] /= total
    return sums[:, 0].copy(), sums[:, 1].copy()

