"""Starting a real TF_CONFIG cluster as processes on 127.0.0.1, and ending it, bounded.

:class:`LocalCluster` starts one process per role (ps first, then the chief, the workers and
the evaluator), each with its own TF_CONFIG naming free loopback ports, streams every line each
role prints prefixed with its name (``[worker:0] ...``), and watches them from a monitor thread:

* A parameter server never ends by itself (``tf.estimator.train_and_evaluate`` blocks it in
  ``server.join()``). It is ended (SIGTERM, then SIGKILL) once the chief has finished with
  exit code 0 and no worker is still training, or once no other role is left.
* A role that fails (non-zero exit code) ends the run: the other roles are ended and the error
  names the role, its exit code and its last log lines.
* Watchdog: a role still running ``timeout`` seconds after it started, or a worker still
  running ``shutdown_timeout`` seconds after the chief finished, is ended and named in the
  error. A cluster whose ps was killed, or whose chief never comes back, otherwise hangs
  forever (TF waits for the missing task).
* Only the processes started here are ever signalled, by the PID their ``Popen`` holds, and
  only while that process has not been reaped (so the PID cannot have been reused).
* Each role process watches its parent and ends itself if the parent is gone (see
  :mod:`tfest_adapters.cluster._child`), so killing the Python process that runs this
  cannot leave a ps behind.

Nothing here imports TensorFlow: the roles do, in their own processes.
"""

import collections
import collections.abc
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from tfest_adapters.cluster import _tf_config
from tfest_adapters._core import validation
from tfest_adapters import exceptions

LOOPBACK = '127.0.0.1'

# Role statuses.
RUNNING = 'running'
EXITED = 'exited'        # Ended by itself with exit code 0.
FAILED = 'failed'        # Ended by itself with a non-zero exit code.
STOPPED = 'stopped'      # A ps ended by the runner once training was over (expected).
KILLED = 'killed'        # Ended through LocalCluster.kill() or restart() (asked for).
TIMED_OUT = 'timed out'  # Ended by the watchdog.
ABORTED = 'aborted'      # Ended by the runner because another role failed or timed out.
OK_STATUSES = (EXITED, STOPPED, KILLED)

_POLL_SECS = 0.05
_TAIL_LINES = 25
_KEPT_LINES = 20000
_PORT_HINTS = ('Address already in use', 'Could not start gRPC server', 'Failed to add port')


class RoleResult(collections.namedtuple(
    'RoleResult', ['name', 'status', 'returncode', 'seconds', 'restarts', 'pid', 'log_tail'])):
  """How one role of a :class:`LocalCluster` ended (its last incarnation, after restarts).

  Attributes:
    name: ``'<task_type>:<index>'``, e.g. ``'worker:0'``.
    status: 'exited' (code 0), 'failed' (non-zero code), 'stopped' (a ps ended by the runner
      after training), 'killed' (through ``kill``/``restart``), 'timed out' (ended by the
      watchdog), 'aborted' (ended because another role failed) or 'running'.
    returncode: the process exit code (negative: the signal that ended it), or None.
    seconds: how long the last incarnation ran.
    restarts: how many times the role was restarted.
    pid: the PID of the last incarnation.
    log_tail: tuple of its last log lines.
  """

  __slots__ = ()

  @property
  def ok(self):
    """Whether the role ended the way a successful run ends its roles."""
    return self.status in OK_STATUSES


class ClusterResult(object):
  """The outcome of a :class:`LocalCluster` run: one :class:`RoleResult` per role.

  Attributes:
    roles: dict of role name -> :class:`RoleResult`, in start order.
    seconds: wall time from the start of the first role to the end of the last one.
    error: the :class:`~tfest_adapters.exceptions.ClusterError` describing the first role
      that failed or hung, or None.
    tf_configs: dict of role name -> the TF_CONFIG dict the role ran with.
  """

  def __init__(self, roles, seconds, error, tf_configs):
    self.roles = roles
    self.seconds = seconds
    self.error = error
    self.tf_configs = tf_configs

  @property
  def ok(self):
    return self.error is None and all(r.ok for r in self.roles.values())

  @property
  def returncodes(self):
    """dict of role name -> exit code (a ps ended by the runner shows -SIGTERM)."""
    return {name: r.returncode for name, r in self.roles.items()}

  def __getitem__(self, name):
    return self.roles[name]

  def __repr__(self):
    return 'ClusterResult(ok=%s, seconds=%.1f, roles={%s})' % (
        self.ok, self.seconds, ', '.join('%r: %s (%s)' % (n, r.status, r.returncode)
                                         for n, r in self.roles.items()))


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


