"""The package version, in a module of its own: the modules that record it in files
(checkpoints, model files, the tuning cache) and the command line import it from here,
below the package, whose ``__init__`` imports the estimators."""

__version__ = "0.2.0"
