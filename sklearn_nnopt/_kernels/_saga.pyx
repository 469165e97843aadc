# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
r"""Compiled just-in-time SAGA/SAG steps on the rows of a CSR matrix.

:class:`SagaKernel` runs many minibatch steps of
:class:`sklearn_nnopt._finite_sum.FiniteSumStepper`'s lazy path in one call
(a whole epoch: no Python between the batches, the GIL released), with the
iterates of its numpy ``_lazy_step``, the reference it is tested against.
Per batch :math:`B` of :math:`b` rows, with the table :math:`a_i`, its mean
:math:`\bar g` (float64), the global l2 scale :math:`W = s U` and the running
sum :math:`C = \sum_t \eta_t / s_t` (``pending``):

1. each column of the batch, the first time it is met, catches up the steps
   it missed: :math:`U_j \leftarrow U_j - \bar g_j (C - C_j)`;
2. per row, :math:`z_i = s\, x_i U + b`, the loss and its derivative
   :math:`d_i` (times :math:`c_i = n s_i / \sum s` with weights),
   :math:`\delta_i = d_i - a_i`, :math:`a_i \leftarrow d_i`, and the scatter
   :math:`\Delta_j \mathrel{+}= x_{ij} \delta_i` while the row is in cache;
3. :math:`s \leftarrow s (1 - \eta \alpha_2)`, :math:`C \leftarrow C + \eta / s`,
   and per column of the batch
   :math:`U_j \leftarrow U_j - \eta (\beta \Delta_j + \bar g_j) / s`,
   :math:`\bar g_j \leftarrow \bar g_j + \Delta_j / n`, :math:`C_j \leftarrow C`;
   the intercept likewise (no scale).

The loss derivative is inline for the smooth losses of
:mod:`sklearn_nnopt.losses` listed in ``LOSSES`` (their formulas as the numpy
code and ``_fused_loss`` compute them, in the parameters' precision); any
other loss is called back, once per batch with the GIL, as
``callback(rows, raw) -> (loss, gradient)`` on the batch's raw predictions.

Floating point: float32 or float64 data and parameters (the fused type
``floating``), int32 or int64 CSR indices; the forward product, the scatter,
the mean, ``pending`` and ``caught_up`` in double, the raw predictions, the
table and the steps rounded to the parameters' type where numpy stores them.
"""

from libc.math cimport fabs, log, log1p
from libc.stdint cimport int32_t, int64_t

import numpy as np

from ._common cimport (
    NNOPT_PREFETCH,
    _address,
    _exp,
    _prefetch_row,
    floating,
    index_t,
    intp_t,
)

#: The inline losses, by the names of losses.py (exactly these classes).
LOSSES = {
    "log_loss": 0,
    "squared_error": 1,
    "huber": 2,
    "squared_epsilon_insensitive": 3,
    "poisson": 4,
    "squared_hinge": 5,
    "modified_huber": 6,
}
#: The code of a loss computed by the Python callback.
CALLBACK = -1

cdef enum:
    _LOG = 0
    _SQUARED = 1
    _HUBER = 2
    _SQUARED_EPSILON = 3
    _POISSON = 4
    _SQUARED_HINGE = 5
    _MODIFIED_HUBER = 6
    _N_LOSSES = 7

# As _sparse._MIN_SCALE: below it the global scale is folded into the coefficients.
MIN_SCALE = 1e-6
cdef double _MIN_SCALE = 1e-6

# Rows ahead whose non-zeros are prefetched (shuffled rows are scattered over X).
cdef intp_t _AHEAD = 4


