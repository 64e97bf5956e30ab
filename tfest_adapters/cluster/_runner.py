"""Runs a real TF_CONFIG cluster as processes on 127.0.0.1 and ends it, bounded: LocalCluster.

Nothing here imports TensorFlow: the roles do, in their own processes.
"""

import collections
import json
import re
import signal
import subprocess
import sys
import threading
import time

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.cluster import _launch as launch
from tfest_adapters.cluster import _process as process
from tfest_adapters.cluster import _results as results
from tfest_adapters.cluster import _tf_config
from tfest_adapters.cluster import _watchdog as watchdog

_POLL_SECS = 0.05


class LocalCluster:
  """A real TF_CONFIG cluster of processes on 127.0.0.1: chief, workers, ps and evaluator.

  Every role runs the same target (a script, run as ``python SCRIPT ARGS``, or a module-level
  function) with its own ``TF_CONFIG``; ``tf.estimator.train_and_evaluate`` in the target does
  the rest, as on real machines. Roles start ps first, then the chief, the workers and the
  evaluator; every line a role prints is streamed prefixed with its name (``[worker:0] ...``).

  How roles end:

  * A ps is ended (SIGTERM, then SIGKILL) once the chief has finished with exit code 0 and no
    worker is still training, or once no other role is left.
  * A role that fails (non-zero exit code) ends the run: the other roles are ended and the
    error names the role, its exit code and its last log lines.
  * A role still running ``timeout`` seconds after it started, or a worker still running
    ``shutdown_timeout`` seconds after the chief finished, is ended and named in the error.
  * Only the processes started here are signalled, and each role process ends itself when the
    process that started it is gone.

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

  def __init__(
    self,
    target,
    workers=1,
    ps=1,
    evaluator=True,
    *,
    args=(),
    env=None,
    cwd=None,
    timeout=600,
    shutdown_timeout=60,
    log=True,
    log_dir=None,
    kill_grace=5,
    python=None,
  ):
    self._command = launch.target_command(target, args)
    self._workers = validation.check_non_negative_int('workers', workers)
    self._num_ps = validation.check_non_negative_int('ps', ps)
    self._evaluator = validation.check_bool('evaluator', evaluator)
    self._env = launch.check_env(env)
    self._cwd = launch.check_dir('cwd', cwd)
    self._timeout = validation.check_positive_number('timeout', timeout)
    self._shutdown_timeout = validation.check_positive_number('shutdown_timeout', shutdown_timeout)
    sink = launch.log_sink(log)
    self._log_dir = launch.check_dir('log_dir', log_dir, create=True)
    self._kill_grace = validation.check_positive_number('kill_grace', kill_grace)
    self._python = python or sys.executable

    ports = launch.free_loopback_ports(1 + self._workers + self._num_ps)
    addresses = ['%s:%d' % (launch.LOOPBACK, p) for p in ports]
    cluster = {_tf_config.CHIEF: addresses[:1]}
    if self._workers:
      cluster[_tf_config.WORKER] = addresses[1 : 1 + self._workers]
    if self._num_ps:
      cluster[_tf_config.PS] = addresses[1 + self._workers :]
    self._cluster_spec = cluster
    order = (
      [(_tf_config.PS, i) for i in range(self._num_ps)]
      + [(_tf_config.CHIEF, 0)]
      + [(_tf_config.WORKER, i) for i in range(self._workers)]
      + ([(_tf_config.EVALUATOR, 0)] if self._evaluator else [])
    )
    # _lock guards the roles' processes and statuses; _logs.lock guards their lines (taken
    # after _lock, never before it, so that a reader thread never waits for the monitor).
    self._logs = process.Logs(sink)
    self._roles = collections.OrderedDict()
    for task_type, index in order:
      role = process.RoleProcess(
        task_type, index, _tf_config.make_tf_config(cluster, task_type, index), self._logs
      )
      self._roles[role.name] = role
    self._lock = threading.RLock()
    self._watchdog = watchdog.Watchdog(self._roles, self._kill_grace, self._shutdown_timeout)
    self._monitor = None
    self._done = threading.Event()
    self._started_at = None
    self._ended_at = None

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
    with self._logs.lock:
      return r.current_lines()

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
            role.reap(role.popen.wait(), time.monotonic())
        self._done.set()
        raise
    self._monitor = threading.Thread(
      target=self._monitor_loop, name='tfest-cluster-monitor', daemon=True
    )
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
          role.planned = results.ABORTED
          role.terminate()
    deadline = time.monotonic() + self._kill_grace + 5
    while not self._done.wait(0.1):
      if time.monotonic() > deadline:
        with self._lock:  # The monitor thread is gone or stuck: end them here.
          for role in self._roles.values():
            if role.running:
              role.popen.kill()
              role.reap(role.popen.wait(), time.monotonic())
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
      r.planned = results.KILLED
      r.popen.send_signal(sig)
      try:
        returncode = r.popen.wait(self._kill_grace)
      except subprocess.TimeoutExpired:
        r.popen.kill()
        returncode = r.popen.wait()
      r.reap(returncode, time.monotonic())

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
    with self._logs.lock:
      while True:
        if r.restarts != incarnation:
          incarnation, checked = r.restarts, 0
        lines = r.current_lines()
        for line in lines[checked:]:
          match = regex.search(line)
          if match:
            return match
        checked = len(lines)
        if (not r.running and not r.restarting) or self._done.is_set():
          raise exceptions.ClusterError(
            '%s ended (status: %s) before printing a line matching %r. %s'
            % (r.name, r.status, pattern, r.tail_text(lines))
          )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
          raise exceptions.ClusterError(
            '%s printed no line matching %r within %s s. %s'
            % (r.name, pattern, timeout, r.tail_text(lines))
          )
        self._logs.changed.wait(min(remaining, 0.5))

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
      raise exceptions.ArgumentKeyError(
        validation.message('role', 'one of %s' % ', '.join(map(repr, self._roles)), name)
      ) from None

  def _launch(self, role):
    role.start(
      launch.role_command(self._python, self._command),
      launch.role_env(self._env, role.tf_config),
      self._cwd,
      self._timeout,
      self._log_dir,
    )

  def _monitor_loop(self):
    while True:
      with self._lock:
        self._watchdog.tick(time.monotonic())
        if not any(r.running for r in self._roles.values()):
          self._ended_at = time.monotonic()
          self._done.set()
          with self._logs.lock:
            for role in self._roles.values():
              role.close_log_file()
            self._logs.changed.notify_all()
          return
      time.sleep(_POLL_SECS)

  def _result(self):
    with self._lock:
      now = time.monotonic()
      end = self._ended_at if self._ended_at is not None else now
      with self._logs.lock:
        roles = collections.OrderedDict(
          (name, role.result(now, role.current_lines())) for name, role in self._roles.items()
        )
      tf_configs = {name: role.tf_config for name, role in self._roles.items()}
      error = self._watchdog.error
      result = results.ClusterResult(
        roles, round(end - (self._started_at or end), 3), error, tf_configs
      )
      if error is not None:
        error.result = result
      return result


def run_local_cluster(
  script_or_callable,
  workers=1,
  ps=1,
  evaluator=True,
  timeout=600,
  env=None,
  *,
  args=(),
  check=True,
  **options,
):
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
  cluster = LocalCluster(
    script_or_callable, workers, ps, evaluator, args=args, env=env, timeout=timeout, **options
  )
  with cluster:
    return cluster.wait(check=check)
