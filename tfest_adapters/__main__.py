"""``python -m tfest_adapters`` and the ``tfest`` console script: see :mod:`tfest_adapters.cli._app`."""

import sys

from tfest_adapters.cli import _app


def main(argv=None):
  """Runs the ``tfest`` command line on ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
  return _app.main(argv)


if __name__ == '__main__':
  sys.exit(main())
