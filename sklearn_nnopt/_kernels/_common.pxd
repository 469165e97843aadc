# What the compiled kernels share: their number types, a prefetch hint, the
# exponential of either precision, a CSR row's prefetch, an array's address,
# and Adam's coordinate update.

from libc.math cimport exp, expf, pow, sqrt
from libc.stdint cimport int32_t, int64_t

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define NNOPT_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define NNOPT_PREFETCH(p) ((void)0)
    #endif
    """
    void NNOPT_PREFETCH(const void* p) noexcept nogil

ctypedef Py_ssize_t intp_t

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline void _prefetch_row(
    const floating* X_data, const index_t* X_indices, const index_t* X_indptr,
    intp_t r,
) noexcept nogil:
    # Row r's values and column indices, one cache line (64 bytes) at a time.
    cdef intp_t k = X_indptr[r], end = X_indptr[r + 1]
    cdef intp_t data_step = 64 // sizeof(floating), index_step = 64 // sizeof(index_t)
    while k < end:
        NNOPT_PREFETCH(&X_data[k])
        k += data_step
    k = X_indptr[r]
    while k < end:
        NNOPT_PREFETCH(&X_indices[k])
        k += index_step


cdef inline void* _address(object array) except? NULL:
    """The address of a C-contiguous array's first element (NULL if empty)."""
    if array is None or array.size == 0:
        return NULL
    return <void*> <size_t> array.ctypes.data


cdef inline void _adam_scalars(
    double lr, double beta_1, double beta_2, double epsilon, long t,
    double* step_size, double* eps,
) noexcept nogil:
    # optimizers.Adam._update: the bias corrections folded into the step and
    # epsilon, sqrt(v / c^2) + eps = (sqrt(v) + eps c) / c.
    cdef double c = sqrt(1.0 - pow(beta_2, <double> t))
    step_size[0] = lr * c / (1.0 - pow(beta_1, <double> t))
    eps[0] = epsilon * c


cdef inline void _adam_coordinate(
    floating* theta, floating* m, floating* v, floating* vmax, intp_t idx,
    double g, double beta_1, double beta_2, bint amsgrad, double eps,
    double step_size,
) noexcept nogil:
    # One coordinate of optimizers.Adam._update (gradient g, already in the
    # parameters' type), each operation rounded as numpy's array operations.
    cdef double mj, vj, denom
    mj = <floating> (m[idx] * beta_1 + <floating> (g * (1.0 - beta_1)))
    vj = <floating> (v[idx] * beta_2 + <floating> (<floating> (g * g) * (1.0 - beta_2)))
    m[idx] = <floating> mj
    v[idx] = <floating> vj
    if amsgrad:
        if vj > vmax[idx]:
            vmax[idx] = <floating> vj
        vj = vmax[idx]
    denom = <floating> (<floating> sqrt(vj) + eps)
    theta[idx] = theta[idx] - <floating> (<floating> (mj / denom) * step_size)
