"""Fixtures shared by the core tests; this directory (with ``support.py`` and ``parallel_support.py``) is on ``sys.path``.

The tests mirror the package: ``execution/``, ``storage/``, ``plugins/``, ``cli/``, ``runs/``,
``definitions/``, ``backfills/``, ``io_handlers/``, ``metadata/``, ``partitions/``, ``automation/``; tests of the
kernel, model and application modules (``selection``, ``config``, ``loading``, the import checks) stay here.
"""