cdef struct State:
    const void* Y           # targets, column-major (n_rows, k), parameters' dtype
    intp_t n_rows           # rows of X (the table's)
    const double* sw        # sample weights (float64)
    void* table             # (n_rows, k) row-major, parameters' dtype
    double* mean            # the table's mean: coef part (k * p), row-major
    double* mean_b          # and the intercepts' (k)
    double* caught_up       # C when each column last moved (p)
    intp_t p                # features
    intp_t k                # outputs
    bint fit_intercept
    int loss                # a LOSSES value, or CALLBACK
    double loss_param       # huber's delta, the epsilon
    double log_tiny
    double l2
    double row_factor       # n / sum(s): c_i = row_factor * s_i
    double n_train
    bint sag                # beta = 1 / n (SAG) instead of 1 / b (SAGA)
    double scale            # W = scale * U
    double pending          # C
    # Work space.
    double* change          # the batch's X^T delta (k * p), zero off its columns
    double* change_b        # and its column sums (k)
    unsigned char* seen     # the batch's columns (p)
    intp_t* cols            # their list (p + 1)
    intp_t n_cols
    double* raw             # per row of the batch: raw predictions (b * k)
    double* grad            # the loss's derivative (b * k)
    double* row_loss        # the loss (b)
    double* delta           # one row's change of the table (k)


cdef void _fold(State* s, floating* theta) noexcept nogil:
    """Apply every column's missed steps and the scale (``FiniteSumStepper._fold``)."""
    cdef intp_t j, c, idx
    cdef double lag
    if s.pending != 0:
        for j in range(s.p):
            lag = s.pending - s.caught_up[j]
            for c in range(s.k):
                idx = c * s.p + j
                theta[idx] = <floating> (theta[idx] - s.mean[idx] * lag)
    if s.scale != 1.0:
        for idx in range(s.k * s.p):
            theta[idx] = <floating> (theta[idx] * s.scale)
    for j in range(s.p):
        s.caught_up[j] = 0.0
    s.scale = 1.0
    s.pending = 0.0


cdef inline void _forward(
    State* s, floating* theta, const floating* X_data, const index_t* X_indices,
    const index_t* X_indptr, intp_t r, double* z,
) noexcept nogil:
    """Row ``r``'s raw predictions into ``z`` (rounded to the parameters' type),
    catching up each column of the batch the first time it is met."""
    cdef intp_t q, j, c, p = s.p, k = s.k
    cdef double x, lag
    for c in range(k):
        z[c] = 0.0
    for q in range(X_indptr[r], X_indptr[r + 1]):
        j = X_indices[q]
        if not s.seen[j]:
            s.seen[j] = 1
            s.cols[s.n_cols] = j
            s.n_cols += 1
            if s.pending != 0:
                lag = s.pending - s.caught_up[j]
                for c in range(k):
                    theta[c * p + j] = <floating> (
                        theta[c * p + j] - s.mean[c * p + j] * lag
                    )
        x = X_data[q]
        for c in range(k):
            z[c] += x * theta[c * p + j]
    for c in range(k):
        z[c] = <floating> z[c]
        if s.scale != 1.0:
            z[c] = <floating> (z[c] * s.scale)
        if s.fit_intercept:
            z[c] = <floating> (z[c] + theta[k * p + c])


