"""``python -m tfest_adapters`` and the ``tfest`` console script: see :mod:`tfest_adapters.cli`."""

import sys

from tfest_adapters import cli


def main(argv=None):
  """Runs ``tfest`` on ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
  return cli.main(argv)


if __name__ == '__main__':
  sys.exit(main())
