"""The ``ledger`` command line: a composition root, like the API's app factory."""