class _Role(object):
  """One role and its current process (internal; guarded by the cluster's lock)."""

  def __init__(self, task_type, index, tf_config):
    self.task_type = task_type
    self.index = index
    self.name = '%s:%d' % (task_type, index)
    self.tf_config = tf_config
    self.popen = None
    self.reader = None
    self.started = None
    self.ended = None
    self.deadline = None
    self.deadline_reason = None
    self.returncode = None
    self.status = None
    self.planned = None       # The status to record when it ends because we ended it.
    self.term_sent = None     # When SIGTERM was sent (SIGKILL follows after kill_grace).
    self.restarts = 0
    self.restarting = False   # Between the kill and the new process of restart().
    self.lines = collections.deque(maxlen=_KEPT_LINES)
    self.line_count = 0       # Lines of the current incarnation seen so far.
    self.log_file = None

  @property
  def running(self):
    return self.popen is not None and self.returncode is None

  def result(self, now, lines):
    end = self.ended if self.ended is not None else now
    return RoleResult(self.name, self.status or RUNNING, self.returncode,
                      round(end - self.started, 3) if self.started else 0.0, self.restarts,
                      self.popen.pid if self.popen else None, tuple(lines[-_TAIL_LINES:]))


class LocalCluster(object):
  """A real TF_CONFIG cluster of processes on 127.0.0.1: chief, workers, ps and evaluator.

  Every role runs the same target (a script, run as ``python SCRIPT ARGS``, or a module-level
  function) with its own ``TF_CONFIG``; ``tf.estimator.train_and_evaluate`` in the target does
  the rest, as on real machines. See the module docstring for how roles are ended.

  Example:

    with LocalCluster('examples/cluster_job.py', workers=1, ps=1, evaluator=True,
                      args=['--model-dir', '/tmp/run'], timeout=120) as cluster:
      cluster.wait_for_log('worker:0', r'step = \\d+')
      cluster.kill('worker:0')         # a worker lost mid-run: the chief goes on
      result = cluster.wait()          # raises ClusterError if a role failed or hung
    print(result.returncodes)

  Args:
    target: path of a Python script, or a module-level function (importable by a fresh
      interpreter: defined in a module or a script file, not in a notebook), called as
      ``target(*args)``; an int it returns is the exit code.
    workers: int >= 0, workers besides the chief.
    ps: int >= 0, parameter servers.
    evaluator: bool, whether to start an evaluator (outside the training cluster).
    args: command-line arguments of the script (str() of each), or JSON-serializable
      arguments of the function. The same for every role: a role finds its own from
      ``TF_CONFIG`` (:func:`tfest_adapters.cluster.current_role`).
    env: dict of environment variables set (value None: removed) in every role on top of this
      process's environment. ``TF_CONFIG`` is set per role; ``TF_CPP_MIN_LOG_LEVEL`` defaults
      to '2' and ``PYTHONUNBUFFERED`` to '1'.
    cwd: working directory of the roles (default: this process's).
    timeout: seconds each role process may run (from its start) before the watchdog ends it.
    shutdown_timeout: seconds the workers may go on after the chief finished.
    log: True to write every role's lines to ``sys.stderr`` prefixed with ``[role] ``, False
      for silence, a callable taking each prefixed line, or a writable text file.
    log_dir: None, or a directory to write one ``<type>-<index>.log`` file per role into.
    kill_grace: seconds between SIGTERM and SIGKILL when the runner ends a role.
    python: the interpreter of the roles (default: ``sys.executable``).
  """

  def __init__(self, target, workers=1, ps=1, evaluator=True, *, args=(), env=None, cwd=None,
               timeout=600, shutdown_timeout=60, log=True, log_dir=None, kill_grace=5,
               python=None):
    self._command = _target_command(target, args)
    self._workers = validation.check_non_negative_int('workers', workers)
    self._num_ps = validation.check_non_negative_int('ps', ps)
    self._evaluator = validation.check_bool('evaluator', evaluator)
    self._env = _validate_env(env)
    self._cwd = _validate_dir('cwd', cwd)
    self._timeout = validation.check_positive_number('timeout', timeout)
    self._shutdown_timeout = validation.check_positive_number(
        'shutdown_timeout', shutdown_timeout)
    self._sink = _validate_log(log)
    self._log_dir = _validate_dir('log_dir', log_dir, create=True)
    self._kill_grace = validation.check_positive_number('kill_grace', kill_grace)
    self._python = python or sys.executable

    ports = free_loopback_ports(1 + self._workers + self._num_ps)
    addresses = ['%s:%d' % (LOOPBACK, p) for p in ports]
    cluster = {_tf_config.CHIEF: addresses[:1]}
    if self._workers:
      cluster[_tf_config.WORKER] = addresses[1:1 + self._workers]
    if self._num_ps:
      cluster[_tf_config.PS] = addresses[1 + self._workers:]
    self._cluster_spec = cluster
    order = ([(_tf_config.PS, i) for i in range(self._num_ps)] +
             [(_tf_config.CHIEF, 0)] +
             [(_tf_config.WORKER, i) for i in range(self._workers)] +
             ([(_tf_config.EVALUATOR, 0)] if self._evaluator else []))
    self._roles = collections.OrderedDict()
    for task_type, index in order:
      role = _Role(task_type, index, _tf_config.make_tf_config(cluster, task_type, index))
      self._roles[role.name] = role

    # _lock guards the roles' processes and statuses; _log_lock guards their lines (taken
    # after _lock, never before it, so that a reader thread never waits for the monitor).
    self._lock = threading.RLock()
    self._log_lock = threading.Lock()
    self._log_changed = threading.Condition(self._log_lock)
    self._sink_lock = threading.Lock()
    self._monitor = None
    self._done = threading.Event()
    self._started_at = None
    self._ended_at = None
    self._chief_done_at = None
    self._error = None

  # Public view.

  @property
  def cluster_spec(self):
    """The training cluster, ``{'chief': ['127.0.0.1:port'], 'worker': [...], 'ps': [...]}``."""
    return {job: list(addresses) for job, addresses in self._cluster_spec.items()}

  @property
  def roles(self):
    """Role names in start order: ``['ps:0', 'chief:0', 'worker:0', 'evaluator:0']``."""
    return list(self._roles)

  def tf_config(self, role):
    """The TF_CONFIG dict of ``role`` (a copy)."""
    return json.loads(json.dumps(self._role(role).tf_config))

  def pid(self, role):
    """The PID of the current process of ``role`` (None before :meth:`start`)."""
    popen = self._role(role).popen
    return popen.pid if popen else None

  def is_running(self, role):
    with self._lock:
      return self._role(role).running

  def log(self, role):
    """The lines ``role``'s current process printed so far (the last 20000)."""
    r = self._role(role)
    with self._log_lock:
      return _current_lines(r)

  # Lifecycle.

  def start(self):
    """Starts every role (ps first) and the monitor thread. Returns self."""
    with self._lock:
      if self._started_at is not None:
        raise exceptions.ClusterError('this LocalCluster was already started; make a new one')
      self._started_at = time.monotonic()
      try:
        for role in self._roles.values():
          self._launch(role)
      except BaseException:
        for role in self._roles.values():
          if role.running:
            role.popen.kill()
            self._reap(role, role.popen.wait(), time.monotonic())
        self._done.set()
        raise
    self._monitor = threading.Thread(target=self._monitor_loop, name='tfest-cluster-monitor',
                                     daemon=True)
    self._monitor.start()
    return self

  def wait(self, check=True, timeout=None):
    """Waits until every role has ended (bounded by the watchdog) and returns the result.

    Args:
      check: raise the ClusterError of a failed or hung role (its ``result`` attribute holds
        the :class:`ClusterResult`); False to return the result in any case.
      timeout: None, or seconds from now after which the roles still running are ended and
        named in the error, like the watchdog does at each role's own ``timeout``.

    Returns:
      A :class:`ClusterResult`.

    Raises:
      ClusterError: with ``check``, when a role failed, hung or was aborted.
    """
    if self._started_at is None:
      self.start()
    if timeout is not None:
      timeout = validation.check_positive_number('timeout', timeout)
      with self._lock:
        deadline = time.monotonic() + timeout
        for role in self._roles.values():
          if role.running:
            role.deadline = min(role.deadline, deadline)
            role.deadline_reason = 'wait(timeout=%s)' % timeout
    try:
      while not self._done.wait(0.2):
        pass
    except BaseException:  # KeyboardInterrupt: do not leave the roles behind.
      self.stop()
      raise
    result = self._result()
    if check and result.error is not None:
      raise result.error
    return result

  def stop(self):
    """Ends every role still running (SIGTERM, then SIGKILL) and waits for them."""
    with self._lock:
      if self._started_at is None:
        return
      for role in self._roles.values():
        if role.running and role.planned is None:
          role.planned = ABORTED
          self._terminate(role)
    deadline = time.monotonic() + self._kill_grace + 5
    while not self._done.wait(0.1):
      if time.monotonic() > deadline:
        with self._lock:  # The monitor thread is gone or stuck: end them here.
          for role in self._roles.values():
            if role.running:
              role.popen.kill()
              self._reap(role, role.popen.wait(), time.monotonic())
        break

  def kill(self, role, sig=signal.SIGKILL):
    """Ends ``role``'s process with ``sig`` (default SIGKILL, a crash) and waits for it.

    The role counts as 'killed', which is not a failure: the others go on (a killed worker is
    a fault the chief must survive). Use :meth:`restart` to bring it back.
    """
    with self._lock:
      r = self._role(role)
      if not r.running:
        raise exceptions.ClusterError('%s is not running (status: %s)' % (r.name, r.status))
      r.planned = KILLED
      r.popen.send_signal(sig)
      try:
        returncode = r.popen.wait(self._kill_grace)
      except subprocess.TimeoutExpired:
        r.popen.kill()
        returncode = r.popen.wait()
      self._reap(r, returncode, time.monotonic())

  def restart(self, role):
    """Kills ``role`` if it runs (SIGKILL) and starts it again with the same TF_CONFIG."""
    with self._lock:
      r = self._role(role)
      if self._done.is_set():
        raise exceptions.ClusterError('cannot restart %s: the cluster has ended' % r.name)
      r.restarting = True
      try:
        if r.running:
          self.kill(role)
        r.restarts += 1
        self._launch(r)
      finally:
        r.restarting = False

  def wait_for_log(self, role, pattern, timeout=None):
    """Waits until ``role``'s current process prints a line matching ``pattern``.

    Args:
      role: a role name, e.g. ``'worker:0'``.
      pattern: a regular expression (``re.search`` on each line).
      timeout: seconds to wait, or None for the cluster's ``timeout``.

    Returns:
      The ``re.Match`` of the first matching line.

    Raises:
      ClusterError: the role ended, the cluster failed, or the timeout passed first.
    """
    regex = re.compile(pattern)
    timeout = self._timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    r = self._role(role)
    checked, incarnation = 0, None
    with self._log_lock:
      while True:
        if r.restarts != incarnation:
          incarnation, checked = r.restarts, 0
        lines = _current_lines(r)
        for line in lines[checked:]:
          match = regex.search(line)
          if match:
            return match
        checked = len(lines)
        if (not r.running and not r.restarting) or self._done.is_set():
          raise exceptions.ClusterError(
              '%s ended (status: %s) before printing a line matching %r. %s' % (
                  r.name, r.status, pattern, _tail_text(r, lines)))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
          raise exceptions.ClusterError(
              '%s printed no line matching %r within %s s. %s' % (
                  r.name, pattern, timeout, _tail_text(r, lines)))
        self._log_changed.wait(min(remaining, 0.5))

  def __enter__(self):
    if self._started_at is None:
      self.start()
    return self

  def __exit__(self, *exc_info):
    self.stop()
    return False

  # Internals.

  def _role(self, name):
    try:
      return self._roles[name]
    except KeyError:
      raise exceptions.ArgumentKeyError(validation.message(
          'role', 'one of %s' % ', '.join(map(repr, self._roles)), name)) from None

  def _launch(self, role):
    env = dict(os.environ)
    env.pop(_tf_config.TF_CONFIG_ENV, None)
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    env['PYTHONUNBUFFERED'] = '1'
    for key, value in self._env.items():
      if value is None:
        env.pop(key, None)
      else:
        env[key] = value
    env[_tf_config.TF_CONFIG_ENV] = json.dumps(role.tf_config)
    command = [self._python, '-m', 'tfest_adapters.cluster._child', str(os.getpid())]
    command += self._command
    if self._log_dir is not None and role.log_file is None:
      role.log_file = open(os.path.join(
          self._log_dir, '%s-%d.log' % (role.task_type, role.index)), 'a', encoding='utf-8')
    if role.log_file is not None and role.restarts:
      role.log_file.write('----- restart %d -----\n' % role.restarts)
    role.popen = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=self._cwd, env=env, start_new_session=True)
    role.started = time.monotonic()
    role.deadline = role.started + self._timeout
    role.deadline_reason = 'timeout=%s s' % self._timeout
    role.ended = role.returncode = role.status = role.planned = role.term_sent = None
    with self._log_lock:
      role.line_count = 0
    role.reader = threading.Thread(target=self._read, args=(role, role.popen),
                                   name='tfest-cluster-log-%s' % role.name, daemon=True)
    role.reader.start()

  def _read(self, role, popen):
    prefix = '[%s] ' % role.name
    for raw in iter(popen.stdout.readline, b''):
      line = raw.decode('utf-8', 'replace').rstrip('\r\n')
      with self._log_lock:
        if role.popen is not popen:
          continue  # A late line of a process that was restarted.
        role.lines.append(line)
        role.line_count = min(role.line_count + 1, _KEPT_LINES)
        if role.log_file is not None:
          role.log_file.write(line + '\n')
        self._log_changed.notify_all()
      if self._sink is not None:
        with self._sink_lock:
          try:
            self._sink(prefix + line)
          except Exception:  # pylint: disable=broad-except
            pass  # A broken log sink must not stop the cluster.
    popen.stdout.close()

  def _terminate(self, role):
    if role.running and role.term_sent is None:
      role.term_sent = time.monotonic()
      role.popen.terminate()

  def _reap(self, role, returncode, now):
    if role.returncode is not None:
      return
    role.returncode = returncode
    role.ended = now
    if role.planned is not None:
      role.status = role.planned
    else:
      role.status = EXITED if returncode == 0 else FAILED
    if role.reader is not None and role.reader is not threading.current_thread():
      role.reader.join(2.0)  # Collect its last lines for messages.
    with self._log_lock:
      if role.log_file is not None:
        role.log_file.flush()
      self._log_changed.notify_all()

  def _fail(self, role, what):
    if self._error is not None:
      return
    others = ['%s (%s)' % (r.name, r.status or RUNNING) for r in self._roles.values()
              if r is not role]
    with self._log_lock:
      lines = _current_lines(role)
    text = '%s %s. Other roles: %s. %s' % (role.name, what, ', '.join(others) or 'none',
                                           _tail_text(role, lines))
    if any(h in line for line in lines[-_TAIL_LINES:] for h in _PORT_HINTS):
      text += ('\nIts port was probably taken by another program between choosing it and '
               'starting the server; run again.')
    self._error = exceptions.ClusterError(text)
    self._abort_all()

  def _abort_all(self):
    for role in self._roles.values():
      if role.running and role.planned is None:
        role.planned = ABORTED
      self._terminate(role)

  def _monitor_loop(self):
    while True:
      with self._lock:
        self._tick(time.monotonic())
        if not any(r.running for r in self._roles.values()):
          self._ended_at = time.monotonic()
          self._done.set()
          with self._log_lock:
            for role in self._roles.values():
              if role.log_file is not None:
                role.log_file.close()
                role.log_file = None
            self._log_changed.notify_all()
          return
      time.sleep(_POLL_SECS)

  def _tick(self, now):
    roles = list(self._roles.values())
    for role in roles:
      if role.running:
        returncode = role.popen.poll()
        if returncode is not None:
          self._reap(role, returncode, now)
          self._on_exit(role, now)
    # A ps blocks by design: when deadlines pass together, name the other roles first.
    for role in sorted(roles, key=lambda r: r.task_type == _tf_config.PS):
      if not role.running:
        continue
      if role.term_sent is not None:
        if now - role.term_sent > self._kill_grace:
          role.popen.kill()
        continue
      if now > role.deadline:
        role.planned = TIMED_OUT
        self._terminate(role)
        self._fail(role, 'did not end within %s and was ended by the watchdog%s' % (
            role.deadline_reason, self._missing_ps_hint(role)))
      elif (role.task_type == _tf_config.WORKER and self._chief_done_at is not None and
            now > self._chief_done_at + self._shutdown_timeout):
        role.planned = TIMED_OUT
        self._terminate(role)
        self._fail(role, 'was still running %s s after the chief finished '
                   '(shutdown_timeout) and was ended by the watchdog' % self._shutdown_timeout)
    if self._error is None:
      self._maybe_stop_ps(roles)

  def _missing_ps_hint(self, role):
    if role.task_type not in _tf_config.TRAINER_TYPES:
      return ''
    gone = [r.name for r in self._roles.values()
            if r.task_type == _tf_config.PS and not r.running]
    if not gone:
      return ''
    return (' (%s not running: a trainer waits forever for a ps that is gone, retrying its '
            'session; restart the ps on the same port to let it go on)' % ', '.join(gone))

  def _on_exit(self, role, now):
    if role.status == FAILED:
      self._fail(role, 'failed with exit code %d after %.1f s' % (
          role.returncode, role.ended - role.started))
    elif role.task_type == _tf_config.CHIEF and role.status == EXITED:
      self._chief_done_at = now
    elif role.task_type == _tf_config.PS and role.status == EXITED:
      if any(r.running for r in self._roles.values()
             if r.task_type in _tf_config.TRAINER_TYPES):
        self._fail(role, 'exited by itself while the cluster was training; a ps serves '
                   'until the runner ends it (it blocks in server.join())')

  def _maybe_stop_ps(self, roles):
    ps_roles = [r for r in roles if r.task_type == _tf_config.PS and r.running]
    if not ps_roles:
      return
    chief = self._roles.get('%s:0' % _tf_config.CHIEF)
    workers_running = any(r.running for r in roles if r.task_type == _tf_config.WORKER)
    others_running = any(r.running for r in roles if r.task_type != _tf_config.PS)
    if (chief.status == EXITED and not workers_running) or not others_running:
      for role in ps_roles:
        if role.planned is None:
          role.planned = STOPPED
          self._terminate(role)

  def _result(self):
    with self._lock:
      now = time.monotonic()
      end = self._ended_at if self._ended_at is not None else now
      with self._log_lock:
        roles = collections.OrderedDict(
            (name, role.result(now, _current_lines(role))) for name, role in self._roles.items())
      tf_configs = {name: role.tf_config for name, role in self._roles.items()}
      error = self._error
      result = ClusterResult(roles, round(end - (self._started_at or end), 3), error,
                             tf_configs)
      if error is not None:
        error.result = result
      return result


