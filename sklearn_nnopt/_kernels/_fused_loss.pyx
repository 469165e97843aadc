# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, nonecheck=False
r"""Fused per-sample loss and gradient in the raw prediction (dense).

:func:`loss_gradient` computes what the numpy ``loss_gradient`` of the covered
losses of :mod:`sklearn_nnopt.losses` computes: the per-sample loss (summed
over the output columns, or the softmax cross-entropy of the row) and its
gradient in ``raw``, with the arithmetic of the numpy code, in the same
operation order and in the arrays' own precision (float32 stays float32).

The elementary functions are numpy's own ufuncs, called on whole arrays
(``np.exp``, ``np.log1p``, ``np.log``: vectorized, 1-2 ns per element with
AVX-512, where the C library's scalar ``exp`` + ``log1p`` cost 12-14 ns, more
than numpy's whole 11-pass binary log loss); everything else is fused into
compiled passes without the GIL: one pass for the squared error, the (squared)
hinge-type losses and huber, ``np.exp`` and one pass for poisson, ``|z|``,
``np.exp``, ``np.log1p`` and one pass for the binary log loss (its gradient
``expit(max(z, log_tiny))`` from the same ``exp(-|z|)``: ``1 / (1 + e)`` for
``z >= 0``, ``e / (1 + e)`` below, where numpy's scipy ``expit`` computes
``1 / (1 + exp(-z))``: the same value up to an ulp or two), and three
passes around ``np.exp`` and ``np.log`` for the softmax.

Any strides: ``raw`` and ``y`` may be C- or column-major (the estimators'
raw predictions are column-major), or a column of either.
"""

from libc.math cimport fabs, fabsf

import numpy as np

from ._common cimport _exp, floating, intp_t

# The kinds, by the loss names of losses.py.
cdef enum:
    _LOG = 0
    _SQUARED = 1
    _SQUARED_HINGE = 2
    _MODIFIED_HUBER = 3
    _POISSON = 4
    _HUBER = 5

LOSSES = {
    "log_loss": _LOG,
    "squared_error": _SQUARED,
    "squared_hinge": _SQUARED_HINGE,
    "modified_huber": _MODIFIED_HUBER,
    "poisson": _POISSON,
    "huber": _HUBER,
}


cdef inline floating _abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline void _binary_log_finish(
    intp_t n, const floating* z, intp_t sz, const floating* y, intp_t sy,
    floating* g, intp_t sg, floating* loss, floating log_tiny, floating floor,
) noexcept nogil:
    # On entry g holds e = exp(-|z|) and loss log1p(e). As LogLoss:
    # loss += max(z, 0); loss -= y z; grad = expit(max(z, log_tiny)) - y.
    # Selects, not branches (the signs of z are random: a mispredicted branch
    # per row costs more than the whole row), so that it vectorizes.
    # (Every candidate is computed, then selected: the compiler does not
    # speculate a floating-point operation out of a branch.)
    cdef intp_t i
    cdef floating zi, t, e, inv, below, p, positive, zero = 0, one = 1
    for i in range(n):
        zi = z[i * sz]
        t = y[i * sy]
        e = g[i * sg]
        positive = zi if zi > zero else zero
        loss[i] = (loss[i] + positive) - t * zi
        inv = one / (one + e)
        below = e / (one + e)
        p = inv if zi >= zero else below
        p = p if zi >= log_tiny else floor
        g[i * sg] = p - t


cdef void _softmax_max(
    intp_t n, intp_t k, const floating* z, intp_t zr, intp_t zc,
    floating* g, intp_t gr, intp_t gc, floating* z_max, floating log_tiny,
) noexcept nogil:
    # z_max = max(z) of each row; g = max(z - z_max, log_tiny).
    cdef intp_t i, j
    cdef floating m, d
    for i in range(n):
        m = z[i * zr]
        for j in range(1, k):
            if z[i * zr + j * zc] > m:
                m = z[i * zr + j * zc]
        z_max[i] = m
        for j in range(k):
            d = z[i * zr + j * zc] - m
            g[i * gr + j * gc] = d if d >= log_tiny else log_tiny


