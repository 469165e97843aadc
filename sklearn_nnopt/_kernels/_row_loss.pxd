# The per-row losses and numpy's pairwise sum, shared by the compiled
# minibatch steps on CSR rows (_sparse_sgd) and on dense rows (_dense_sgd).
# The codes are the values of _sparse_sgd.LOSSES.

from libc.math cimport exp, fabs, log, log1p

from ._common cimport floating, intp_t

cdef enum:
    _LOSS_LOG = 0
    _LOSS_HINGE = 1
    _LOSS_SQUARED = 2
    _LOSS_ABSOLUTE = 3
    _LOSS_HUBER = 4
    _LOSS_EPSILON = 5
    _LOSS_SQUARED_EPSILON = 6
    _LOSS_QUANTILE = 7
    _LOSS_POISSON = 8
    _LOSS_SQUARED_HINGE = 9
    _LOSS_MODIFIED_HUBER = 10
    _LOSS_PERCEPTRON = 11
    _N_LOSSES = 12

cdef inline double _pairwise_sum(const double* a, intp_t n) noexcept nogil:
    """``np.add.reduce`` of a contiguous float64 array, bit for bit (numpy's
    pairwise summation: eight partial sums in blocks of at most 128)."""
    cdef double r0, r1, r2, r3, r4, r5, r6, r7, res = 0.0
    cdef intp_t i, n2
    if n < 8:
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
        r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
        i = 8
        while i < n - (n % 8):
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_sum(a, n2) + _pairwise_sum(a + n2, n - n2)


cdef inline double _sign(double x) noexcept nogil:
    return (x > 0) - (x < 0)


cdef inline void _loss_gradient(
    int kind, double param, double y, double z, double log_tiny,
    double* loss, double* grad,
) noexcept nogil:
    """The loss and its derivative in z, as the loss classes of losses.py.

    Residual losses take r = y - z, margin losses m = t z (y = t in {-1, 1}).
    """
    cdef double m, slack, r, a, excess, mu
    if kind == _LOSS_LOG:
        # softplus(z) - y z; gradient expit(max(z, log_tiny)) - y
        loss[0] = log1p(exp(-fabs(z))) + (z if z > 0 else 0.0) - y * z
        r = z if z > log_tiny else log_tiny
        grad[0] = 1.0 / (1.0 + exp(-r)) - y
    elif kind == _LOSS_SQUARED:
        r = z - y
        loss[0] = 0.5 * (r * r)
        grad[0] = r
    elif kind == _LOSS_ABSOLUTE:
        r = y - z
        loss[0] = fabs(r)
        grad[0] = -_sign(r)
    elif kind == _LOSS_HUBER:
        r = y - z
        a = fabs(r)
        loss[0] = 0.5 * r * r if a <= param else param * (a - 0.5 * param)
        grad[0] = -(param if r > param else (-param if r < -param else r))
    elif kind == _LOSS_EPSILON or kind == _LOSS_SQUARED_EPSILON:
        r = y - z
        excess = fabs(r) - param
        if excess < 0:
            excess = 0.0
        if kind == _LOSS_EPSILON:
            loss[0] = excess
            grad[0] = -(_sign(r) * (excess > 0))
        else:
            loss[0] = excess * excess
            grad[0] = -(2.0 * _sign(r) * excess)
    elif kind == _LOSS_QUANTILE:
        r = y - z
        loss[0] = param * r if param * r > (param - 1) * r else (param - 1) * r
        grad[0] = -(param if r > 0 else (param - 1 if r < 0 else 0.0))
    elif kind == _LOSS_POISSON:
        mu = exp(z)
        loss[0] = mu - y * z
        grad[0] = mu - y
    else:
        # Margin losses: phi(m), m = t z; the gradient phi'(m) t.
        m = y * z
        if kind == _LOSS_HINGE:
            slack = 1.0 - m
            loss[0] = slack if slack > 0 else 0.0
            grad[0] = -y if slack > 0 else 0.0
        elif kind == _LOSS_SQUARED_HINGE:
            slack = 1.0 - m if 1.0 - m > 0 else 0.0
            loss[0] = slack * slack
            grad[0] = -2.0 * slack * y
        elif kind == _LOSS_MODIFIED_HUBER:
            slack = 1.0 - m if 1.0 - m > 0 else 0.0
            if m < -1:
                loss[0] = -4.0 * m
                grad[0] = -4.0 * y
            else:
                loss[0] = slack * slack
                grad[0] = -2.0 * slack * y
        else:  # _LOSS_PERCEPTRON: the subgradient -t at m = 0
            loss[0] = -m if m < 0 else 0.0
            grad[0] = -y if m <= 0 else 0.0


