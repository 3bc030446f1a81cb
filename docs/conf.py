"""Sphinx configuration of stackae's documentation (``python -m sphinx -W -b html docs docs/_build/html``)."""

from __future__ import annotations

import os
import warnings

import stackae

project = "stackae"
author = "the stackae developers"
copyright = "2026, the stackae developers"
release = stackae.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
]
myst_enable_extensions = ["dollarmath", "colon_fence"]

# the math: MathJax shipped with the pages (_static/mathjax: TeX in, SVG out, no fonts to
# fetch), so that a reader without a network sees formulas, not raw \( ... \)
mathjax_path = "mathjax/tex-svg.js"
myst_heading_anchors = 3

# the API reference: one page per public name, from the numpydoc docstrings
autosummary_generate = True
templates_path = ["_templates"]  # a class page lists its members, its own and its mixins'
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# the gallery: plot_*.py run when the docs are built (seconds each, on the embedded
# digits), in the order of their numbers; the MNIST examples (stored_*.py) show their
# stored output instead, after them
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
}
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)

html_theme = "pydata_sphinx_theme"
html_title = f"stackae {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out what an estimator inherits from scikit-learn (get_params, set_output,
    the metadata-routing ``set_*_request`` methods, ...): scikit-learn documents them,
    with references into its own pages."""
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn") or (name.startswith("set_") and name.endswith("_request")):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