cdef void _softmax_normalize(
    intp_t n, intp_t k, const floating* z, intp_t zr, intp_t zc,
    const floating* y, intp_t yr, intp_t yc, floating* g, intp_t gr, intp_t gc,
    floating* total, floating* dot,
) noexcept nogil:
    # On entry g = exp(...): total = sum(g), g = g / total - y, dot = y.z.
    cdef intp_t i, j
    cdef floating s, d
    for i in range(n):
        s = g[i * gr]
        for j in range(1, k):
            s = s + g[i * gr + j * gc]
        d = y[i * yr] * z[i * zr]
        for j in range(1, k):
            d = d + y[i * yr + j * yc] * z[i * zr + j * zc]
        for j in range(k):
            g[i * gr + j * gc] = g[i * gr + j * gc] / s - y[i * yr + j * yc]
        total[i] = s
        dot[i] = d


cdef void _softmax_normalize_labels(
    intp_t n, intp_t k, const floating* z, intp_t zr, intp_t zc,
    const intp_t* labels, floating* g, intp_t gr, intp_t gc,
    floating* total, floating* dot,
) noexcept nogil:
    # _softmax_normalize for the one-hot rows of classes ``labels``: the same
    # values (y.z is z[label] exactly, and g / total - 0 is g / total).
    cdef intp_t i, j, c
    cdef floating s
    for i in range(n):
        s = g[i * gr]
        for j in range(1, k):
            s = s + g[i * gr + j * gc]
        for j in range(k):
            g[i * gr + j * gc] = g[i * gr + j * gc] / s
        c = labels[i]
        g[i * gr + c * gc] = g[i * gr + c * gc] - 1
        total[i] = s
        dot[i] = z[i * zr + c * zc]


cdef inline void _column(
    int kind, floating param, intp_t n, bint first,
    const floating* z, intp_t sz, const floating* y, intp_t sy,
    floating* g, intp_t sg, floating* loss,
) noexcept nogil:
    # One output column of a loss summed over the columns: its gradient into
    # g and its loss into loss (first column) or added to it. For poisson g
    # holds exp(z) on entry. One loop per loss, selects rather than branches
    # on the data, so that the compiler can vectorize them.
    cdef intp_t i
    cdef floating zi, t, r, m, slack, value, a, mu, clipped, linear
    cdef floating half_param = <floating> (0.5 * param)
    cdef floating zero = 0, one = 1, two = 2, four = 4, half = 0.5
    if kind == _SQUARED:
        # grad = z - y; loss = 0.5 * sum(grad * grad) (the 0.5 after the sum)
        for i in range(n):
            r = z[i * sz] - y[i * sy]
            g[i * sg] = r
            value = r * r
            loss[i] = value if first else loss[i] + value
    elif kind == _SQUARED_HINGE:
        # m = t z; slack = max(1 - m, 0); loss slack^2; grad (-2 slack) t
        for i in range(n):
            t = y[i * sy]
            slack = one - t * z[i * sz]
            slack = slack if slack > zero else zero
            g[i * sg] = (-two * slack) * t
            value = slack * slack
            loss[i] = value if first else loss[i] + value
    elif kind == _MODIFIED_HUBER:
        # the squared hinge, -4 m and -4 t below m = -1
        for i in range(n):
            t = y[i * sy]
            m = t * z[i * sz]
            slack = one - m
            slack = slack if slack > zero else zero
            linear = -four * m
            value = slack * slack
            value = linear if m < -one else value
            linear = -four * t
            r = (-two * slack) * t
            g[i * sg] = linear if m < -one else r
            loss[i] = value if first else loss[i] + value
    elif kind == _POISSON:
        for i in range(n):
            zi = z[i * sz]
            t = y[i * sy]
            mu = g[i * sg]
            g[i * sg] = mu - t
            value = mu - t * zi
            loss[i] = value if first else loss[i] + value
    else:  # _HUBER: r = y - z; the gradient -clip(r, -delta, delta)
        for i in range(n):
            r = y[i * sy] - z[i * sz]
            a = _abs(r)
            value = (half * r) * r
            linear = param * (a - half_param)
            value = value if a <= param else linear
            clipped = r if r < param else param
            clipped = clipped if clipped > -param else -param
            g[i * sg] = -clipped
            loss[i] = value if first else loss[i] + value