def run_local_cluster(script_or_callable, workers=1, ps=1, evaluator=True, timeout=600,
                      env=None, *, args=(), check=True, **options):
  """Runs a real TF_CONFIG cluster on 127.0.0.1 until every role has ended; bounded.

  Starts one process per role (ps, chief, ``workers`` workers, an evaluator) running the
  same script or function with its own TF_CONFIG and free loopback ports, streams their logs
  prefixed ``[chief:0] ...``, ends the ps once the chief is done, and ends any role that
  fails or outlives ``timeout``. See :class:`LocalCluster` for every option.

  Example:

    result = run_local_cluster('examples/cluster_job.py', workers=1, ps=1, evaluator=True,
                               args=['--model-dir', '/tmp/run', '--max-steps', '600'],
                               timeout=120)
    result.returncodes   # {'ps:0': -15, 'chief:0': 0, 'worker:0': 0, 'evaluator:0': 0}

  Args:
    script_or_callable: path of a Python script, or a module-level function.
    workers: int >= 0, workers besides the chief.
    ps: int >= 0, parameter servers.
    evaluator: bool, whether to run an evaluator.
    timeout: seconds any role may run before the watchdog ends it.
    env: dict of extra environment variables for every role.
    args: the script's command-line arguments (or the function's arguments).
    check: raise the ClusterError of a failed or hung role (default), or return the result.
    **options: the other keyword arguments of :class:`LocalCluster` (``shutdown_timeout``,
      ``log``, ``log_dir``, ``cwd``, ``kill_grace``, ``python``).

  Returns:
    A :class:`ClusterResult`: each role's status and exit code.

  Raises:
    ClusterError: a role failed or hung (with ``check``); the message names it and shows its
      last log lines; ``error.result`` holds the :class:`ClusterResult`.
    ArgumentError, ArgumentTypeError: an argument is not valid (nothing was started).
  """
  cluster = LocalCluster(script_or_callable, workers, ps, evaluator, args=args, env=env,
                         timeout=timeout, **options)
  with cluster:
    return cluster.wait(check=check)


