"""Machine description and the result tables, as text and as markdown."""

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import sklearn

import sklearn_nnopt

ENVIRONMENT = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)
REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------- machine
def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return [
        {
            key: info.get(key)
            for key in ("prefix", "internal_api", "version", "architecture")
        }
        | {"num_threads": info.get("num_threads")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def _git_commit():
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (with uncommitted changes)" if dirty else "")


def machine_info():
    """CPU, cores, library versions, BLAS and the BLAS-related environment."""
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(affinity(0)) if affinity else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "sklearn_nnopt": f"{sklearn_nnopt.__version__}, git {_git_commit()}",
        "blas": _blas(),
        "environment": {name: os.environ.get(name, "unset") for name in ENVIRONMENT},
    }


# ------------------------------------------------------------------ format
def _seconds(value):
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _ratio(value, base):
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}"


def _score(value):
    return "-" if value is None else f"{value:.4f}"


def _spread(times):
    """Slowest over fastest repetition: how noisy a median is."""
    values = [t for t in times or [] if t is not None]
    return f"{max(values) / min(values):.2f}" if len(values) > 1 else "-"


def _gap(value):
    if value is None:
        return "-"
    return "0" if value == 0 else f"{value:.1e}"


@dataclass
class Table:
    """A titled table of strings."""

    title: str
    header: list
    rows: list


def per_epoch_table(section):
    """Seconds per epoch and ratios to the floor and to the peers."""
    spe = section["seconds_per_epoch"]
    mlp, sgd = section["mlp"], section["sgd_peer"]
    rows = [
        [
            name,
            _seconds(seconds),
            _ratio(seconds, spe[section["floor_of"][name]]),
            _ratio(seconds, spe[mlp]),
            _ratio(seconds, spe[sgd]),
            _spread(section["fit_seconds"][name]),
        ]
        for name, seconds in spe.items()
    ]
    title = (
        f"Time per epoch (fit with max_iter={section['epochs']}, tol=None; median "
        f"of {section['repeats']}); x floor: vs the floor at the same batch size"
    )
    return Table(
        title,
        ["configuration", "s/epoch", "x floor", f"x {mlp}", f"x {sgd}", "max/min"],
        rows,
    )


def _progress(row):
    if "epochs" in row:
        return f"{row['epochs']} ep"
    if row.get("iterations") is not None:
        return f"{row['iterations']} it"
    return "-"


def time_to_target_table(section):
    """Time until the test score is within 1% of the reference's."""
    rows = section["rows"]
    reference = section["reference"]
    peers = [n for n in rows if not n.startswith("ours") and n != reference]
    peer_times = [rows[n]["seconds"] for n in peers if rows[n]["seconds"] is not None]
    fastest = min(peer_times) if peer_times else None
    table = []
    for name, row in rows.items():
        seconds = row["seconds"]
        time = _seconds(seconds) if seconds is not None else "not reached"
        table.append(
            [
                name,
                time,
                _progress(row),
                _score(row.get("score")),
                _ratio(seconds, fastest),
                _ratio(seconds, rows[reference]["seconds"]),
                _gap(row.get("gap")),
                _spread(row["times"]),
            ]
        )
    title = (
        f"Time to target: test score >= {section['target']:.4f} (1% below "
        f"{reference}'s {section['reference_score']:.4f}); reference row: its fit"
    )
    header = [
        "configuration",
        "time (s)",
        "epochs/iters",
        "test score",
        "x fastest peer",
        "x reference",
        "objective gap",
        "max/min",
    ]
    return Table(title, header, table)


def final_table(section):
    """Default fits: time, iterations, score and objective gap."""
    rows = [
        [
            name,
            _seconds(row["seconds"]),
            "-" if row["n_iter"] is None else str(row["n_iter"]),
            _score(row["score"]),
            _gap(row["gap"]),
        ]
        for name, row in section["rows"].items()
    ]
    title = (
        f"Final fits (default settings, stochastic methods capped at "
        f"{section['max_epochs']} epochs; one run); gap = (f - f_opt) / f_opt"
    )
    header = ["configuration", "fit (s)", "n_iter", "test score", "objective gap"]
    return Table(title, header, rows)


def memory_table(section):
    """Peak extra memory of a fit."""
    rows = [
        [name, f"{row['peak_bytes'] / 2**20:.1f}", f"{row['fraction_of_x']:.2f}"]
        for name, row in section["rows"].items()
    ]
    title = (
        f"Peak extra memory of a fit (tracemalloc; {section['epochs']} epochs or "
        f"5 iterations); X_train is {section['x_bytes'] / 2**20:.1f} MB"
    )
    return Table(title, ["configuration", "peak (MB)", "x X bytes"], rows)


def lbfgs_table(section):
    """Our L-BFGS to LogisticRegression's final objective."""
    logistic, ours = section["logistic"], section["ours"]
    reached = ours["seconds"] is not None
    rows = [
        [
            "LogisticRegression(lbfgs)",
            _seconds(logistic["seconds"]),
            str(logistic["n_iter"]),
            f"{logistic['objective']:.10g}",
            "1.00",
            _spread(logistic["times"]),
        ],
        [
            "ours lbfgs (tol=1e-10, fewest iterations)",
            _seconds(ours["seconds"]) if reached else "not reached",
            "-" if ours["iterations"] is None else str(ours["iterations"]),
            "-" if "objective" not in ours else f"{ours['objective']:.10g}",
            _ratio(ours["seconds"], logistic["seconds"]),
            _spread(ours["times"]),
        ],
    ]
    title = (
        f"L-BFGS: time to LogisticRegression's final objective x (1 + 1e-6) = "
        f"{section['target']:.10g}"
    )
    header = [
        "solver",
        "fit (s)",
        "iterations",
        "objective",
        "x LogisticRegression",
        "max/min",
    ]
    return Table(title, header, rows)


