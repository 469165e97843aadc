# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
r"""Compiled minibatch steps on the rows of a dense, C-contiguous ``X``.

:class:`DenseKernel` runs the steps of :class:`sklearn_nnopt._steppers.DenseStepper`
(``Objective.batch``, then the optimizer's ``_update`` on the flat parameter
buffer) without the GIL and without a gathered copy of the batch's rows:

- the coefficients and intercepts in the user's units from the training
  coordinates (``Preconditioner.to_user``: :math:`W / s`, :math:`b - (W / s)
  m`);
- per row, read once while it is in cache: the raw predictions, the loss and
  its gradient (the softmax for ``log_loss`` with several outputs), weighted
  by :math:`s_i / \sum s`, and the gradient's scatter :math:`G_i x_i`;
- the gradient's penalty and preconditioning (``Objective.finish_gradient``:
  :math:`(dW + \alpha_2 W / s - db\, m^\top) / s`), Pflug's inner product with
  the previous step's gradient, and the update of every parameter: plain
  SGD, SGD with (Nesterov) momentum as ``torch.optim.SGD`` (``dampening=0``),
  or Adam/AMSGrad as ``torch.optim.Adam``.

:meth:`DenseKernel.step` runs one batch; :meth:`DenseKernel.run` an epoch of
them, so that a fit makes one Python call per epoch.

Floating point: float32 or float64 data and parameters (the fused type
``floating``); sums in double (four partial sums per product, so that the
additions pipeline), each value rounded to the parameters' type where numpy
stores an array, so that the iterates are numpy's up to the order of
summation (float64: about 1e-15 relative per step; float32: float32
rounding).

Cost per batch: one pass over its rows (the next rows are prefetched: a
shuffled batch's rows are scattered over ``X``) and two over the parameters.
"""

from libc.math cimport pow, sqrt
from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport dgemm, sgemm

import numpy as np

from .._targets import class_indices

from ._common cimport (
    NNOPT_PREFETCH,
    _adam_coordinate,
    _adam_scalars,
    _address,
    floating,
    intp_t,
)
from ._row_loss cimport (
    _N_LOSSES,
    _label_outputs_gradient,
    _loss_gradient,
    _outputs_gradient,
    _pairwise_sum,
)

# Optimizers (the Python wrapper maps the classes to these).
OPTIMIZER_SGD = 0
OPTIMIZER_ADAM = 1
OPTIMIZER_SCHEDULE_FREE = 2
cdef int _SGD = 0
cdef int _ADAM = 1
cdef int _SCHEDULE_FREE = 2

# Rows ahead that are prefetched.
cdef intp_t _AHEAD = 6


cdef struct State:
    const void* Y           # targets, column-major (n_rows, k), parameters' dtype
    intp_t n_rows
    const double* sw        # sample weights (float64), read when weighted
    void* theta             # flat [coef (k, p) row-major, intercept (k)]
    intp_t n_features
    intp_t n_outputs
    bint fit_intercept
    int loss
    double loss_param
    double log_tiny
    int optimizer
    double l2
    double momentum         # SGD: mu (0: plain SGD)
    bint nesterov
    double beta_1
    double beta_2
    double epsilon
    bint amsgrad
    void* m                 # SGD: the momentum buffer; Adam: exp_avg
    void* v                 # Adam: exp_avg_sq
    void* vmax              # AMSGrad: max_exp_avg_sq
    # Schedule-Free AdamW (theta holds y): its z and x, its decay (already
    # divided by the step's unit) on the first n_decayed parameters (coef).
    void* sf_z
    void* sf_x
    double decay
    intp_t n_decayed
    const void* inv_scale   # the preconditioner's 1 / s (NULL: none)
    const void* mean        # its offsets m (NULL: not centered)
    # Work space: the user's coefficients (the parameters' type) and
    # intercepts, the gradient (k p + k), each row's gradient in its raw
    # predictions (batch * k), one row's raw predictions (k), and the
    # previous step's gradient (Pflug's statistic; NULL: not tracked).
    void* coef
    double* intercept
    double* grad
    double* per_row
    double* z
    double* previous
    # Several outputs: the batch's rows gathered (batch * p), its raw
    # predictions and their weighted gradient (batch * k), and the gradient
    # of the coefficients (k * p), all in the parameters' type, for BLAS.
    void* gathered
    void* raw
    void* weighted_gradient
    void* coef_gradient
    void* batch_targets     # batch * k, column-major
    const intp_t* labels    # one-hot targets' classes (or NULL)
    double label_low        # their value off the class (0, or -1 for margins)
    intp_t* batch_labels    # the batch's


