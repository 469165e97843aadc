"""A 200,000 x 1,000,000 CSR matrix (50 non-zeros per row) fits with every optimizer.

Dense, this matrix would take 1.6 TB (float64); as CSR it takes 120 MB. One epoch
per stochastic optimizer; the whole module takes a few minutes on 2 cores.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_nnopt import OPTIMIZERS, LinearNNClassifier

N_SAMPLES, N_FEATURES, NNZ_PER_ROW = 200_000, 1_000_000, 50


@pytest.fixture(scope="module")
def huge_csr():
    rng = np.random.RandomState(0)
    indptr = np.arange(N_SAMPLES + 1, dtype=np.int64) * NNZ_PER_ROW
    indices = rng.randint(0, N_FEATURES, size=N_SAMPLES * NNZ_PER_ROW).astype(np.int32)
    data = rng.rand(N_SAMPLES * NNZ_PER_ROW).astype(np.float32)
    X = sp.csr_matrix((data, indices, indptr), shape=(N_SAMPLES, N_FEATURES))
    w = rng.normal(size=N_FEATURES).astype(np.float32)
    y = (X @ w > 0).astype(int)
    return X, y


@pytest.mark.parametrize(
    "optimizer", [n for n, cls, _ in OPTIMIZERS.items() if cls.stochastic]
)
def test_huge_sparse_matrix_fits(huge_csr, optimizer):
    X, y = huge_csr
    # batch_size=200 for every optimizer (SAGA's "auto" would be its optimal
    # mini-batch size, 21 rows here): 1000 steps.
    est = LinearNNClassifier(
        optimizer=optimizer, batch_size=200, max_iter=1, tol=None, random_state=0
    )
    est.fit(X, y)
    assert est.coef_.shape == (1, N_FEATURES)
    assert est.coef_.dtype == np.float32
    assert np.all(np.isfinite(est.coef_))
    assert np.isfinite(est.loss_) and est.n_iter_ == 1 and est.t_ == 1000
    # Every feature present in the data received gradient steps.
    present = np.zeros(N_FEATURES, dtype=bool)
    present[X.indices] = True
    assert np.count_nonzero(est.coef_[0, present]) > 0.99 * present.sum()
    assert np.all(est.coef_[0, ~present] == 0)
