"""``python -m gepad``: the same as the ``gepad`` command."""

from gepad.cli import main

raise SystemExit(main())
