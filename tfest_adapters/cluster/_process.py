"""One role of a local cluster and its current process: start it, collect its lines, end it."""

import collections
import os
import subprocess
import threading
import time

from tfest_adapters.cluster import _results as results

TAIL_LINES = 25  # Log lines shown in messages and results.
_KEPT_LINES = 20000


class Logs:
  """What the roles of one cluster share for their lines: a lock, a condition and the sink.

  ``lock`` guards every role's lines and log file; ``changed`` is notified when lines come or a
  role ends. ``sink`` (or None) gets each line prefixed with its role.
  """

  def __init__(self, sink):
    self.lock = threading.Lock()
    self.changed = threading.Condition(self.lock)
    self.sink = sink
    self._sink_lock = threading.Lock()

  def write(self, line):
    """Gives ``line`` to the sink; a broken sink must not stop the cluster."""
    if self.sink is None:
      return
    with self._sink_lock:
      try:
        self.sink(line)
      except Exception:
        pass


class RoleProcess:
  """One role (e.g. ``'worker:0'``) and its current process.

  Its process state is guarded by the cluster's lock; its lines by ``logs.lock``.
  """

  def __init__(self, task_type, index, tf_config, logs):
    self.task_type = task_type
    self.index = index
    self.name = '%s:%d' % (task_type, index)
    self.tf_config = tf_config
    self.logs = logs
    self.popen = None
    self.reader = None
    self.started = None
    self.ended = None
    self.deadline = None
    self.deadline_reason = None
    self.returncode = None
    self.status = None
    self.planned = None  # The status to record when it ends because we ended it.
    self.term_sent = None  # When SIGTERM was sent (SIGKILL follows after kill_grace).
    self.restarts = 0
    self.restarting = False  # Between the kill and the new process of restart().
    self.log_file = None
    self._lines = collections.deque(maxlen=_KEPT_LINES)
    self._line_count = 0  # Lines of the current incarnation seen so far.

  @property
  def running(self):
    return self.popen is not None and self.returncode is None

  def start(self, command, env, cwd, timeout, log_dir=None):
    """Starts a new process of this role (after a first one: a restart) and its line reader.

    Args:
      command: the command line.
      env: its environment.
      cwd: its working directory, or None.
      timeout: seconds it may run before its deadline.
      log_dir: None, or a directory to append its lines to ``<type>-<index>.log`` in.
    """
    if log_dir is not None and self.log_file is None:
      self.log_file = open(
        os.path.join(log_dir, '%s-%d.log' % (self.task_type, self.index)), 'a', encoding='utf-8'
      )
    if self.log_file is not None and self.restarts:
      self.log_file.write('----- restart %d -----\n' % self.restarts)
    self.popen = subprocess.Popen(
      command,
      stdin=subprocess.DEVNULL,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      cwd=cwd,
      env=env,
      start_new_session=True,
    )
    self.started = time.monotonic()
    self.deadline = self.started + timeout
    self.deadline_reason = 'timeout=%s s' % timeout
    self.ended = self.returncode = self.status = self.planned = self.term_sent = None
    with self.logs.lock:
      self._line_count = 0
    self.reader = threading.Thread(
      target=self._read, args=(self.popen,), name='tfest-cluster-log-%s' % self.name, daemon=True
    )
    self.reader.start()

  def _read(self, popen):
    prefix = '[%s] ' % self.name
    for raw in iter(popen.stdout.readline, b''):
      line = raw.decode('utf-8', 'replace').rstrip('\r\n')
      with self.logs.lock:
        if self.popen is not popen:
          continue  # A late line of a process that was restarted.
        self._lines.append(line)
        self._line_count = min(self._line_count + 1, _KEPT_LINES)
        if self.log_file is not None:
          self.log_file.write(line + '\n')
        self.logs.changed.notify_all()
      self.logs.write(prefix + line)
    popen.stdout.close()

  def terminate(self):
    """Sends SIGTERM to the running process, once."""
    if self.running and self.term_sent is None:
      self.term_sent = time.monotonic()
      self.popen.terminate()

  def reap(self, returncode, now):
    """Records how the process ended: ``planned`` if we ended it, else exited or failed."""
    if self.returncode is not None:
      return
    self.returncode = returncode
    self.ended = now
    if self.planned is not None:
      self.status = self.planned
    else:
      self.status = results.EXITED if returncode == 0 else results.FAILED
    if self.reader is not None and self.reader is not threading.current_thread():
      self.reader.join(2.0)  # Collect its last lines for messages.
    with self.logs.lock:
      if self.log_file is not None:
        self.log_file.flush()
      self.logs.changed.notify_all()

  def current_lines(self):
    """The kept lines of the current process (call with ``logs.lock`` held)."""
    return list(self._lines)[-self._line_count :] if self._line_count else []

  def close_log_file(self):
    """Closes the role's log file, if any (call with ``logs.lock`` held)."""
    if self.log_file is not None:
      self.log_file.close()
      self.log_file = None

  def tail_text(self, lines):
    """'Last lines of worker:0: ...' for messages, from ``current_lines()``."""
    tail = lines[-TAIL_LINES:]
    if not tail:
      return '%s printed nothing.' % self.name
    return 'Last lines of %s:\n    %s' % (self.name, '\n    '.join(tail))

  def result(self, now, lines):
    """The :class:`RoleResult` of this role at ``now``, with ``lines`` its current lines."""
    end = self.ended if self.ended is not None else now
    return results.RoleResult(
      self.name,
      self.status or results.RUNNING,
      self.returncode,
      round(end - self.started, 3) if self.started else 0.0,
      self.restarts,
      self.popen.pid if self.popen else None,
      tuple(lines[-TAIL_LINES:]),
    )