cdef void _scale(intp_t n, floating* loss, floating factor) noexcept nogil:
    cdef intp_t i
    for i in range(n):
        loss[i] = loss[i] * factor


cdef void _add_sub(
    intp_t n, floating* loss, const floating* a, const floating* b
) noexcept nogil:
    # loss = (a + loss) - b
    cdef intp_t i
    for i in range(n):
        loss[i] = (a[i] + loss[i]) - b[i]


cdef _run(
    int kind, floating param, object y_arr, object raw_arr, object grad_arr,
    floating[::1] loss, floating log_tiny,
    const floating[:, :] y, const floating[:, :] raw, floating[:, :] grad,
):
    cdef intp_t n = raw.shape[0], k = raw.shape[1], j, size = sizeof(floating)
    cdef intp_t zr = raw.strides[0] // size, zc = raw.strides[1] // size
    cdef intp_t yr = y.strides[0] // size, yc = y.strides[1] // size
    cdef intp_t gr = grad.strides[0] // size, gc = grad.strides[1] // size
    cdef const floating* z = &raw[0, 0]
    cdef const floating* t = &y[0, 0]
    cdef floating* g = &grad[0, 0]
    cdef floating* out = &loss[0]
    cdef floating floor
    cdef floating[::1] total, dot
    if kind == _LOG and k == 1:
        # e = exp(-|z|) into grad, log1p(e) into loss: numpy's ufuncs.
        np.abs(raw_arr, out=grad_arr)
        np.negative(grad_arr, out=grad_arr)
        np.exp(grad_arr, out=grad_arr)
        np.log1p(grad_arr[:, 0], out=np.asarray(loss))
        floor = <floating> 1 / (<floating> 1 + _exp(-log_tiny))  # expit(log_tiny)
        with nogil:
            if zr == 1 and yr == 1 and gr == 1:  # unit strides: vectorized
                _binary_log_finish(n, z, 1, t, 1, g, 1, out, log_tiny, floor)
            else:
                _binary_log_finish(n, z, zr, t, yr, g, gr, out, log_tiny, floor)
    elif kind == _LOG:
        total_arr = np.empty_like(np.asarray(loss))
        dot_arr = np.empty_like(total_arr)
        total = total_arr
        dot = dot_arr
        with nogil:
            _softmax_max(n, k, z, zr, zc, g, gr, gc, out, log_tiny)
        np.exp(grad_arr, out=grad_arr)
        with nogil:
            _softmax_normalize(
                n, k, z, zr, zc, t, yr, yc, g, gr, gc, &total[0], &dot[0]
            )
        np.log(total_arr, out=total_arr)
        with nogil:
            _add_sub(n, out, &total[0], &dot[0])
    else:
        if kind == _POISSON:
            np.exp(raw_arr, out=grad_arr)
        with nogil:
            for j in range(k):
                if zr == 1 and yr == 1 and gr == 1:
                    # Contiguous columns (one output, or column-major):
                    # unit strides the compiler can vectorize.
                    _column(
                        kind, param, n, j == 0, z + j * zc, 1, t + j * yc, 1,
                        g + j * gc, 1, out,
                    )
                else:
                    _column(
                        kind, param, n, j == 0, z + j * zc, zr, t + j * yc, yr,
                        g + j * gc, gr, out,
                    )
            if kind == _SQUARED:
                _scale(n, out, <floating> 0.5)


