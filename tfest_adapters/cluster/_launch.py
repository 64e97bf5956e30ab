"""What a role process of a local cluster is started with: ports, command line, environment.

Also checks the options of :class:`~tfest_adapters.cluster.LocalCluster` that shape them (the
target, ``env``, directories, ``log``), refusing bad ones before anything is started.
"""

import collections.abc
import io
import json
import os
import socket
import sys

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.cluster import _tf_config

LOOPBACK = '127.0.0.1'

# The module each role process runs (python -m ...): it watches its parent, then runs the target.
CHILD_MODULE = 'tfest_adapters.cluster._child'


def free_loopback_ports(count):
  """Returns ``count`` distinct TCP ports that were free on 127.0.0.1 a moment ago.

  The sockets are bound together (so the ports differ) and closed before returning: a port
  can still be taken by another program before the role binds it. TensorFlow's gRPC server
  refuses ``SO_REUSEPORT``, so a port cannot be held open for it.
  """
  count = validation.check_non_negative_int('count', count)
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      s.bind((LOOPBACK, 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def role_command(python, target_args):
  """The command line of a role process: ``python -m CHILD_MODULE PARENT_PID`` + the target."""
  return [python, '-m', CHILD_MODULE, str(os.getpid())] + list(target_args)


def role_env(extra, tf_config):
  """The environment of a role: this process's, ``extra`` on top (None removes), its TF_CONFIG.

  ``TF_CPP_MIN_LOG_LEVEL`` defaults to '2' and ``PYTHONUNBUFFERED`` is '1' (its lines stream).
  """
  env = dict(os.environ)
  env.pop(_tf_config.TF_CONFIG_ENV, None)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  env['PYTHONUNBUFFERED'] = '1'
  for key, value in extra.items():
    if value is None:
      env.pop(key, None)
    else:
      env[key] = value
  env[_tf_config.TF_CONFIG_ENV] = json.dumps(tf_config)
  return env


def target_command(target, args):
  """The target part of a role's command line (after the parent PID), checked.

  Args:
    target: the path of a script, or a module-level function.
    args: the script's command-line arguments, or the function's JSON-serializable arguments.

  Returns:
    ``['script', PATH, ARG, ...]`` or ``['callable', MODULE, QUALNAME, FILE, JSON_ARGS]``, as
    ``tfest_adapters.cluster._child`` reads them.
  """
  if isinstance(args, (str, bytes)) or not isinstance(args, collections.abc.Iterable):
    validation.fail('args', 'a list of arguments', args, error=exceptions.ArgumentTypeError)
  args = list(args)
  if isinstance(target, (str, os.PathLike)):
    path = os.path.abspath(os.fspath(target))
    if not os.path.isfile(path):
      validation.fail(
        'script_or_callable',
        'the path of a Python script file or a function',
        os.fspath(target),
        'No such file (relative paths start at %s)' % os.getcwd(),
      )
    return ['script', path] + [str(a) for a in args]
  if callable(target):
    module = getattr(target, '__module__', None)
    qualname = getattr(target, '__qualname__', None)
    if not module or not qualname or '<' in qualname:
      validation.fail(
        'script_or_callable',
        'a module-level function (the role processes import it by name)',
        target,
        'Define it at the top level of a module or a script file',
        error=exceptions.ArgumentTypeError,
      )
    path = getattr(sys.modules.get(module), '__file__', None) or ''
    if module == '__main__' and not path:
      validation.fail(
        'script_or_callable',
        'a function defined in a file',
        target,
        'Functions defined in a notebook or at the prompt cannot be imported '
        'by another process: move it to a .py file',
        error=exceptions.ArgumentTypeError,
      )
    try:
      encoded = json.dumps(args)
    except (TypeError, ValueError):
      validation.fail(
        'args',
        'JSON-serializable arguments for a function target',
        args,
        error=exceptions.ArgumentTypeError,
      )
    return ['callable', module, qualname, os.path.abspath(path) if path else '', encoded]
  validation.fail(
    'script_or_callable',
    'the path of a Python script or a module-level function',
    target,
    error=exceptions.ArgumentTypeError,
  )


def check_env(env):
  """``env`` as a new dict of name -> str or None, refusing TF_CONFIG (each role has its own)."""
  if env is None:
    return {}
  if not isinstance(env, collections.abc.Mapping):
    validation.fail(
      'env',
      'a dict of environment variable -> str (or None to remove it)',
      env,
      error=exceptions.ArgumentTypeError,
    )
  for key, value in env.items():
    if not isinstance(key, str) or not (value is None or isinstance(value, str)):
      validation.fail(
        'env[%r]' % (key,),
        'a str value under a str name (or None)',
        value,
        'Environment variables are strings: str(%r)' % (value,),
        error=exceptions.ArgumentTypeError,
      )
    if key == _tf_config.TF_CONFIG_ENV:
      validation.fail('env', 'a dict without TF_CONFIG (each role gets its own)', dict(env))
  return dict(env)


def check_dir(name, path, create=False):
  """``path`` as an absolute existing directory (made first with ``create``), or None."""
  if path is None:
    return None
  if not isinstance(path, (str, os.PathLike)):
    validation.fail(name, 'a directory path or None', path, error=exceptions.ArgumentTypeError)
  path = os.path.abspath(os.fspath(path))
  if create:
    os.makedirs(path, exist_ok=True)
  if not os.path.isdir(path):
    validation.fail(name, 'an existing directory', path)
  return path


def log_sink(log):
  """The function each prefixed line goes to for a ``log`` option, or None for silence."""
  if log is True:
    return lambda line: (sys.stderr.write(line + '\n'), sys.stderr.flush())
  if log is False or log is None:
    return None
  if callable(log):
    return log
  if isinstance(log, io.IOBase) or hasattr(log, 'write'):

    def write(line):
      log.write(line + '\n')
      log.flush()

    return write
  validation.fail(
    'log',
    'True, False, a callable taking each line, or a writable file',
    log,
    error=exceptions.ArgumentTypeError,
  )
