"""Run the tests on the installed ``sklearn_nnopt``, not on this source tree.

``pip install .`` builds the compiled kernels (``sklearn_nnopt/_kernels/*.pyx``)
into the installed package; the ``sklearn_nnopt/`` directory beside this file
holds the Python sources only. ``python -m pytest`` puts the current directory
first on ``sys.path``, where ``import sklearn_nnopt`` would find those unbuilt
sources (and run every fit on the numpy steppers). pytest loads this file
before it collects anything (``--import-mode=importlib``, set in
``pyproject.toml``, adds no directory to ``sys.path`` itself); it takes the
repository's root off ``sys.path`` and imports every module of the installed
package, so that the doctests collected from ``sklearn_nnopt/*.py`` run on the
installed modules too. An editable install (``pip install
--no-build-isolation -e .``) works the same way: its import hook serves the
sources and the built modules.

Without any install, the sources are tested as they are, and
``tests/test_kernels.py`` fails, saying that the kernels are not built.
"""

import importlib
import os
import pkgutil
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))


def _not_root(entry):
    return os.path.abspath(entry or os.curdir) != ROOT


_path = list(sys.path)
sys.path[:] = [entry for entry in sys.path if _not_root(entry)]
try:
    import sklearn_nnopt
except ImportError:  # not installed: test the sources
    sys.path[:] = _path
    import sklearn_nnopt

for _module in pkgutil.walk_packages(sklearn_nnopt.__path__, "sklearn_nnopt."):
    try:
        importlib.import_module(_module.name)
    except ImportError:  # an optional dependency (matplotlib): collected as is
        pass
