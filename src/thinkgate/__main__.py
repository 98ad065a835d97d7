"""``python -m thinkgate``: the same as the ``thinkgate`` command."""

from thinkgate.cli.entry import main

main()
