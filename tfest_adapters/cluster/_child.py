"""The entry point of each role process that :class:`~tfest_adapters.cluster.LocalCluster` starts.

``python -m tfest_adapters.cluster._child PARENT_PID script PATH [ARG ...]`` runs a script as
``__main__``; ``... PARENT_PID callable MODULE QUALNAME FILE JSON_ARGS`` calls a function. The
role ends itself when the process that started it is gone, so that no ps outlives its cluster.
"""

import importlib
import importlib.util
import json
import os
import runpy
import signal
import sys
import threading
import time

_PARENT_POLL_SECS = 0.5


def _watch_parent(parent_pid):
  while True:
    if os.getppid() != parent_pid:
      try:  # Nobody may read it any more: the pipe can be broken.
        sys.stderr.write(
          'tfest cluster: the process that started this role (pid %d) is '
          'gone; ending this role (pid %d).\n' % (parent_pid, os.getpid())
        )
        sys.stderr.flush()
      except Exception:
        pass
      os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(_PARENT_POLL_SECS)


def _load_callable(module_name, qualname, path):
  if module_name == '__main__':
    namespace = runpy.run_path(path, run_name='__tfest_cluster_main__')
    obj = None
    for i, part in enumerate(qualname.split('.')):
      obj = namespace[part] if i == 0 else getattr(obj, part)
    return obj
  try:
    module = importlib.import_module(module_name)
  except ImportError:
    if not path:
      raise
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
  obj = module
  for part in qualname.split('.'):
    obj = getattr(obj, part)
  return obj


def main(argv):
  parent_pid = int(argv[1])
  threading.Thread(
    target=_watch_parent, args=(parent_pid,), name='tfest-parent-watch', daemon=True
  ).start()
  kind = argv[2]
  if kind == 'script':
    path = argv[3]
    sys.argv = [path] + list(argv[4:])
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    runpy.run_path(path, run_name='__main__')
    return 0
  if kind == 'callable':
    module_name, qualname, path, args = argv[3], argv[4], argv[5], json.loads(argv[6])
    if path:
      sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    result = _load_callable(module_name, qualname, path)(*args)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
  raise SystemExit('tfest cluster: unknown target kind %r' % kind)


if __name__ == '__main__':
  sys.exit(main(sys.argv))
