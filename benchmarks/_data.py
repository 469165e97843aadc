"""The benchmark datasets, generated locally from fixed seeds (no downloads).

Each dataset is split 80/20 into training and test rows; dense features are
standardized with the training rows' statistics. ``scale`` keeps that fraction
of the rows (``--quick`` uses 0.1) and every other dimension.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler, normalize

TEST_SIZE = 0.2
SPLIT_SEED = 0

# Text-like data: Zipf (s = 1) term frequencies over the vocabulary. Repeated
# terms in a document merge into one count, so 60 tokens give ~50 non-zeros.
VOCABULARY = 100_000
TOKENS_PER_ROW = 60
INFORMATIVE_TERMS = 0.1  # share of terms with a non-zero true weight
LABEL_NOISE = 0.05


@dataclass
class Dataset:
    """A train/test split and what the benchmark needs to know about it."""

    name: str
    task: str  # "classification" or "regression"
    description: str
    X_train: object
    X_test: object
    y_train: np.ndarray
    y_test: np.ndarray

    @property
    def classes(self):
        """The class labels, or None for regression."""
        if self.task != "classification":
            return None
        return np.unique(self.y_train)

    @property
    def n_outputs(self):
        """Columns of ``coef_``: 1 for regression and binary problems."""
        classes = self.classes
        return 1 if classes is None or len(classes) == 2 else len(classes)

    @property
    def x_bytes(self):
        """Bytes of the training matrix (CSR: data, indices and indptr)."""
        X = self.X_train
        if sp.issparse(X):
            return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        return X.nbytes

    def info(self):
        """Shape and size of the data, for the results file."""
        X = self.X_train
        info = {
            "task": self.task,
            "description": self.description,
            "n_train": X.shape[0],
            "n_test": self.X_test.shape[0],
            "n_features": X.shape[1],
            "n_outputs": self.n_outputs,
            "sparse": sp.issparse(X),
            "x_train_bytes": self.x_bytes,
        }
        if sp.issparse(X):
            info["nnz_per_row"] = X.nnz / X.shape[0]
        if self.classes is not None:
            info["n_classes"] = len(self.classes)
        return info


def _split(name, task, description, X, y):
    stratify = y if task == "classification" else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=stratify
    )
    if not sp.issparse(X):
        scaler = StandardScaler().fit(X_train)
        X_train = np.ascontiguousarray(scaler.transform(X_train))
        X_test = np.ascontiguousarray(scaler.transform(X_test))
    return Dataset(name, task, description, X_train, X_test, y_train, y_test)


def dense_binary(n_samples=200_000):
    """``make_classification``: 100 features, 20 informative, 2 classes."""
    X, y = make_classification(
        n_samples=n_samples, n_features=100, n_informative=20, random_state=0
    )
    description = f"make_classification({n_samples}, 100 features, 20 informative)"
    return _split("dense_binary", "classification", description, X, y)


def dense_multiclass(n_samples=100_000):
    """``make_classification``: 50 features, 30 informative, 10 classes."""
    X, y = make_classification(
        n_samples=n_samples,
        n_features=50,
        n_classes=10,
        n_informative=30,
        random_state=1,
    )
    description = (
        f"make_classification({n_samples}, 50 features, 30 informative, 10 classes)"
    )
    return _split("dense_multiclass", "classification", description, X, y)


def dense_regression(n_samples=200_000):
    """``make_regression``: 100 features (10 informative), noise 10."""
    X, y = make_regression(
        n_samples=n_samples, n_features=100, noise=10, random_state=3
    )
    description = f"make_regression({n_samples}, 100 features, noise=10)"
    return _split("dense_regression", "regression", description, X, y)


def tfidf_like(n_samples, n_features=VOCABULARY, seed=2):
    """Sparse tf-idf-like CSR matrix with L2-normalized rows.

    Documents have Poisson(``TOKENS_PER_ROW``) tokens drawn from a Zipf
    distribution over the vocabulary (term ranks assigned to random columns);
    the values are ``(1 + log count) * idf`` with scikit-learn's smoothed idf.
    """
    rng = np.random.default_rng(seed)
    lengths = np.maximum(rng.poisson(TOKENS_PER_ROW, n_samples), 1)
    frequency = 1.0 / np.arange(1, n_features + 1)
    column_of_rank = rng.permutation(n_features)
    ranks = rng.choice(n_features, size=lengths.sum(), p=frequency / frequency.sum())
    rows = np.repeat(np.arange(n_samples), lengths)
    X = sp.csr_matrix(
        (np.ones(len(ranks)), (rows, column_of_rank[ranks])),
        shape=(n_samples, n_features),
    )
    X.sum_duplicates()  # token counts
    document_frequency = np.bincount(X.indices, minlength=n_features)
    idf = np.log((1 + n_samples) / (1 + document_frequency)) + 1
    X.data = (1 + np.log(X.data)) * idf[X.indices]
    return normalize(X, norm="l2", copy=False), rng


def sparse_binary(n_samples=100_000):
    """Text-like CSR data; labels from a sparse linear model, 5% flipped."""
    X, rng = tfidf_like(n_samples)
    n_features = X.shape[1]
    coef = rng.normal(size=n_features) * (rng.random(n_features) < INFORMATIVE_TERMS)
    score = X @ coef
    y = (score > np.median(score)).astype(np.int64)
    flip = rng.random(n_samples) < LABEL_NOISE
    y[flip] = 1 - y[flip]
    description = (
        f"tf-idf-like CSR {n_samples} x {n_features}, ~50 nnz/row, Zipf terms, "
        f"sparse linear labels, {LABEL_NOISE:.0%} flipped"
    )
    return _split("sparse_binary", "classification", description, X, y)


DATASETS = {
    "dense_binary": (dense_binary, 200_000),
    "dense_multiclass": (dense_multiclass, 100_000),
    "sparse_binary": (sparse_binary, 100_000),
    "dense_regression": (dense_regression, 200_000),
}


def make_dataset(name, scale=1.0):
    """Generate dataset ``name`` with ``scale`` times its full number of rows."""
    build, n_samples = DATASETS[name]
    return build(int(round(n_samples * scale)))