cdef struct Result:
    double loss
    double weight
    double inner


cdef inline void _gemm(
    char transa, char transb, int m, int n, int k, const floating* a, int lda,
    const floating* b, int ldb, floating beta, floating* c, int ldc,
) noexcept nogil:
    # C = op(A) op(B) + beta C, column-major (scipy's BLAS, as numpy's products).
    cdef floating one = 1
    if floating is double:
        dgemm(&transa, &transb, &m, &n, &k, &one, <double*> a, &lda, <double*> b,
              &ldb, &beta, c, &ldc)
    else:
        sgemm(&transa, &transb, &m, &n, &k, &one, <float*> a, &lda, <float*> b,
              &ldb, &beta, c, &ldc)


cdef inline double _dot(const floating* x, const floating* w, intp_t n) noexcept nogil:
    # Four partial sums: one sum's additions would wait on each other.
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef intp_t j = 0
    while j + 4 <= n:
        a0 += x[j] * w[j]
        a1 += x[j + 1] * w[j + 1]
        a2 += x[j + 2] * w[j + 2]
        a3 += x[j + 3] * w[j + 3]
        j += 4
    while j < n:
        a0 += x[j] * w[j]
        j += 1
    return (a0 + a1) + (a2 + a3)


cdef inline void _prefetch_row(const floating* row, intp_t p) noexcept nogil:
    cdef intp_t k = 0, line = 64 // sizeof(floating)
    while k < p:
        NNOPT_PREFETCH(&row[k])
        k += line


# Rows per chunk of _several_outputs: its gathered rows, raw predictions and
# weighted gradients are held for a chunk, not for the batch, so that a large
# batch (full-batch SGD) does not allocate a copy of X.
cdef intp_t _CHUNK = 256


cdef void _several_outputs(
    State* s,
    floating* theta,
    const floating* X,
    const intp_t* rows,
    intp_t start,
    intp_t n_batch,
    bint weighted,
    double weight_sum,
    double* loss_sum,
) noexcept nogil:
    """The data part of the gradient for k > 1 outputs, as numpy computes it,
    by chunks of the batch's rows: the rows gathered, their raw predictions
    by one product (BLAS), each row's loss and gradient (the softmax for
    log_loss), and the coefficients' gradient ``G^T X_b`` by a second
    product, summed over the chunks; into ``grad`` and ``per_row`` as the
    one-output loop leaves them."""
    cdef const floating* Y = <const floating*> s.Y
    cdef const floating* coef = <const floating*> s.coef
    cdef floating* gathered = <floating*> s.gathered
    cdef floating* Z = <floating*> s.raw
    cdef floating* Gw = <floating*> s.weighted_gradient
    cdef floating* dW = <floating*> s.coef_gradient
    cdef floating* Yb = <floating*> s.batch_targets
    cdef const intp_t* labels = s.labels
    cdef intp_t* batch_labels = s.batch_labels
    cdef double* G
    cdef double* z = s.z
    cdef const floating* Xb
    cdef intp_t p = s.n_features, n_out = s.n_outputs, i, c, r, c0 = 0, nb
    cdef double row_loss, factor = 0.0
    cdef floating zc
    if not weighted:
        factor = <floating> (1.0 / weight_sum)
    while c0 < n_batch:
        nb = min(_CHUNK, n_batch - c0)
        G = &s.per_row[c0 * n_out]
        if rows != NULL:
            for i in range(nb):
                memcpy(&gathered[i * p], &X[rows[c0 + i] * p], p * sizeof(floating))
            Xb = gathered
        else:
            Xb = &X[(start + c0) * p]
        # The targets: one-hot ones by their class; others column by column
        # (Y is column-major: a row's targets are n_rows apart, each a cache
        # miss; gathered in one simple loop, their misses overlap).
        if labels != NULL:
            for i in range(nb):
                batch_labels[i] = labels[rows[c0 + i] if rows != NULL else start + c0 + i]
        else:
            for c in range(n_out):
                for i in range(nb):
                    r = rows[c0 + i] if rows != NULL else start + c0 + i
                    Yb[i + c * nb] = Y[r + c * s.n_rows]
        # Z (nb, k), row-major, is (k, nb) column-major: coef X_b^T.
        _gemm(c"T", c"N", <int> n_out, <int> nb, <int> p, coef, <int> p, Xb, <int> p,
              0, Z, <int> n_out)
        for i in range(nb):
            r = rows[c0 + i] if rows != NULL else start + c0 + i
            for c in range(n_out):
                zc = Z[i * n_out + c]
                if s.fit_intercept:
                    zc = <floating> (zc + <floating> s.intercept[c])
                z[c] = zc
            if labels != NULL:
                row_loss = _label_outputs_gradient(
                    s.loss, s.loss_param, s.log_tiny, z, n_out, batch_labels[i],
                    s.label_low, &G[i * n_out], zc,
                )
            else:
                row_loss = _outputs_gradient(
                    s.loss, s.loss_param, s.log_tiny, z, n_out, Yb, i, nb,
                    &G[i * n_out],
                )
            if weighted:
                loss_sum[0] += s.sw[r] * <floating> row_loss
                factor = s.sw[r] / weight_sum
            else:
                loss_sum[0] += <floating> row_loss
            for c in range(n_out):
                G[i * n_out + c] = <floating> (G[i * n_out + c] * factor)
                Gw[i * n_out + c] = <floating> G[i * n_out + c]
        # dW (k, p), row-major, is (p, k) column-major: X_b^T G, summed
        # over the chunks.
        _gemm(c"N", c"T", <int> p, <int> n_out, <int> nb, Xb, <int> p, Gw, <int> n_out,
              0 if c0 == 0 else 1, dW, <int> p)
        c0 += nb
    for i in range(n_out * p):
        s.grad[i] = dW[i]


