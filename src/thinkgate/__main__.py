"""``python -m thinkgate``: the same as the ``thinkgate`` command."""

from thinkgate.cli.main import main

main()
