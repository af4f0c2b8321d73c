"""The ``labctl`` command line."""