def dataset_tables(result):
    """All tables of one dataset."""
    tables = [
        per_epoch_table(result["per_epoch"]),
        time_to_target_table(result["time_to_target"]),
        final_table(result["final"]),
        memory_table(result["memory"]),
    ]
    if "lbfgs" in result:
        tables.append(lbfgs_table(result["lbfgs"]))
    return tables


def _summary(result):
    info, optimum = result["info"], result["optimum"]
    shape = f"train {info['n_train']} x {info['n_features']}, test {info['n_test']}"
    if "nnz_per_row" in info:
        shape += f", {info['nnz_per_row']:.1f} nnz/row"
    summary = (
        f"{info['description']}; {shape}; optimum f_opt = "
        f"{optimum['best_objective']:.10g} (tight reference test score "
        f"{optimum['score']:.4f})"
    )
    loads = [load for load in result.get("load_average", []) if load is not None]
    if loads:
        summary += (
            f"; 1-minute load average at the section starts "
            f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores"
        )
    return summary


# ------------------------------------------------------------------ render
def _text_table(table):
    widths = [
        max(len(str(row[i])) for row in [table.header, *table.rows])
        for i in range(len(table.header))
    ]

    def line(row):
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    rule = "-" * len(line(table.header))
    return "\n".join(
        [table.title, rule, line(table.header), rule, *map(line, table.rows)]
    )


def render_text(name, result, tables):
    """One dataset's tables as aligned plain text."""
    blocks = [f"=== {name}: {_summary(result)}"]
    blocks += [_text_table(table) for table in tables]
    return "\n\n".join(blocks) + "\n"


def _markdown_table(table):
    def line(row):
        return "| " + " | ".join(str(cell) for cell in row) + " |"

    align = "|---|" + "---:|" * (len(table.header) - 1)
    return "\n".join(
        [f"**{table.title}**", "", line(table.header), align, *map(line, table.rows)]
    )


def _machine_markdown(machine):
    blas = machine["blas"]
    if isinstance(blas, list):
        blas = "; ".join(
            f"{b['internal_api']} {b['version']} ({b['prefix']}, {b['architecture']}, "
            f"{b['num_threads']} threads)"
            for b in blas
        )
    env = ", ".join(f"{k}={v}" for k, v in machine["environment"].items())
    rows = [
        ("CPU", machine["cpu"]),
        ("cores", f"{machine['cores']} ({machine['usable_cores']} usable)"),
        ("platform", machine["platform"]),
        ("Python", machine["python"]),
        (
            "numpy / scipy / scikit-learn",
            " / ".join(machine[k] for k in ("numpy", "scipy", "scikit-learn")),
        ),
        ("sklearn_nnopt", machine["sklearn_nnopt"]),
        ("BLAS (threadpoolctl)", blas),
        ("environment", env),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


METHOD = """\
- All numbers come from one process; timings are medians of repetitions run
  round-robin over the configurations of a table.
- Objective: mean loss + alpha/2 ||W||^2 with alpha = 1e-4 (intercept not
  penalized), computed by the benchmark on the training set for every fitted
  model; f_opt is the lowest value seen, normally that of a tightly converged
  LogisticRegression (tol=1e-10) or of Ridge. References:
  LogisticRegression(C=1/(n_train alpha)), Ridge(alpha=n_train alpha). MLPs get
  alpha * batch_size (their penalty is divided by the batch size).
  SGDClassifier is one-vs-rest on multiclass data: its objective there is
  evaluated on coefficients fitted to other (per-class binary) problems.
- Floor: per batch, gather the shuffled rows (np.take into a buffer; X[idx] for
  CSR), one X_b @ W and one X_b.T @ G; "contiguous" uses slices instead.
- Per epoch: fit(max_iter=E, tol=None) / E, setup included. Peers:
  SGDClassifier/SGDRegressor(learning_rate="constant"); MLPs with
  hidden_layer_sizes=(), batch_size=256, tol=0, n_iter_no_change=E+1.
- Time to target: partial_fit epoch by epoch (scoring off the clock) up to
  max_epochs; L-BFGS: the fit with the fewest iterations (max_iter=k) reaching
  the target. Estimators otherwise at their default settings.
- Memory: tracemalloc peak during a short fit; numpy allocations are traced
  (including scipy's L-BFGS-B work arrays, 2m + 5 = 25 floats per parameter),
  BLAS-internal buffers are not."""


def _load(results):
    load = results.get("load_average", {})
    return " / ".join(
        "-" if load.get(k) is None else f"{load[k]:.2f}" for k in ("start", "end")
    )


def render_markdown(results):
    """The whole run as a markdown document."""
    settings = ", ".join(f"{k}={v}" for k, v in results["settings"].items())
    parts = [
        "# sklearn_nnopt benchmarks",
        f"Reproduce (from the repository root):\n\n```bash\n{results['command']}\n```",
        f"Settings: {settings}. Total run time: {results['elapsed_s']:.0f} s. "
        f"1-minute load average at the start and end: {_load(results)}.",
        "## Machine",
        _machine_markdown(results["machine"]),
        "## Method",
        METHOD,
    ]
    for name, result in results["datasets"].items():
        parts += [f"## {name}", _summary(result)]
        parts += [_markdown_table(table) for table in dataset_tables(result)]
    return "\n\n".join(parts) + "\n"
