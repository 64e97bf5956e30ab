"""A role script without TensorFlow, for fast tests of the cluster runner's process handling.

Each role prints its TF_CONFIG task, then behaves like its TensorFlow counterpart would:
a ps blocks forever (as in ``server.join()``), the others work for ``--secs`` and exit 0.
``--fail ROLE`` makes that role exit with code 3, ``--hang ROLE`` makes it never end,
``--quit ROLE`` makes it exit 0 at once (a ps that quits), and ``--echo-env NAME`` prints an
environment variable. :func:`role_main` is the same as a function target.
"""

import argparse
import json
import os
import sys
import time


def main(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument('--secs', type=float, default=0.2)
  parser.add_argument('--fail', action='append', default=[])
  parser.add_argument('--hang', action='append', default=[])
  parser.add_argument('--quit', action='append', default=[])
  parser.add_argument('--echo-env', action='append', default=[])
  args = parser.parse_args(argv)
  tf_config = json.loads(os.environ['TF_CONFIG'])
  task = tf_config['task']
  name = '%s:%d' % (task['type'], task['index'])
  print(
    'role %s pid %d cluster %s'
    % (name, os.getpid(), json.dumps(tf_config['cluster'], sort_keys=True))
  )
  for var in args.echo_env:
    print('env %s=%s' % (var, os.environ.get(var, '<unset>')))
  sys.stdout.flush()
  if name in args.quit:
    return 0
  if name in args.fail:
    time.sleep(args.secs)
    print('role %s fails' % name, file=sys.stderr)
    return 3
  if name in args.hang or task['type'] == 'ps':
    print('role %s blocks' % name, flush=True)
    while True:
      time.sleep(1)
  time.sleep(args.secs)
  print('role %s done' % name)
  return 0


def role_main(secs):
  """The script's behaviour as a function target: ``role_main(secs)``."""
  return main(['--secs', str(secs)])


if __name__ == '__main__':
  sys.exit(main())