def _current_lines(role):
  """The kept lines of the role's current process (call with the log lock held)."""
  return list(role.lines)[-role.line_count:] if role.line_count else []


def _tail_text(role, lines):
  tail = lines[-_TAIL_LINES:]
  if not tail:
    return '%s printed nothing.' % role.name
  return 'Last lines of %s:\n    %s' % (role.name, '\n    '.join(tail))


def _target_command(target, args):
  """The command-line tail for tfest_adapters.cluster._child, after the parent PID."""
  if isinstance(args, (str, bytes)) or not isinstance(args, collections.abc.Iterable):
    validation.fail('args', 'a list of arguments', args,
                     error=exceptions.ArgumentTypeError)
  args = list(args)
  if isinstance(target, (str, os.PathLike)):
    path = os.path.abspath(os.fspath(target))
    if not os.path.isfile(path):
      validation.fail('script_or_callable', 'the path of a Python script file or a function',
                       os.fspath(target), 'No such file (relative paths start at %s)' %
                       os.getcwd())
    return ['script', path] + [str(a) for a in args]
  if callable(target):
    module = getattr(target, '__module__', None)
    qualname = getattr(target, '__qualname__', None)
    if not module or not qualname or '<' in qualname:
      validation.fail('script_or_callable', 'a module-level function (the role processes '
                       'import it by name)', target, 'Define it at the top level of a module '
                       'or a script file', error=exceptions.ArgumentTypeError)
    path = getattr(sys.modules.get(module), '__file__', None) or ''
    if module == '__main__' and not path:
      validation.fail('script_or_callable', 'a function defined in a file', target,
                       'Functions defined in a notebook or at the prompt cannot be imported '
                       'by another process: move it to a .py file',
                       error=exceptions.ArgumentTypeError)
    try:
      encoded = json.dumps(args)
    except (TypeError, ValueError):
      validation.fail('args', 'JSON-serializable arguments for a function target', args,
                       error=exceptions.ArgumentTypeError)
    return ['callable', module, qualname, os.path.abspath(path) if path else '', encoded]
  validation.fail('script_or_callable', 'the path of a Python script or a module-level '
                   'function', target, error=exceptions.ArgumentTypeError)


