"""The ``thinkgate`` command line."""
