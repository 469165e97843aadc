"""Sphinx configuration of the sklearn-nnopt documentation.

Build (from the repository root, no network needed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery runs every ``examples/plot_*.py`` during the build; the other
examples (``quickstart.py``, ``out_of_core.py``) are shown without running.
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the working tree, also when another copy is installed.
sys.path.insert(0, str(ROOT))

import sklearn_nnopt  # noqa: E402

# Figures are drawn without a display.
os.environ.setdefault("MPLBACKEND", "Agg")

project = "sklearn-nnopt"
author = "sklearn-nnopt developers"
copyright = "sklearn-nnopt developers, BSD-3-Clause"
version = release = sklearn_nnopt.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb"]
root_doc = "index"
default_role = "literal"

# -- autodoc / autosummary / numpydoc ---------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# One page per class, written by the autosummary template; numpydoc must not
# add a second table of the same members.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# "See Also" entries such as sklearn.linear_model.SGDClassifier are not
# documented here: no intersphinx (no network at build time).
numpydoc_xref_param_type = False

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-nnopt {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
# Top-level pages have no section navigation: no empty left sidebar there.
html_sidebars = {
    "**": ["sidebar-nav-bs"],
    "index": [],
    "getting_started": [],
    "how_to_choose": [],
    "common_mistakes": [],
}
html_show_sourcelink = False

# -- sphinx-gallery --------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Only plot_*.py run (the default pattern); quickstart.py and out_of_core.py
    # are rendered without running.
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_nnopt",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_nnopt": None},
    "remove_config_comments": True,
    "plot_gallery": "True",
    "min_reported_time": 1,
}


# -- docstring fixes ---------------------------------------------------------
# Methods inherited from scikit-learn (score, get_metadata_routing,
# set_fit_request, ...) cross-reference scikit-learn's own user guide labels and
# glossary terms, which do not exist here (and intersphinx needs the network).
# Keep their text, drop the dangling reference, before numpydoc parses them.
SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _fix_docstring(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] == "sklearn":
        lines[:] = [SKLEARN_ROLE.sub(r"\1", line) for line in lines]


def setup(app):
    # numpydoc's own handler has the default priority 500: run before it.
    app.connect("autodoc-process-docstring", _fix_docstring, priority=100)