def loss_gradient(
    int kind, double param, y, raw, grad, loss, double log_tiny,
):
    """Per-sample loss into ``loss`` and its gradient in ``raw`` into ``grad``.

    Parameters
    ----------
    kind : int
        ``LOSSES[name]``.
    param : float
        The loss's parameter (``delta`` for huber), else ignored.
    y, raw : ndarray of shape (n_samples, n_outputs)
        Encoded targets and raw predictions, float32 or float64 (one dtype),
        any strides.
    grad : ndarray of shape (n_samples, n_outputs)
        Overwritten with the gradient; aliases neither ``y`` nor ``raw``.
    loss : ndarray of shape (n_samples,)
        C-contiguous, overwritten with the per-sample loss.
    log_tiny : float
        ``losses._log_tiny(dtype)``, the exponents' floor of the log loss.
    """
    if kind not in LOSSES.values():
        raise ValueError(f"unknown loss kind {kind!r}")
    shape = raw.shape
    if len(shape) != 2 or y.shape != shape or grad.shape != shape:
        raise ValueError("y, raw and grad must be 2-D arrays of one shape")
    if loss.shape != (shape[0],):
        raise ValueError("loss must have one value per row of raw")
    if shape[1] == 0:
        raise ValueError("no output column")
    if not (raw.dtype == y.dtype == grad.dtype == loss.dtype):
        raise ValueError("y, raw, grad and loss must have one dtype")
    if shape[0] == 0:
        return
    if raw.dtype == np.float32:
        _run[float](
            kind, param, y, raw, grad, loss, log_tiny, y, raw, grad
        )
    elif raw.dtype == np.float64:
        _run[double](
            kind, param, y, raw, grad, loss, log_tiny, y, raw, grad
        )
    else:
        raise ValueError(f"unsupported dtype {raw.dtype}")


cdef _run_labels(
    object raw_arr, object grad_arr, floating[::1] loss, floating log_tiny,
    const intp_t[::1] labels, const floating[:, :] raw, floating[:, :] grad,
):
    cdef intp_t n = raw.shape[0], k = raw.shape[1], size = sizeof(floating)
    cdef intp_t zr = raw.strides[0] // size, zc = raw.strides[1] // size
    cdef intp_t gr = grad.strides[0] // size, gc = grad.strides[1] // size
    cdef const floating* z = &raw[0, 0]
    cdef floating* g = &grad[0, 0]
    cdef floating* out = &loss[0]
    total_arr = np.empty_like(np.asarray(loss))
    dot_arr = np.empty_like(total_arr)
    cdef floating[::1] total = total_arr, dot = dot_arr
    with nogil:
        _softmax_max(n, k, z, zr, zc, g, gr, gc, out, log_tiny)
    np.exp(grad_arr, out=grad_arr)
    with nogil:
        _softmax_normalize_labels(
            n, k, z, zr, zc, &labels[0], g, gr, gc, &total[0], &dot[0]
        )
    np.log(total_arr, out=total_arr)
    with nogil:
        _add_sub(n, out, &total[0], &dot[0])


def softmax_labels(labels, raw, grad, loss, double log_tiny):
    """:func:`loss_gradient` of the multiclass log loss for one-hot targets
    given by their classes: the same values, without the targets' matrix.

    Parameters
    ----------
    labels : ndarray of intp of shape (n_samples,)
        C-contiguous; each row's class, in ``[0, n_outputs)`` (not checked).
    raw, grad : ndarray of shape (n_samples, n_outputs)
        As in :func:`loss_gradient`; ``n_outputs >= 2``.
    loss : ndarray of shape (n_samples,)
    log_tiny : float
    """
    shape = raw.shape
    if len(shape) != 2 or grad.shape != shape or shape[1] < 2:
        raise ValueError("raw and grad must be 2-D of one shape, >= 2 columns")
    if labels.shape != (shape[0],) or loss.shape != (shape[0],):
        raise ValueError("labels and loss must have one value per row of raw")
    if not (raw.dtype == grad.dtype == loss.dtype):
        raise ValueError("raw, grad and loss must have one dtype")
    if shape[0] == 0:
        return
    if raw.dtype == np.float32:
        _run_labels[float](raw, grad, loss, log_tiny, labels, raw, grad)
    elif raw.dtype == np.float64:
        _run_labels[double](raw, grad, loss, log_tiny, labels, raw, grad)
    else:
        raise ValueError(f"unsupported dtype {raw.dtype}")
