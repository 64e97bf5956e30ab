"""The ``tfest`` command line: argparse, the run record, data readers and the CLI's model.

Top layer (see docs/architecture.md): builds on every other part; nothing imports it but
``tfest_adapters.__main__``.
"""

from tfest_adapters.cli._app import main

__all__ = ['main']