cdef inline void _loss_row(
    State* s, const floating* Y, intp_t r, const double* z, double* g, double* out,
) noexcept nogil:
    """Row ``r``'s loss (summed over outputs) into ``out`` and its derivative in
    each raw prediction into ``g``: the formulas of losses.py / _fused_loss in
    the parameters' precision (Y's type)."""
    cdef intp_t c, k = s.k, n = s.n_rows
    cdef floating zc, t, e, value, total, dot, z_max, d, slack, m, r_, a, clipped
    cdef floating zero = 0, one = 1, two = 2, four = 4, half = 0.5
    cdef floating log_tiny = <floating> s.log_tiny
    cdef floating param = <floating> s.loss_param
    cdef floating half_param = <floating> (0.5 * s.loss_param)
    cdef floating loss = 0
    if s.loss == _LOG and k == 1:
        # softplus(z) - y z; gradient expit(max(z, log_tiny)) - y
        zc = <floating> z[0]
        t = Y[r]
        e = _exp(-(zc if zc >= zero else -zc))
        loss = (<floating> log1p(e) + (zc if zc > zero else zero)) - t * zc
        if zc < log_tiny:
            value = one / (one + _exp(-log_tiny))
        elif zc >= zero:
            value = one / (one + e)
        else:
            value = e / (one + e)
        g[0] = value - t
    elif s.loss == _LOG:
        # The softmax: exp(max(z - z_max, log_tiny)) / total - y;
        # log(total) + z_max - y.z
        z_max = <floating> z[0]
        for c in range(1, k):
            if <floating> z[c] > z_max:
                z_max = <floating> z[c]
        total = 0
        dot = 0
        for c in range(k):
            d = <floating> z[c] - z_max
            d = _exp(d if d >= log_tiny else log_tiny)
            g[c] = d
            total = d if c == 0 else total + d
            t = Y[r + c * n]
            dot = t * <floating> z[c] if c == 0 else dot + t * <floating> z[c]
        for c in range(k):
            g[c] = <floating> (<floating> g[c] / total) - Y[r + c * n]
        loss = (<floating> log(total) + z_max) - dot
    else:
        for c in range(k):
            zc = <floating> z[c]
            t = Y[r + c * n]
            if s.loss == _SQUARED:
                r_ = zc - t
                g[c] = r_
                value = r_ * r_
            elif s.loss == _HUBER:
                r_ = t - zc
                a = r_ if r_ >= zero else -r_
                value = (half * r_) * r_ if a <= param else param * (a - half_param)
                clipped = r_ if r_ < param else param
                clipped = clipped if clipped > -param else -param
                g[c] = -clipped
            elif s.loss == _SQUARED_EPSILON:
                r_ = t - zc
                a = (r_ if r_ >= zero else -r_) - param
                a = a if a > zero else zero
                value = a * a
                g[c] = -((two * ((r_ > zero) - (r_ < zero))) * a)
            elif s.loss == _POISSON:
                e = _exp(zc)
                g[c] = e - t
                value = e - t * zc
            elif s.loss == _SQUARED_HINGE:
                slack = one - t * zc
                slack = slack if slack > zero else zero
                g[c] = (-two * slack) * t
                value = slack * slack
            else:  # _MODIFIED_HUBER
                m = t * zc
                slack = one - m
                slack = slack if slack > zero else zero
                if m < -one:
                    value = -four * m
                    g[c] = -four * t
                else:
                    value = slack * slack
                    g[c] = (-two * slack) * t
            loss = value if c == 0 else loss + value
        if s.loss == _SQUARED:
            loss = loss * half
    out[0] = loss


cdef inline void _backward(
    State* s, floating* table, const floating* X_data, const index_t* X_indices,
    const index_t* X_indptr, intp_t r, const double* g, bint weighted,
) noexcept nogil:
    """Row ``r``'s change of the table, scattered into the batch's sums."""
    cdef intp_t q, j, c, p = s.p, k = s.k
    cdef double x, factor = s.sw[r] * s.row_factor if weighted else 1.0
    cdef floating d
    cdef double* delta = s.delta
    for c in range(k):
        d = <floating> (g[c] * factor) if weighted else <floating> g[c]
        delta[c] = <floating> (d - table[r * k + c])
        table[r * k + c] = d
        s.change_b[c] += delta[c]
    if k == 1:
        for q in range(X_indptr[r], X_indptr[r + 1]):
            s.change[X_indices[q]] += X_data[q] * delta[0]
    else:
        for q in range(X_indptr[r], X_indptr[r + 1]):
            j = X_indices[q]
            x = X_data[q]
            for c in range(k):
                s.change[c * p + j] += x * delta[c]


