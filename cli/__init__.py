"""The ``wenshu`` command line, on top of both the API and the worker."""