cdef inline double _softmax_numerators(
    const double* z, intp_t n_out, double log_tiny, double* G, double* total,
    floating tag,
) noexcept nogil:
    """``G[c] = exp(max(z[c] - z_max, log_tiny))`` and their (pairwise) sum,
    each rounded to the parameters' type (``tag`` selects it: its value is
    not read); returns ``z_max``."""
    cdef intp_t c
    cdef double z_max = z[0], g
    for c in range(1, n_out):
        if z[c] > z_max:
            z_max = z[c]
    for c in range(n_out):
        g = <floating> (z[c] - z_max)
        if g < log_tiny:
            g = log_tiny
        G[c] = <floating> exp(g)
    total[0] = <floating> _pairwise_sum(G, n_out)
    return z_max


cdef inline double _outputs_gradient(
    int kind, double param, double log_tiny, const double* z, intp_t n_out,
    const floating* Y, intp_t r, intp_t n_rows, double* G,
) noexcept nogil:
    """A row's loss over its ``n_out`` raw predictions ``z`` (each rounded to
    the parameters' type), and its gradient in them into ``G[0:n_out]``: the
    softmax for log_loss (losses.LogLoss: ``exp(max(z - z_max, log_tiny)) /
    total - y``), independent columns for the other losses. ``Y`` is
    column-major, (n_rows, n_out); the row is ``r``. Each value rounded to
    the parameters' type where numpy stores an array."""
    cdef intp_t c
    cdef double z_max, total, g, loss, row_loss = 0.0
    if kind == _LOSS_LOG:
        z_max = _softmax_numerators(z, n_out, log_tiny, G, &total, Y[0])
        for c in range(n_out):
            row_loss += <floating> (Y[r + c * n_rows] * z[c])
        row_loss = <floating> (<floating> (log(total) + z_max) - <floating> row_loss)
        for c in range(n_out):
            G[c] = <floating> (<floating> (G[c] / total) - Y[r + c * n_rows])
        return row_loss
    for c in range(n_out):
        _loss_gradient(kind, param, Y[r + c * n_rows], z[c], log_tiny, &loss, &g)
        row_loss += <floating> loss
        G[c] = <floating> g
    return row_loss


cdef inline double _softmax_label_gradient(
    const double* z, intp_t n_out, intp_t label, double log_tiny, double* G,
    floating tag,
) noexcept nogil:
    """:func:`_outputs_gradient` of log_loss for the one-hot target of class
    ``label``: the same values (a one-hot row's sum of ``y z`` is
    ``z[label]``, and ``q - 0`` is ``q``), without reading the targets."""
    cdef intp_t c
    cdef double z_max, total
    z_max = _softmax_numerators(z, n_out, log_tiny, G, &total, tag)
    for c in range(n_out):
        G[c] = <floating> (G[c] / total)
    G[label] = <floating> (G[label] - 1.0)
    return <floating> (<floating> (log(total) + z_max) - <floating> z[label])


cdef inline double _label_outputs_gradient(
    int kind, double param, double log_tiny, const double* z, intp_t n_out,
    intp_t label, double low, double* G, floating tag,
) noexcept nogil:
    """:func:`_outputs_gradient` of the one-hot row of class ``label``
    (``1`` there, ``low`` elsewhere: 0, or -1 for the margin losses), read
    from its class rather than from ``n_out`` targets: the same values."""
    cdef intp_t c
    cdef double loss, g, row_loss = 0.0
    if kind == _LOSS_LOG:
        return _softmax_label_gradient(z, n_out, label, log_tiny, G, tag)
    for c in range(n_out):
        _loss_gradient(kind, param, 1.0 if c == label else low, z[c], log_tiny, &loss, &g)
        row_loss += <floating> loss
        G[c] = <floating> g
    return row_loss