cdef Result _step(
    State* s,
    floating* theta,
    const floating* X,
    const intp_t* rows,
    intp_t start,
    intp_t n_batch,
    bint weighted,
    double lr,
    long t,
    double ckp1,
) noexcept nogil:
    """One minibatch step on rows ``rows[0:n_batch]`` (NULL: ``start`` on).
    Schedule-Free AdamW: ``lr`` is the warmed-up step and ``ckp1`` the
    averaging weight :math:`c_t` (``ScheduleFreeAdamW._coefficients``)."""
    cdef Result out
    cdef const floating* Y = <const floating*> s.Y
    cdef const floating* inv_scale = <const floating*> s.inv_scale
    cdef const floating* mean = <const floating*> s.mean
    cdef floating* m = <floating*> s.m
    cdef floating* v = <floating*> s.v
    cdef floating* vmax = <floating*> s.vmax
    cdef floating* coef = <floating*> s.coef
    cdef double* grad = s.grad
    cdef double* G = s.per_row
    cdef double* z = s.z
    cdef double* previous = s.previous
    cdef intp_t p = s.n_features, n_out = s.n_outputs, n_coef = s.n_outputs * s.n_features
    cdef intp_t n_params = n_coef + (s.n_outputs if s.fit_intercept else 0)
    cdef intp_t i, j, c, r, idx
    cdef const floating* x
    cdef double loss, row_loss, g, gc, db, weight_sum, loss_sum = 0.0
    cdef double factor = 0.0, inner = 0.0
    cdef double step_size = 0.0, eps = 0.0, mj, mu = s.momentum
    cdef double bias_correction2 = 1.0
    cdef floating* z_seq = <floating*> s.sf_z
    cdef floating* x_seq = <floating*> s.sf_x
    cdef floating beta = <floating> s.beta_1, rest = <floating> (1.0 - s.beta_1)
    cdef floating keep = <floating> (1.0 - ckp1), weight = <floating> ckp1
    cdef floating fv, fd, fz, fx, work
    cdef floating b, zc

    # The user's coefficients and intercepts (Preconditioner.to_user).
    for c in range(n_out):
        if inv_scale != NULL:
            for j in range(p):
                coef[c * p + j] = <floating> (theta[c * p + j] * inv_scale[j])
        else:
            for j in range(p):
                coef[c * p + j] = theta[c * p + j]
        b = 0
        if s.fit_intercept:
            b = theta[n_coef + c]
            if mean != NULL:
                b = <floating> (b - <floating> _dot(mean, &coef[c * p], p))
        s.intercept[c] = b

    # The batch's weight: its weighted mean loss's gradient is
    # s_i / sum(s) * loss'(z_i) (Objective.output_gradient), summed pairwise
    # as numpy's.
    if weighted:
        for i in range(n_batch):
            G[i] = s.sw[rows[i] if rows != NULL else start + i]
        weight_sum = _pairwise_sum(G, n_batch)
    else:
        weight_sum = <double> n_batch
        factor = <floating> (1.0 / weight_sum)

    if n_out > 1:
        _several_outputs(s, theta, X, rows, start, n_batch, weighted, weight_sum, &loss_sum)
    else:
        for j in range(p):  # (several outputs write their gradient whole)
            grad[j] = 0.0
        # Per row: the raw prediction, the loss and its gradient, and the
        # gradient's scatter G_i x_i, while the row is in cache. Shuffled
        # rows are scattered over X: the rows _AHEAD on are prefetched, so
        # that their cache misses overlap this row's work (a gathered copy
        # of the batch, as numpy's steps make, measured slower).
        for i in range(min(_AHEAD, n_batch)):
            _prefetch_row(&X[(rows[i] if rows != NULL else start + i) * p], p)
        for i in range(n_batch):
            r = rows[i] if rows != NULL else start + i
            if i + _AHEAD < n_batch:
                j = rows[i + _AHEAD] if rows != NULL else start + i + _AHEAD
                _prefetch_row(&X[j * p], p)
                NNOPT_PREFETCH(&Y[j])
            x = &X[r * p]
            zc = <floating> _dot(x, coef, p)
            if s.fit_intercept:
                zc = <floating> (zc + <floating> s.intercept[0])
            _loss_gradient(s.loss, s.loss_param, Y[r], zc, s.log_tiny, &loss, &g)
            if weighted:
                loss_sum += s.sw[r] * <floating> loss
                factor = s.sw[r] / weight_sum
            else:
                loss_sum += <floating> loss
            gc = <floating> (<floating> g * factor)
            G[i] = gc
            if gc != 0.0:
                for j in range(p):
                    grad[j] += gc * x[j]

    # The intercepts' gradient: the column sums of G (all columns at once:
    # one sum at a time would wait on each addition).
    if n_out == 1:
        grad[n_coef] = <floating> _pairwise_sum(G, n_batch)
    else:
        for c in range(n_out):
            grad[n_coef + c] = 0.0
        for i in range(n_batch):
            for c in range(n_out):
                grad[n_coef + c] += G[i * n_out + c]
        for c in range(n_out):
            grad[n_coef + c] = <floating> grad[n_coef + c]

    # Objective.finish_gradient: the l2 penalty's gradient in the user's
    # units, the chain rule through b - coef m, then to training units.
    for c in range(n_out):
        db = grad[n_coef + c]
        for j in range(p):
            idx = c * p + j
            g = <floating> grad[idx]
            if s.l2 != 0:
                g = <floating> (g + <floating> (s.l2 * coef[idx]))
            if mean != NULL:
                g = <floating> (g - <floating> (db * mean[j]))
            if inv_scale != NULL:
                g = <floating> (g * inv_scale[j])
            grad[idx] = g

    if s.optimizer == _SCHEDULE_FREE:
        bias_correction2 = 1.0 - pow(s.beta_2, <double> t)
    if s.optimizer == _ADAM:
        _adam_scalars(lr, s.beta_1, s.beta_2, s.epsilon, t, &step_size, &eps)
    # Pflug's statistic and the update, one pass over the parameters.
    for idx in range(n_params):
        g = grad[idx]
        if previous != NULL:
            inner += previous[idx] * g
            previous[idx] = g
        if s.optimizer == _SGD:
            if mu != 0.0:
                # b = mu b + g (b starts at 0: the first step's b is g).
                mj = <floating> (<floating> (m[idx] * mu) + g)
                m[idx] = <floating> mj
                if s.nesterov:
                    mj = <floating> (g + <floating> (mu * mj))
                theta[idx] = theta[idx] - <floating> (lr * mj)
            else:
                theta[idx] = theta[idx] - <floating> (lr * g)
            continue
        if s.optimizer == _SCHEDULE_FREE:
            # ScheduleFreeAdamW._normalized, the decay at y, then _advance:
            # z -= lr d, x = (1 - c) x + c z, y = beta x + (1 - beta) z,
            # each operation rounded as numpy's.
            work = <floating> (<floating> g * <floating> g)
            fv = <floating> (v[idx] * <floating> s.beta_2)
            fv = <floating> (fv + <floating> (work * <floating> (1.0 - s.beta_2)))
            v[idx] = fv
            fd = <floating> (fv / <floating> bias_correction2)
            fd = <floating> (<floating> sqrt(fd) + <floating> s.epsilon)
            fd = <floating> (<floating> g / fd)
            if s.decay != 0 and idx < s.n_decayed:
                fd = <floating> (fd + <floating> (<floating> s.decay * theta[idx]))
            fz = <floating> (z_seq[idx] - <floating> (fd * <floating> lr))
            z_seq[idx] = fz
            fx = <floating> (<floating> (x_seq[idx] * keep) + <floating> (fz * weight))
            x_seq[idx] = fx
            theta[idx] = <floating> (<floating> (fx * beta) + <floating> (fz * rest))
            continue
        _adam_coordinate(
            theta, m, v, vmax, idx, g, s.beta_1, s.beta_2, s.amsgrad, eps, step_size
        )
    out.loss = loss_sum
    out.weight = weight_sum
    out.inner = inner
    return out


