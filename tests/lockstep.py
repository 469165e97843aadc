"""Step a compiled sparse stepper and the numpy reference on the same batches.

Shared by ``test_kernels.py`` and ``test_schedule_free_sparse.py``: each
epoch shuffles the rows, steps both steppers on the same batches (every
other batch with the sample weights), asserts what every stepper must agree
on (the batch's loss sum and weight, Pflug's inner product), calls the
test's own checks after each step and each epoch, and ends the epoch with
both steppers' ``finish``.
"""

import numpy as np


def relative(a, b):
    """The largest absolute difference relative to the largest entry of ``b``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def lockstep(
    compiled,
    reference,
    X,
    Y,
    sw,
    batch_size,
    lr,
    rtol,
    *,
    after_step=None,
    after_epoch=None,
    epochs=3,
    seed=3,
):
    """Step both on the same batches at the rate ``lr / (1 + epoch)``."""
    rng = np.random.RandomState(seed)
    for epoch in range(epochs):
        order = rng.permutation(X.shape[0])
        for k, begin in enumerate(range(0, X.shape[0], batch_size)):
            rows = order[begin : begin + batch_size]
            weights = sw[rows] if k % 2 else None
            rate = lr / (1 + epoch)
            out = compiled.step(None, Y[rows], weights, rate, rows)
            ref = reference.step(X[rows], Y[rows], weights, rate, rows)
            # The loss sum, relative to the batch's weight (it may nearly vanish).
            np.testing.assert_allclose(out, ref, rtol=rtol, atol=rtol * ref[1])
            # <g_t, g_t-1> cancels: relative to |g_t|^2 (float32 rounds its terms).
            g = reference.previous.astype(np.float64)
            scale = max(abs(reference.inner), float(g @ g), 1e-30)
            assert abs(compiled.inner - reference.inner) <= rtol * scale
            if after_step is not None:
                after_step()
        compiled.finish()
        reference.finish()
        if after_epoch is not None:
            after_epoch()
