"""
Out-of-core training: stream a memory-mapped file through ``partial_fit``
=========================================================================

``partial_fit`` runs one epoch over the rows it is given and keeps everything
else (coefficients, the optimizer's state and step count, the random state),
so a model can learn from data that is never in memory at once.

This example writes 200,000 x 50 float32 rows to a ``np.memmap`` file in a
temporary directory, chunk by chunk, from a known linear model plus noise. It
then trains ``LinearNNClassifier`` by reading 10,000 rows at a time from the
file for a few passes, and compares the test accuracy with an in-memory ``fit``
on the same rows (which at this size still fits in memory) and with the true
model. Last, if Dask is installed, ``dask_ml.wrappers.Incremental`` does the
same streaming over a ``dask.array`` backed by the same file.
"""

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import LinearNNClassifier

N_SAMPLES, N_FEATURES, CHUNK = 200_000, 50, 10_000
N_TEST = 20_000
N_TRAIN = N_SAMPLES - N_TEST
N_PASSES = 3
SEED = 0

# The known model: a sparse-ish weight vector, an offset and Gaussian noise.
truth = np.random.default_rng(SEED)
TRUE_COEF = truth.normal(size=N_FEATURES) * (truth.random(N_FEATURES) < 0.6)
TRUE_INTERCEPT = 0.5
NOISE = 1.0


def write_dataset(directory):
    """Write X (float32) and y (int8) to memmap files, one chunk at a time."""
    X_path, y_path = directory / "X.f32", directory / "y.i8"
    X = np.memmap(X_path, dtype=np.float32, mode="w+", shape=(N_SAMPLES, N_FEATURES))
    y = np.memmap(y_path, dtype=np.int8, mode="w+", shape=(N_SAMPLES,))
    for i, start in enumerate(range(0, N_SAMPLES, CHUNK)):
        stop = min(start + CHUNK, N_SAMPLES)
        rng = np.random.default_rng([SEED, i])  # chunk i is reproducible alone
        Xc = rng.normal(size=(stop - start, N_FEATURES))
        z = Xc @ TRUE_COEF + TRUE_INTERCEPT + NOISE * rng.normal(size=stop - start)
        X[start:stop] = Xc
        y[start:stop] = z > 0
    X.flush()
    y.flush()
    del X, y  # close the files; training reopens them read-only
    return X_path, y_path


def open_dataset(X_path, y_path):
    X = np.memmap(X_path, dtype=np.float32, mode="r", shape=(N_SAMPLES, N_FEATURES))
    y = np.memmap(y_path, dtype=np.int8, mode="r", shape=(N_SAMPLES,))
    return X, y


def stream(X, y, classes):
    """``partial_fit`` over chunks of the memmap, in a new order each pass."""
    clf = LinearNNClassifier(optimizer="adam", random_state=SEED)
    X_test, y_test = np.asarray(X[N_TRAIN:]), np.asarray(y[N_TRAIN:])
    order = np.random.default_rng(SEED)
    starts = np.arange(0, N_TRAIN, CHUNK)
    start_time = time.perf_counter()
    for n_pass in range(1, N_PASSES + 1):
        for start in order.permutation(starts):
            # Only these CHUNK rows are read from the file (and copied) now.
            clf.partial_fit(X[start : start + CHUNK], y[start : start + CHUNK], classes)
        seconds = time.perf_counter() - start_time
        print(
            f"  pass {n_pass}: test accuracy {clf.score(X_test, y_test):.4f}  "
            f"({clf.n_iter_} partial_fit calls, {clf.t_} optimizer steps, "
            f"{seconds:.2f}s)"
        )
    return clf


def in_memory(X, y):
    """The reference: load the training rows at once and ``fit``."""
    X_train, y_train = np.array(X[:N_TRAIN]), np.array(y[:N_TRAIN])
    start_time = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LinearNNClassifier(optimizer="adam", random_state=SEED)
        clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start_time
    return clf, seconds


def read_rows(path, dtype, shape, start, stop):
    """One block of a dask.array: open the memmap in the task, copy its rows."""
    return np.array(np.memmap(path, dtype=dtype, mode="r", shape=shape)[start:stop])