cdef void _run_epoch(
    State* s,
    floating* theta,
    const floating* X,
    const intp_t* order,
    const intp_t* starts,
    const intp_t* stops,
    const double* rates,
    const double* averaging,
    intp_t n_steps,
    bint weighted,
    long t0,
    double* losses,
    double* weights,
    double* inners,
) noexcept nogil:
    """:func:`_step` on batches ``order[starts[i]:stops[i]]`` (rows
    ``starts[i]:stops[i]`` if ``order`` is NULL) at step sizes ``rates[i]``,
    step ``t0 + i + 1`` (Schedule-Free AdamW: averaging weights
    ``averaging[i]``; NULL for the others)."""
    cdef Result out
    cdef intp_t i
    for i in range(n_steps):
        out = _step(
            s, theta, X, &order[starts[i]] if order != NULL else NULL,
            starts[i], stops[i] - starts[i], weighted, rates[i], t0 + i + 1,
            averaging[i] if averaging != NULL else 0.0,
        )
        losses[i] = out.loss
        weights[i] = out.weight
        inners[i] = out.inner


cdef class DenseKernel:
    """Minibatch steps on dense rows (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        C-contiguous, float32 or float64.
    y : ndarray of shape (n_samples,) or (n_samples, k), or OneHot
        Targets (the encoded ones the loss takes); one-hot ones as
        :class:`~sklearn_nnopt._targets.OneHot` are read by their classes.
    sample_weight : ndarray of shape (n_samples,), float64
    theta : ndarray of shape (k * (n_features + fit_intercept),)
        The flat parameter buffer ``[coef.ravel(), intercept]`` in the
        training coordinates, X's dtype; updated in place.
    fit_intercept : bool
    loss : int
        A value of ``_sparse_sgd.LOSSES``.
    loss_param : float
    log_tiny : float
    optimizer : int
        ``OPTIMIZER_SGD`` or ``OPTIMIZER_ADAM``.
    l2 : float
    momentum : float
        SGD's momentum factor (0: plain SGD).
    nesterov : bool
    beta_1, beta_2, epsilon : float
    amsgrad : bool
    m, v, vmax : ndarray shaped as theta, or None
        SGD: ``m`` is the momentum buffer (with momentum); Adam: its state
        (``vmax`` with amsgrad). Updated in place.
    inv_scale, mean : ndarray of shape (n_features,) or None
        The preconditioner's ``1 / s`` and offsets, X's dtype.
    track : bool
        Keep ``inner``, the inner product of the last two steps' gradients.
    batch_size : int
    """

    cdef State s
    cdef object _refs
    cdef const void* X
    cdef bint double_data
    cdef intp_t batch_size

    def __init__(
        self, X, y, sample_weight, theta, fit_intercept, loss, loss_param, log_tiny,
        optimizer, l2, momentum, nesterov, beta_1, beta_2, epsilon, amsgrad, m, v,
        vmax, inv_scale, mean, track, batch_size, sf_z=None, sf_x=None, decay=0.0,
        n_decayed=0,
    ):
        dtype = theta.dtype
        if dtype not in (np.float32, np.float64) or X.dtype != dtype:
            raise TypeError("X and the parameters must both be float32 or float64.")
        if X.ndim != 2 or not X.flags.c_contiguous:
            raise ValueError("X must be a C-contiguous 2-D array.")
        n_features = X.shape[1]
        labels, label_low = class_indices(y)
        n_outputs = y.shape[1] if y.ndim == 2 else 1
        if y.shape[0] != X.shape[0]:
            raise ValueError("y must have one row per row of X.")
        if labels is not None:
            labels = np.ascontiguousarray(labels, dtype=np.intp)
            y = np.empty((0, n_outputs), dtype=dtype)  # not read
        else:
            y = np.asfortranarray(y, dtype=dtype)
            if y.ndim == 1:
                y = y[:, None]
        n_params = n_outputs * (n_features + (1 if fit_intercept else 0))
        if theta.shape != (n_params,) or not theta.flags.c_contiguous:
            raise ValueError("theta must be the flat buffer [coef, intercept].")
        for name, a in (("m", m), ("v", v), ("vmax", vmax), ("sf_z", sf_z), ("sf_x", sf_x)):
            if a is not None and (
                a.dtype != dtype or a.shape != theta.shape or not a.flags.c_contiguous
            ):
                raise ValueError(f"{name} must be shaped and typed as theta.")
        for name, a in (("inv_scale", inv_scale), ("mean", mean)):
            if a is not None and (
                a.dtype != dtype or a.shape != (n_features,) or not a.flags.c_contiguous
            ):
                raise ValueError(f"{name} must have one entry per feature, typed as X.")
        if not 0 <= loss < _N_LOSSES:
            raise ValueError(f"unknown loss code {loss}")
        if optimizer == _ADAM:
            if m is None or v is None or (amsgrad and vmax is None):
                raise ValueError("Adam's steps need its state arrays.")
        elif optimizer == _SCHEDULE_FREE:
            if v is None or sf_z is None or sf_x is None:
                raise ValueError("Schedule-free steps need v, z and x.")
        elif optimizer == _SGD:
            if momentum != 0 and m is None:
                raise ValueError("SGD with momentum needs its buffer.")
        else:
            raise ValueError(f"unknown optimizer code {optimizer}")
        y = y.ravel(order="F")
        sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (X.shape[0],):
            raise ValueError("sample_weight must have one entry per row of X.")
        n_work = n_outputs * (n_features + 1)
        coef = np.empty(n_outputs * n_features, dtype=dtype)
        several = n_outputs > 1
        rows_ = max(min(int(batch_size), _CHUNK), 1)  # (_several_outputs' chunks)
        gathered = np.empty(rows_ * n_features if several else 0, dtype=dtype)
        raw = np.empty(rows_ * n_outputs if several else 0, dtype=dtype)
        weighted_gradient = np.empty_like(raw)
        coef_gradient = np.empty(n_outputs * n_features if several else 0, dtype=dtype)
        batch_targets = np.empty_like(raw)
        batch_labels = np.empty(rows_ if several else 0, dtype=np.intp)
        intercept = np.empty(n_outputs)
        grad = np.empty(n_work)
        per_row = np.empty(max(int(batch_size), 1) * n_outputs)
        z = np.empty(n_outputs)
        previous = np.zeros(n_work) if track else None
        self._refs = (
            X, y, sample_weight, theta, m, v, vmax, inv_scale, mean, coef, intercept,
            grad, per_row, z, previous, gathered, raw, weighted_gradient, coef_gradient,
            batch_targets, labels, batch_labels, sf_z, sf_x,
        )
        self.X = _address(X)
        self.double_data = dtype == np.float64
        self.batch_size = batch_size
        self.s.Y = _address(y)
        self.s.n_rows = X.shape[0]
        self.s.sw = <const double*> _address(sample_weight)
        self.s.theta = _address(theta)
        self.s.n_features = n_features
        self.s.n_outputs = n_outputs
        self.s.fit_intercept = fit_intercept
        self.s.loss = loss
        self.s.loss_param = loss_param
        self.s.log_tiny = log_tiny
        self.s.optimizer = optimizer
        self.s.l2 = l2
        self.s.momentum = momentum
        self.s.nesterov = nesterov
        self.s.beta_1 = beta_1
        self.s.beta_2 = beta_2
        self.s.epsilon = epsilon
        self.s.amsgrad = amsgrad
        self.s.m = _address(m)
        self.s.v = _address(v)
        self.s.vmax = _address(vmax)
        self.s.sf_z = _address(sf_z)
        self.s.sf_x = _address(sf_x)
        self.s.decay = decay
        self.s.n_decayed = n_decayed
        self.s.inv_scale = _address(inv_scale)
        self.s.mean = _address(mean)
        self.s.coef = _address(coef)
        self.s.gathered = _address(gathered)
        self.s.raw = _address(raw)
        self.s.weighted_gradient = _address(weighted_gradient)
        self.s.coef_gradient = _address(coef_gradient)
        self.s.batch_targets = _address(batch_targets)
        self.s.labels = <const intp_t*> _address(labels)
        self.s.label_low = 0.0 if label_low is None else label_low
        self.s.batch_labels = <intp_t*> _address(batch_labels)
        self.s.intercept = <double*> _address(intercept)
        self.s.grad = <double*> _address(grad)
        self.s.per_row = <double*> _address(per_row)
        self.s.z = <double*> _address(z)
        self.s.previous = <double*> _address(previous)

    def step(self, rows, double lr, bint weighted, long t, double ckp1=0.0):
        """One minibatch step on ``rows`` (a slice of step 1, or intp indices).

        ``t`` is the optimizer's step count after this step (Adam's bias
        corrections); Schedule-Free AdamW: ``lr`` is the warmed-up step and
        ``ckp1`` the averaging weight. Returns ``(weighted loss sum, weight
        sum, inner)``.
        """
        cdef const intp_t[::1] index
        cdef const intp_t* row_ptr = NULL
        cdef intp_t i, start = 0, n_batch
        cdef Result out
        if isinstance(rows, slice):
            start, stop, stride = rows.indices(self.s.n_rows)
            if stride != 1:
                raise ValueError("a slice of rows must have step 1")
            n_batch = max(stop - start, 0)
        else:
            index = rows
            n_batch = index.shape[0]
            if n_batch:
                row_ptr = &index[0]
            for i in range(n_batch):
                if not 0 <= index[i] < self.s.n_rows:
                    raise IndexError(f"row {index[i]} out of range")
        if n_batch > self.batch_size:
            raise ValueError("more rows than the batch size")
        if n_batch == 0:
            return 0.0, 0.0, 0.0
        with nogil:
            if self.double_data:
                out = _step(
                    &self.s, <double*> self.s.theta, <const double*> self.X,
                    row_ptr, start, n_batch, weighted, lr, t, ckp1,
                )
            else:
                out = _step(
                    &self.s, <float*> self.s.theta, <const float*> self.X,
                    row_ptr, start, n_batch, weighted, lr, t, ckp1,
                )
        return out.loss, out.weight, out.inner

    def run(
        self, order, starts, stops, rates, bint weighted, long t0, losses, weights,
        inners, averaging=None,
    ):
        """:meth:`step` on many batches in one call, without the GIL.

        Batch ``i`` is ``order[starts[i]:stops[i]]`` (intp; ``order`` None:
        rows ``starts[i]:stops[i]``), at step size ``rates[i]`` and step
        count ``t0 + i + 1`` (Schedule-Free AdamW: the warmed-up steps, and
        the averaging weights ``averaging[i]``); its weighted loss sum, weight
        sum and Pflug inner product go to ``losses[i]``, ``weights[i]``,
        ``inners[i]`` (float64 arrays).
        """
        cdef const intp_t[::1] order_view
        cdef const intp_t* order_ptr = NULL
        cdef const intp_t[::1] starts_view = starts
        cdef const intp_t[::1] stops_view = stops
        cdef const double[::1] rates_view = rates
        cdef const double[::1] averaging_view
        cdef const double* averaging_ptr = NULL
        cdef double[::1] losses_view = losses
        cdef double[::1] weights_view = weights
        cdef double[::1] inners_view = inners
        cdef intp_t i, k, n_steps = rates_view.shape[0]
        cdef intp_t limit = self.s.n_rows
        if not (
            starts_view.shape[0] == stops_view.shape[0] == n_steps
            and losses_view.shape[0] >= n_steps
            and weights_view.shape[0] >= n_steps
            and inners_view.shape[0] >= n_steps
        ):
            raise ValueError("one start, stop, rate and output per step")
        if order is not None:
            order_view = order
            limit = order_view.shape[0]
            if limit:
                order_ptr = &order_view[0]
            for k in range(limit):
                if not 0 <= order_view[k] < self.s.n_rows:
                    raise IndexError(f"row {order_view[k]} out of range")
        for i in range(n_steps):
            if not (
                0 <= starts_view[i] < stops_view[i] <= limit
                and stops_view[i] - starts_view[i] <= self.batch_size
            ):
                raise ValueError(f"batch {i} is empty, out of range or too large")
        if n_steps == 0:
            return
        if self.s.optimizer == _SCHEDULE_FREE:
            if averaging is None:
                raise ValueError("schedule-free steps need their averaging weights")
            averaging_view = averaging
            if averaging_view.shape[0] < n_steps:
                raise ValueError("one averaging weight per step")
            averaging_ptr = &averaging_view[0]
        with nogil:
            if self.double_data:
                _run_epoch(
                    &self.s, <double*> self.s.theta, <const double*> self.X,
                    order_ptr, &starts_view[0], &stops_view[0], &rates_view[0],
                    averaging_ptr, n_steps, weighted, t0, &losses_view[0], &weights_view[0],
                    &inners_view[0],
                )
            else:
                _run_epoch(
                    &self.s, <float*> self.s.theta, <const float*> self.X,
                    order_ptr, &starts_view[0], &stops_view[0], &rates_view[0],
                    averaging_ptr, n_steps, weighted, t0, &losses_view[0], &weights_view[0],
                    &inners_view[0],
                )