cdef void _update(
    State* s, floating* theta, intp_t n_batch, double lr,
) noexcept nogil:
    """The step on the batch's columns and the intercepts; clears the work space."""
    cdef intp_t i, j, c, idx, p = s.p, k = s.k
    cdef double beta = 1.0 / (s.n_train if s.sag else <double> n_batch)
    cdef double ch, g, n = s.n_train
    if s.l2 != 0:
        s.scale *= 1.0 - lr * s.l2
    s.pending += lr / s.scale
    for i in range(s.n_cols):
        j = s.cols[i]
        if i + 8 < s.n_cols:
            NNOPT_PREFETCH(&s.mean[s.cols[i + 8]])
            NNOPT_PREFETCH(&s.caught_up[s.cols[i + 8]])
        for c in range(k):
            idx = c * p + j
            ch = s.change[idx]
            s.change[idx] = 0.0
            g = beta * ch
            g += s.mean[idx]
            g /= s.scale
            s.mean[idx] += ch / n
            theta[idx] = theta[idx] - <floating> (lr * <floating> g)
        s.caught_up[j] = s.pending
        s.seen[j] = 0
    s.n_cols = 0
    if s.fit_intercept:
        for c in range(k):
            ch = s.change_b[c]
            g = beta * ch + s.mean_b[c]
            s.mean_b[c] += ch / n
            theta[k * p + c] = theta[k * p + c] - <floating> (lr * <floating> g)
    for c in range(k):
        s.change_b[c] = 0.0


cdef void _batch_inline(
    State* s, floating* theta, const floating* X_data, const index_t* X_indices,
    const index_t* X_indptr, const intp_t* rows, intp_t start, intp_t n_batch,
    bint weighted, double lr, double* loss_out, double* weight_out,
) noexcept nogil:
    """One batch with an inline loss: each row forward, loss and scatter in turn."""
    cdef const floating* Y = <const floating*> s.Y
    cdef floating* table = <floating*> s.table
    cdef intp_t i, r
    cdef double loss_sum = 0.0, weight_sum = 0.0, row_loss
    if s.scale < _MIN_SCALE:
        _fold(s, theta)
    for i in range(min(_AHEAD, n_batch)):
        _prefetch_row(X_data, X_indices, X_indptr, rows[i] if rows != NULL else start + i)
    for i in range(n_batch):
        r = rows[i] if rows != NULL else start + i
        if i + _AHEAD < n_batch:
            _prefetch_row(
                X_data, X_indices, X_indptr,
                rows[i + _AHEAD] if rows != NULL else start + i + _AHEAD,
            )
        _forward(s, theta, X_data, X_indices, X_indptr, r, s.raw)
        _loss_row(s, Y, r, s.raw, s.grad, &row_loss)
        if weighted:
            loss_sum += s.sw[r] * row_loss
            weight_sum += s.sw[r]
        else:
            loss_sum += row_loss
        _backward(s, table, X_data, X_indices, X_indptr, r, s.grad, weighted)
    _update(s, theta, n_batch, lr)
    loss_out[0] = loss_sum
    weight_out[0] = weight_sum if weighted else <double> n_batch


