"""``python -m rivers.cli``: the same as the ``rivers`` console script."""

from rivers.cli import main

raise SystemExit(main())