def column_moments(const floating[:, ::1] X, const double[::1] weights):
    """Weighted column means and variances of ``X``: the two-pass formula of
    the numpy passes (the mean, then the weighted squared deviations from
    it), each pass over the rows of ``X`` in place (no copy of a block), sums
    in double. A non-finite entry, even in a row of weight 0, makes its
    column's mean NaN or infinite (as ``weights @ X``).

    Returns
    -------
    mean, var : ndarray of shape (n_features,), float64
    """
    cdef intp_t n = X.shape[0], p = X.shape[1], i, j
    if weights.shape[0] != n:
        raise ValueError("one weight per row of X")
    mean = np.zeros(p)
    var = np.zeros(p)
    cdef double[::1] M = mean, V = var
    cdef double total = 0.0, w, d
    with nogil:
        for i in range(n):
            w = weights[i]
            total += w
            for j in range(p):
                M[j] += w * X[i, j]
        if total > 0:
            for j in range(p):
                M[j] /= total
            for i in range(n):
                w = weights[i]
                for j in range(p):
                    d = X[i, j] - M[j]
                    V[j] += w * (d * d)
            for j in range(p):
                V[j] /= total
    return mean, var


def scaled_row_norms(const floating[:, ::1] X, mean, inv_scale):
    """Squared norms of the rows of ``(X - mean) * inv_scale`` (``mean``
    None: not centered), in one pass over ``X``, without a copy of it.

    Returns
    -------
    ndarray of shape (n_samples,), float64
    """
    cdef intp_t n = X.shape[0], p = X.shape[1], i, j
    offsets = np.zeros(p) if mean is None else np.asarray(mean, dtype=np.float64)
    scales = np.asarray(inv_scale, dtype=np.float64)
    if offsets.shape != (p,) or scales.shape != (p,):
        raise ValueError("one offset and scale per column of X")
    norms = np.empty(n)
    cdef const double[::1] m = offsets
    cdef const double[::1] s = scales
    cdef double[::1] out = norms
    cdef double a0, a1, d0, d1
    with nogil:
        for i in range(n):
            # Two partial sums: one would wait on each addition.
            a0 = 0.0
            a1 = 0.0
            j = 0
            while j + 2 <= p:
                d0 = (X[i, j] - m[j]) * s[j]
                d1 = (X[i, j + 1] - m[j + 1]) * s[j + 1]
                a0 += d0 * d0
                a1 += d1 * d1
                j += 2
            if j < p:
                d0 = (X[i, j] - m[j]) * s[j]
                a0 += d0 * d0
            out[i] = a0 + a1
    return norms