def _validate_env(env):
  if env is None:
    return {}
  if not isinstance(env, collections.abc.Mapping):
    validation.fail('env', 'a dict of environment variable -> str (or None to remove it)',
                     env, error=exceptions.ArgumentTypeError)
  for key, value in env.items():
    if not isinstance(key, str) or not (value is None or isinstance(value, str)):
      validation.fail('env[%r]' % (key,), 'a str value under a str name (or None)', value,
                       'Environment variables are strings: str(%r)' % (value,),
                       error=exceptions.ArgumentTypeError)
    if key == _tf_config.TF_CONFIG_ENV:
      validation.fail('env', 'a dict without TF_CONFIG (each role gets its own)',
                       dict(env))
  return dict(env)


def _validate_dir(name, path, create=False):
  if path is None:
    return None
  if not isinstance(path, (str, os.PathLike)):
    validation.fail(name, 'a directory path or None', path,
                     error=exceptions.ArgumentTypeError)
  path = os.path.abspath(os.fspath(path))
  if create:
    os.makedirs(path, exist_ok=True)
  if not os.path.isdir(path):
    validation.fail(name, 'an existing directory', path)
  return path


def _validate_log(log):
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
  validation.fail('log', 'True, False, a callable taking each line, or a writable file', log,
                   error=exceptions.ArgumentTypeError)