def with_dask(X_path, y_path, classes):
    """The same stream with Dask: each block of the dask.array is one partial_fit."""
    try:
        import dask.array as da
        from dask import delayed
        from dask_ml.wrappers import Incremental
        from distributed import Client
    except ImportError:
        print(
            "Dask is not installed; to run this part: pip install '.[dask]' "
            "(that is dask[array], distributed and dask-ml)"
        )
        return

    def dask_rows(path, dtype, shape, start, stop):
        """Rows ``start:stop`` of a memmap file as a dask.array of CHUNK-row blocks.

        Each block is read by the worker that needs it; ``da.from_array(memmap)``
        would instead pickle the whole memmap into the task graph.
        """
        blocks = []
        for lo in range(start, stop, CHUNK):
            hi = min(lo + CHUNK, stop)
            block = delayed(read_rows)(path, dtype, shape, lo, hi)
            blocks.append(da.from_delayed(block, (hi - lo, *shape[1:]), dtype))
        return da.concatenate(blocks)

    X_shape, y_shape = (N_SAMPLES, N_FEATURES), (N_SAMPLES,)
    Xd = dask_rows(X_path, np.float32, X_shape, 0, N_TRAIN)
    yd = dask_rows(y_path, np.int8, y_shape, 0, N_TRAIN)
    Xd_test = dask_rows(X_path, np.float32, X_shape, N_TRAIN, N_SAMPLES)
    yd_test = dask_rows(y_path, np.int8, y_shape, N_TRAIN, N_SAMPLES)
    # An in-process cluster; Client("tcp://scheduler:8786") would use a real one
    # (whose workers must then see the files).
    with Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        print(f"Dask, {client}:")
        inc = Incremental(
            LinearNNClassifier(optimizer="adam", random_state=SEED),
            scoring="accuracy",
            random_state=SEED,  # the order in which the blocks are visited
        )
        start_time = time.perf_counter()
        inc.fit(Xd, yd, classes=classes)
        for _ in range(N_PASSES - 1):
            inc.partial_fit(Xd, yd)
        seconds = time.perf_counter() - start_time
        print(
            f"  Incremental, {N_PASSES} passes over {Xd.numblocks[0]} blocks: "
            f"test accuracy {inc.score(Xd_test, yd_test):.4f}  "
            f"({inc.estimator_.n_iter_} partial_fit calls, {seconds:.2f}s)"
        )


def main():
    with tempfile.TemporaryDirectory(prefix="sklearn_nnopt_ooc_") as tmp:
        start_time = time.perf_counter()
        paths = write_dataset(Path(tmp))
        size = sum(p.stat().st_size for p in paths) / 2**20
        print(
            f"Wrote {N_SAMPLES:,} x {N_FEATURES} rows ({size:.1f} MiB) to {tmp} "
            f"in {time.perf_counter() - start_time:.2f}s; train on the first "
            f"{N_TRAIN:,}, test on the last {N_TEST:,}."
        )
        X, y = open_dataset(*paths)
        classes = np.array([0, 1])

        X_test, y_test = np.asarray(X[N_TRAIN:]), np.asarray(y[N_TRAIN:])
        z = X_test.astype(np.float64) @ TRUE_COEF + TRUE_INTERCEPT
        print(f"The true linear model scores {np.mean((z > 0) == y_test):.4f}.")

        print(f"partial_fit over chunks of {CHUNK:,} rows read from the memmap:")
        streamed = stream(X, y, classes)

        reference, seconds = in_memory(X, y)
        print(
            f"In-memory fit on all {N_TRAIN:,} rows: test accuracy "
            f"{reference.score(X_test, y_test):.4f}  "
            f"({reference.n_iter_} epochs, {seconds:.2f}s)"
        )
        gap = streamed.score(X_test, y_test) - reference.score(X_test, y_test)
        print(f"Streamed minus in-memory accuracy: {gap:+.4f}")

        del X, y, X_test, y_test  # release the files before the directory goes
        with_dask(*paths, classes)
    print(f"Removed {tmp}.")


if __name__ == "__main__":
    main()
