"""Runs ``tfest``: parses the arguments, runs a command's two phases, reports errors in one line.

Exit status: 0 on success, 2 for a bad argument or input (found before anything runs), 1 when
the run fails, 130 when interrupted. ``--debug`` shows the traceback instead of the line.
"""

import contextlib
import logging
import os
import sys
import warnings

from tfest_adapters import console
from tfest_adapters import exceptions
from tfest_adapters.cli import _commands as commands
from tfest_adapters.cli import _parser as parser_lib


def main(argv=None):
  """Runs ``tfest`` on ``argv`` (default ``sys.argv[1:]``) and returns the exit status.

  0 on success, 2 for a bad argument or input (found before anything runs), 1 when the run
  fails, 130 when interrupted.
  """
  args = parser_lib.build_parser().parse_args(argv)
  with _quiet(args.verbose):
    return _run(args)


def _run(args):
  prepare, run = commands.COMMANDS[args.command]
  phase = 'checking the input'
  try:
    plan = prepare(args)
    phase = 'running'
    return run(plan)
  except exceptions.TfestError as e:
    if args.debug:
      raise
    sys.stdout.flush()
    print('tfest: error: %s' % _one_line(e), file=sys.stderr)
    return 2 if phase == 'checking the input' else 1
  except KeyboardInterrupt:
    print('tfest: interrupted', file=sys.stderr)
    return 130
  except BrokenPipeError:
    # Output piped into a command that stopped reading (`tfest predict ... | head`): stop
    # quietly, as the Python docs advise (and keep the interpreter from complaining at exit).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1
  except Exception as e:
    # TensorFlow's own errors: one line, the traceback with --debug.
    if args.debug:
      raise
    sys.stdout.flush()
    print(
      'tfest: error: %s while %s: %s (run again with --debug for the traceback)'
      % (type(e).__name__, phase, _one_line(e)),
      file=sys.stderr,
    )
    return 1


def _one_line(error):
  """The first line of an error message; for a TensorFlow graph error, the op's own message."""
  text = getattr(error, 'message', None) or str(error) or type(error).__name__
  lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
  if lines and lines[0].startswith('Graph execution error'):
    # 'Graph execution error:', 'Detected at node ...', the Python trace, "Node: 'x'", then
    # the op's message.
    for i, line in enumerate(lines[:-1]):
      if line.startswith('Node: '):
        return '%s (at node %s)' % (lines[i + 1], line[len('Node: ') :])
  return lines[0] if lines else type(error).__name__


@contextlib.contextmanager
def _quiet(verbose):
  """Silences TensorFlow's logging and warnings while tfest runs, unless ``verbose``.

  Entered before TensorFlow is imported: ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 (a value
  already set is kept), so that an error is the only line on stderr. The logger level and
  warning filters are restored on exit (main may run inside a larger program).
  """
  if verbose:
    console.verbose_logging()
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '0')
    yield
    return
  console.set_cpp_log_level(3)
  logger = logging.getLogger('tensorflow')
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    with warnings.catch_warnings():
      warnings.filterwarnings('ignore', module=r'(tensorflow|keras|tf_keras)(\.|$)')
      warnings.filterwarnings('ignore', category=DeprecationWarning)
      yield
  finally:
    logger.setLevel(level)