cdef int _run(
    State* s, floating* theta, const floating* X_data, const index_t* X_indices,
    const index_t* X_indptr, const intp_t* order, const intp_t* starts,
    const intp_t* stops, const double* lrs, intp_t n_steps, bint weighted,
    double* losses, double* weights, object callback, object dtype, object order_obj,
) except -1:
    """``n_steps`` batches: rows ``order[starts[t]:stops[t]]`` (or the range
    itself without ``order``), step sizes ``lrs``; per step the weighted loss
    sum and weight sum into ``losses`` and ``weights``."""
    cdef intp_t t, i, r, n_batch, start
    cdef const intp_t* rows
    cdef floating* table = <floating*> s.table
    cdef double[::1] raw_view, grad_view, loss_view
    cdef double loss_sum, weight_sum
    if callback is None:
        with nogil:
            for t in range(n_steps):
                rows = order + starts[t] if order != NULL else NULL
                _batch_inline(
                    s, theta, X_data, X_indices, X_indptr, rows, starts[t],
                    stops[t] - starts[t], weighted, lrs[t], &losses[t], &weights[t],
                )
        return 0
    for t in range(n_steps):
        start = starts[t]
        n_batch = stops[t] - start
        rows = order + start if order != NULL else NULL
        with nogil:
            if s.scale < _MIN_SCALE:
                _fold(s, theta)
            for i in range(n_batch):
                r = rows[i] if rows != NULL else start + i
                _forward(s, theta, X_data, X_indices, X_indptr, r, &s.raw[i * s.k])
        # The loss's own loss_gradient on the batch's raw predictions.
        raw_view = <double[:n_batch * s.k]> s.raw
        raw = np.asarray(raw_view).reshape(n_batch, s.k).astype(dtype, order="F")
        if order_obj is not None:
            batch_rows = order_obj[start:start + n_batch]
        else:
            batch_rows = np.arange(start, start + n_batch)
        row_loss, gradient = callback(batch_rows, raw)
        grad_view = <double[:n_batch * s.k]> s.grad
        loss_view = <double[:n_batch]> s.row_loss
        np.asarray(grad_view)[:] = np.asarray(gradient, dtype=np.float64).reshape(-1)
        np.asarray(loss_view)[:] = np.asarray(row_loss, dtype=np.float64).reshape(-1)
        loss_sum = weight_sum = 0.0
        with nogil:
            for i in range(n_batch):
                r = rows[i] if rows != NULL else start + i
                if weighted:
                    loss_sum += s.sw[r] * s.row_loss[i]
                    weight_sum += s.sw[r]
                else:
                    loss_sum += s.row_loss[i]
                _backward(
                    s, table, X_data, X_indices, X_indptr, r, &s.grad[i * s.k],
                    weighted,
                )
            _update(s, theta, n_batch, lrs[t])
        losses[t] = loss_sum
        weights[t] = weight_sum if weighted else <double> n_batch
    return 0


