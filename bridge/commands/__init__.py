"""One module per ``bridge`` command (see ``bridge.cli``)."""
