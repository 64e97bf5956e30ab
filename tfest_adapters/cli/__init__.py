"""The ``tfest`` command line: train, evaluate, predict and export models from data files.

Top layer (see docs/architecture.md): builds on every other part; nothing imports it but
``tfest_adapters.__main__``, which calls :func:`main`.
"""

from tfest_adapters.cli._main import main

__all__ = ['main']