cdef class SagaKernel:
    """Just-in-time SAGA/SAG steps on CSR rows (see the module docstring).

    The arrays are shared with the caller and updated in place.

    Parameters
    ----------
    X : CSR matrix of shape (n_samples, n_features)
        float32 or float64 data, int32 or int64 indices (one dtype).
    Y : ndarray of shape (n_samples, k)
        Encoded targets, column-major, the parameters' dtype.
    sample_weight : ndarray of shape (n_samples,), float64
    theta : ndarray of shape (k * (n_features + fit_intercept),)
        The flat parameter buffer ``[coef.ravel(), intercept]``.
    table : ndarray of shape (n_samples, k)
        C-contiguous, the parameters' dtype.
    mean_coef : ndarray of shape (k, n_features), float64, C-contiguous
    mean_intercept : ndarray of shape (k,), float64 (unused without intercept)
    caught_up : ndarray of shape (n_features,), float64
    fit_intercept : bool
    loss : int
        A value of ``LOSSES``, or ``CALLBACK``.
    loss_param : float
        Huber's ``delta`` or the ``epsilon``, if any.
    log_tiny : float
    l2 : float
    row_factor : float
        ``n / sum(s)`` over the training rows.
    n_train : int
    sag : bool
        SAG's weight ``1 / n`` of the batch's change, instead of ``1 / b``.
    batch_size : int
        The most rows in one batch.
    """

    cdef State s
    cdef object _refs
    cdef const void* X_data
    cdef const void* X_indices
    cdef const void* X_indptr
    cdef bint double_data, wide_indices
    cdef intp_t batch_size
    cdef object dtype

    def __init__(
        self, X, Y, sample_weight, theta, table, mean_coef, mean_intercept, caught_up,
        fit_intercept, loss, loss_param, log_tiny, l2, row_factor, n_train, sag,
        batch_size,
    ):
        dtype = theta.dtype
        if dtype not in (np.float32, np.float64) or X.dtype != dtype:
            raise TypeError("X and the parameters must both be float32 or float64.")
        if X.indices.dtype not in (np.int32, np.int64):
            raise TypeError("CSR indices must be int32 or int64.")
        if X.indptr.dtype != X.indices.dtype:
            raise TypeError("CSR indices and indptr must have one dtype.")
        n_rows, p = X.shape
        k = table.shape[1]
        if Y.shape != (n_rows, k) or Y.dtype != dtype or not Y.flags.f_contiguous:
            raise ValueError("Y must be column-major, shaped as the table.")
        if table.shape != (n_rows, k) or table.dtype != dtype or not table.flags.c_contiguous:
            raise ValueError("table must be C-contiguous (n_samples, k), theta's dtype.")
        if theta.shape != (k * (p + (1 if fit_intercept else 0)),) or not theta.flags.c_contiguous:
            raise ValueError("theta must be the flat buffer [coef, intercept].")
        for name, a, shape in (
            ("mean_coef", mean_coef, (k, p)),
            ("caught_up", caught_up, (p,)),
            ("sample_weight", sample_weight, (n_rows,)),
        ) + ((("mean_intercept", mean_intercept, (k,)),) if fit_intercept else ()):
            if a.shape != shape or a.dtype != np.float64 or not a.flags.c_contiguous:
                raise ValueError(f"{name} must be C-contiguous float64 of shape {shape}.")
        if not (loss == CALLBACK or 0 <= loss < _N_LOSSES):
            raise ValueError(f"unknown loss code {loss}")
        self.dtype = dtype
        self.double_data = dtype == np.float64
        self.wide_indices = X.indices.dtype == np.int64
        X_data = np.ascontiguousarray(X.data)
        X_indices = np.ascontiguousarray(X.indices)
        X_indptr = np.ascontiguousarray(X.indptr)
        self.X_data = _address(X_data)
        self.X_indices = _address(X_indices)
        self.X_indptr = _address(X_indptr)
        b = max(int(batch_size), 1)
        change = np.zeros(k * p, dtype=np.float64)
        change_b = np.zeros(k, dtype=np.float64)
        seen = np.zeros(p, dtype=np.uint8)
        cols = np.empty(p + 1, dtype=np.intp)
        raw = np.empty(b * k, dtype=np.float64)
        grad = np.empty(b * k, dtype=np.float64)
        row_loss = np.empty(b, dtype=np.float64)
        delta = np.empty(k, dtype=np.float64)
        self._refs = (
            X_data, X_indices, X_indptr, Y, sample_weight, theta, table, mean_coef,
            mean_intercept, caught_up, change, change_b, seen, cols, raw, grad,
            row_loss, delta,
        )
        self.batch_size = b
        self.s.Y = _address(Y)
        self.s.n_rows = n_rows
        self.s.sw = <const double*> _address(sample_weight)
        self.s.table = _address(table)
        self.s.mean = <double*> _address(mean_coef)
        self.s.mean_b = <double*> _address(mean_intercept) if fit_intercept else NULL
        self.s.caught_up = <double*> _address(caught_up)
        self.s.p = p
        self.s.k = k
        self.s.fit_intercept = fit_intercept
        self.s.loss = loss
        self.s.loss_param = loss_param
        self.s.log_tiny = log_tiny
        self.s.l2 = l2
        self.s.row_factor = row_factor
        self.s.n_train = <double> n_train
        self.s.sag = sag
        self.s.scale = 1.0
        self.s.pending = 0.0
        self.s.change = <double*> _address(change)
        self.s.change_b = <double*> _address(change_b)
        self.s.seen = <unsigned char*> _address(seen)
        self.s.cols = <intp_t*> _address(cols)
        self.s.n_cols = 0
        self.s.raw = <double*> _address(raw)
        self.s.grad = <double*> _address(grad)
        self.s.row_loss = <double*> _address(row_loss)
        self.s.delta = <double*> _address(delta)

    @property
    def scale(self):
        """The global l2 scale: the coefficients are ``scale`` times theta's."""
        return self.s.scale

    @property
    def pending(self):
        """The sum of ``lr / scale`` over the steps since the last fold."""
        return self.s.pending

    def fold(self):
        """Apply every column's missed steps and the scale to the coefficients."""
        if self.double_data:
            _fold(&self.s, <double*> _address(self._refs[5]))
        else:
            _fold(&self.s, <float*> _address(self._refs[5]))

    def run(self, order, starts, stops, lrs, bint weighted, losses, weights, callback=None):
        """Run ``len(lrs)`` batches.

        Parameters
        ----------
        order : ndarray of intp or None
            The epoch's rows; None for ``0, 1, ...``.
        starts, stops : ndarray of intp
            Batch ``t`` is ``order[starts[t]:stops[t]]`` (at most ``batch_size``
            rows, at least one).
        lrs : ndarray of float64
            The step size of each batch.
        weighted : bool
            Weight the rows by ``sample_weight`` (False: equal weights).
        losses, weights : ndarray of float64
            Written: each batch's weighted loss sum and weight sum.
        callback : callable or None
            ``callback(rows, raw) -> (loss, gradient)`` for the ``CALLBACK``
            loss: the batch's per-row loss and its derivative in ``raw``
            (shape ``(len(rows), k)``).
        """
        cdef const intp_t[::1] order_v, starts_v = starts, stops_v = stops
        cdef const double[::1] lrs_v = lrs
        cdef double[::1] losses_v = losses, weights_v = weights
        cdef const intp_t* order_p = NULL
        cdef intp_t n_steps = lrs_v.shape[0], t, n_order = self.s.n_rows
        cdef bint double_data = self.double_data, wide = self.wide_indices
        if (
            starts_v.shape[0] != n_steps or stops_v.shape[0] != n_steps
            or losses_v.shape[0] < n_steps or weights_v.shape[0] < n_steps
        ):
            raise ValueError("one start, stop, step size, loss and weight per batch")
        if order is not None:
            order_v = order
            n_order = order_v.shape[0]
            if n_order:
                order_p = &order_v[0]
        for t in range(n_steps):
            if (
                not 0 < stops_v[t] - starts_v[t] <= self.batch_size
                or starts_v[t] < 0 or stops_v[t] > n_order
            ):
                raise ValueError("a batch is empty, too large, or outside the rows")
        if (self.s.loss == CALLBACK) != (callback is not None):
            raise ValueError("a callback is given exactly for the CALLBACK loss")
        if n_steps == 0:
            return
        theta = self._refs[5]
        if double_data and wide:
            _run(
                &self.s, <double*> _address(theta), <const double*> self.X_data,
                <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                order_p, &starts_v[0], &stops_v[0], &lrs_v[0], n_steps, weighted,
                &losses_v[0], &weights_v[0], callback, self.dtype, order,
            )
        elif double_data:
            _run(
                &self.s, <double*> _address(theta), <const double*> self.X_data,
                <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                order_p, &starts_v[0], &stops_v[0], &lrs_v[0], n_steps, weighted,
                &losses_v[0], &weights_v[0], callback, self.dtype, order,
            )
        elif wide:
            _run(
                &self.s, <float*> _address(theta), <const float*> self.X_data,
                <const int64_t*> self.X_indices, <const int64_t*> self.X_indptr,
                order_p, &starts_v[0], &stops_v[0], &lrs_v[0], n_steps, weighted,
                &losses_v[0], &weights_v[0], callback, self.dtype, order,
            )
        else:
            _run(
                &self.s, <float*> _address(theta), <const float*> self.X_data,
                <const int32_t*> self.X_indices, <const int32_t*> self.X_indptr,
                order_p, &starts_v[0], &stops_v[0], &lrs_v[0], n_steps, weighted,
                &losses_v[0], &weights_v[0], callback, self.dtype, order,
            )
