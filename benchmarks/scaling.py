"""Time per epoch as the dense binary set grows in rows and in features.

``python benchmarks/scaling.py`` prints a markdown table (and ``--quick`` a
smaller one). Each cell is the median over 3 fits of
``(fit(max_iter=6) - fit(max_iter=1)) / 5``: the set-up (validation, automatic
step) cancels out, leaving the cost of one epoch at batch size 256.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import LinearNNClassifier

OPTIMIZERS = ("sgd", "adam")


def per_epoch(X, y, optimizer, repeats=3):
    """Median seconds per epoch, set-up excluded."""

    def fit_time(epochs):
        start = time.perf_counter()
        LinearNNClassifier(
            optimizer=optimizer, batch_size=256, max_iter=epochs, tol=None
        ).fit(X, y)
        return time.perf_counter() - start

    times = [(fit_time(6) - fit_time(1)) / 5 for _ in range(repeats)]
    return float(np.median(times))


def data(n_samples, n_features):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=min(20, n_features),
        n_redundant=0,
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def table(title, key, cases):
    lines = [
        f"**{title}**",
        "",
        f"| {key} | "
        + " | ".join(f"{o} ms/epoch | {o} us/row" for o in OPTIMIZERS)
        + " |",
        "|---:|" + "---:|---:|" * len(OPTIMIZERS),
    ]
    for value, (X, y) in cases:
        cells = []
        for optimizer in OPTIMIZERS:
            seconds = per_epoch(X, y, optimizer)
            cells += [f"{seconds * 1e3:.1f}", f"{seconds / len(y) * 1e6:.3f}"]
        lines.append(f"| {value:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    rows = (
        [2_500, 5_000, 10_000, 20_000]
        if args.quick
        else [25_000, 50_000, 100_000, 200_000]
    )
    features = [10, 100, 300, 1000]
    n_for_features = 5_000 if args.quick else 50_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        print(table("rows (100 features)", "rows", [(n, data(n, 100)) for n in rows]))
        print()
        print(
            table(
                f"features ({n_for_features:,} rows)",
                "features",
                [(d, data(n_for_features, d)) for d in features],
            )
        )


if __name__ == "__main__":
    main()
