"""One writer per model_dir: an exclusive lock file, ``<model_dir>/tfest.lock``, naming its holder.

:func:`fit` and :func:`train_and_evaluate` hold a :class:`ModelDirLock` while they train, so
that a second training into the same model_dir is refused instead of overwriting checkpoints.
"""

import contextlib
import datetime
import errno
import json
import os
import socket
import sys
import threading
import time
import uuid
import warnings

from tfest_adapters import exceptions

LOCK_NAME = 'tfest.lock'
# An unreadable (empty or partial) lock file younger than this may still be being written by
# a process without flock support; older ones are left-overs of a crash and are taken over.
_PARTIAL_GRACE_SECS = 2.0

_held_lock = threading.Lock()
_HELD = {}  # lock path -> token, for the locks this process holds.


def is_local_path(path):
  """Whether ``path`` is on a local (POSIX) filesystem, where the lock file works."""
  return '://' not in os.fspath(path)


def _hostname():
  return socket.gethostname()


def _boot_id():
  try:
    with open('/proc/sys/kernel/random/boot_id') as f:
      return f.read().strip()
  except OSError:
    return None


def _process_start(pid):
  """(start time in clock ticks since boot, is_zombie) of ``pid`` from /proc, or None."""
  try:
    with open('/proc/%d/stat' % pid, 'rb') as f:
      stat = f.read().decode('ascii', 'replace')
  except OSError:
    return None
  # The command name (field 2) is in parentheses and may hold spaces: split after it.
  fields = stat[stat.rfind(')') + 2 :].split()
  try:
    return int(fields[19]), fields[0] == 'Z'
  except (IndexError, ValueError):
    return None


def _pid_alive(pid):
  """Whether ``pid`` runs (True when it cannot be told: the lock is then kept)."""
  if os.name == 'nt':
    # os.kill(pid, 0) would terminate the process on Windows.
    try:
      import psutil
    except ImportError:
      return True
    return psutil.pid_exists(pid)
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # Another user's process.
  except OSError:
    return False
  return True


def _command_line():
  text = ' '.join(sys.argv) if sys.argv and any(sys.argv) else sys.executable
  return text if len(text) <= 200 else text[:197] + '...'


class LockInfo:
  """What a lock file says about its holder."""

  def __init__(self, data):
    self.data = data
    self.pid = data.get('pid')
    self.host = data.get('host')
    self.started = data.get('started')
    self.command = data.get('command')
    self.token = data.get('token')

  @classmethod
  def current(cls, purpose):
    pid = os.getpid()
    start = _process_start(pid)
    now = time.time()
    return cls(
      dict(
        pid=pid,
        host=_hostname(),
        boot_id=_boot_id(),
        process_start=start[0] if start else None,
        started=datetime.datetime.fromtimestamp(now).astimezone().isoformat(timespec='seconds'),
        started_unix=now,
        command=_command_line(),
        purpose=purpose,
        token=uuid.uuid4().hex,
      )
    )

  def describe(self):
    return 'PID %s on host %s (%s since %s: %s)' % (
      self.pid,
      self.host,
      self.data.get('purpose') or 'training',
      self.started,
      self.command,
    )

  def dead_reason(self):
    """Why the holder is known to be gone (a string), or None when it may be running."""
    if self.host != _hostname():
      return None  # Cannot be checked from this host.
    if not isinstance(self.pid, int):
      return 'the lock file names no PID'
    boot_id = self.data.get('boot_id')
    if boot_id and _boot_id() and boot_id != _boot_id():
      return 'this host has rebooted since'
    if self.pid == os.getpid():
      with _held_lock:
        held = self.token in _HELD.values()
      return None if held else 'this process (PID %d) does not hold it' % self.pid
    if not _pid_alive(self.pid):
      return 'PID %d no longer runs' % self.pid
    start = _process_start(self.pid)
    if start is not None:
      ticks, zombie = start
      if zombie:
        return 'PID %d has exited' % self.pid
      recorded = self.data.get('process_start')
      if recorded is not None and recorded != ticks:
        return 'PID %d is now another process' % self.pid
    return None


def _read(path):
  """The LockInfo of the lock file at ``path``; None when absent; 'partial' if unreadable."""
  try:
    with open(path, 'rb') as f:
      text = f.read()
  except FileNotFoundError:
    return None
  try:
    data = json.loads(text.decode('utf-8'))
    if not isinstance(data, dict):
      raise ValueError('not an object')
  except ValueError:
    return 'partial'
  return LockInfo(data)


@contextlib.contextmanager
def _directory_guard(directory):
  """flock on the directory: lock creation and takeover by one process at a time."""
  try:
    import fcntl
  except ImportError:  # Not POSIX: O_EXCL alone.
    yield
    return
  try:
    fd = os.open(directory, os.O_RDONLY)
  except OSError:
    yield
    return
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
      pass  # A filesystem without flock: O_EXCL alone.
    yield
  finally:
    os.close(fd)  # Releases the flock.


class ModelDirLock:
  """An exclusive lock on a model_dir, held by this process while it trains.

  The lock file holds the holder's PID, host, start time and command line; it is created
  atomically (``O_CREAT | O_EXCL``, under ``fcntl.flock`` on the model_dir). A second
  training is refused, naming the holder. A lock whose holder on this host is gone (its PID
  no longer runs, is another process now, or the host rebooted) is taken over with a
  warning; a holder on another host cannot be checked, so its lock is refused. Released on
  exit, exceptions included; not re-entrant.

  Example:

    with ModelDirLock('runs/iris', purpose='fit'):
      estimator.train(...)

  Args:
    model_dir: the directory (created when missing).
    purpose: what holds it ('fit', 'train_and_evaluate'), shown to a refused second run.

  Raises (on entry):
    ModelDirError: another live process (or another fit in this process) holds the lock,
      or the lock file cannot be created.
  """

  def __init__(self, model_dir, purpose='training'):
    self.model_dir = os.fspath(model_dir)
    self.path = os.path.join(self.model_dir, LOCK_NAME)
    self.purpose = purpose
    self.info = None

  def acquire(self):
    """Takes the lock (see the class doc); returns self."""
    os.makedirs(self.model_dir, exist_ok=True)
    info = LockInfo.current(self.purpose)
    payload = json.dumps(info.data, indent=1).encode('utf-8')
    deadline = time.monotonic() + _PARTIAL_GRACE_SECS + 1.0
    while True:
      with _directory_guard(self.model_dir):
        holder = _read(self.path)
        if holder == 'partial':
          age = _age(self.path)
          if age is None or age >= _PARTIAL_GRACE_SECS:
            self._take_over(
              'the lock file is empty or unreadable (left by a crash while it was written)', None
            )
            holder = None
        elif holder is not None:
          reason = holder.dead_reason()
          if reason is None:
            raise exceptions.ModelDirError(self._refusal(holder))
          self._take_over(reason, holder)
          holder = None
        if holder is None and self._create(payload):
          break
      if time.monotonic() > deadline:
        raise exceptions.ModelDirError(
          'Could not take the lock %s: its file stays unreadable or keeps reappearing. If '
          'no training uses model_dir %s, delete it' % (self.path, self.model_dir)
        )
      time.sleep(0.05)
    self.info = info
    with _held_lock:
      _HELD[self.path] = info.token
    return self

  def _create(self, payload):
    try:
      fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      return False  # Created meanwhile by a process without flock: look again.
    except OSError as e:
      raise exceptions.ModelDirError(
        'Cannot lock model_dir %s: creating %s failed (%s). Pass lock=False to train '
        'without the lock' % (self.model_dir, self.path, e.strerror or e)
      ) from e
    try:
      os.write(fd, payload)
      os.fsync(fd)
    finally:
      os.close(fd)
    return True

  def _take_over(self, reason, holder):
    warnings.warn(
      'Taking over the stale lock on model_dir %s: it was held by %s, but %s. Check that '
      'no other training writes into this model_dir'
      % (self.model_dir, holder.describe() if holder else 'an unknown process', reason),
      UserWarning,
      stacklevel=2,
    )
    try:
      os.unlink(self.path)
    except FileNotFoundError:
      pass

  def _refusal(self, holder):
    if holder.pid == os.getpid() and holder.host == _hostname():
      return (
        'model_dir %s is locked by this process (PID %d): another fit or '
        'train_and_evaluate into it is still running here (%s since %s). Wait for it '
        'to end, or train into another model_dir'
        % (self.model_dir, holder.pid, holder.data.get('purpose'), holder.started)
      )
    where = (
      'it is still running'
      if holder.host == _hostname()
      else 'it cannot be checked from host %s' % _hostname()
    )
    return (
      'model_dir %s is locked by another training: %s, and %s. Two trainings in one '
      "model_dir overwrite each other's checkpoints. Wait for it to end, stop it, or "
      'train into another model_dir; if that run is gone, delete %s'
      % (self.model_dir, holder.describe(), where, self.path)
    )

  def release(self):
    """Removes the lock file if this process still holds it."""
    if self.info is None:
      return
    with _held_lock:
      _HELD.pop(self.path, None)
    try:
      with _directory_guard(self.model_dir):
        holder = _read(self.path)
        if isinstance(holder, LockInfo) and holder.token == self.info.token:
          os.unlink(self.path)
    except OSError as e:
      if e.errno != errno.ENOENT:
        warnings.warn(
          'Could not remove the lock file %s: %s' % (self.path, e), UserWarning, stacklevel=2
        )
    self.info = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc_info):
    self.release()


def _age(path):
  try:
    return time.time() - os.stat(path).st_mtime
  except OSError:
    return None


def holder(model_dir):
  """The :class:`LockInfo` of the lock on ``model_dir``, or None when it is not locked."""
  info = _read(os.path.join(os.fspath(model_dir), LOCK_NAME))
  return info if isinstance(info, LockInfo) else None


def should_lock(config):
  """Whether a training with RunConfig ``config`` writes checkpoints, so holds the lock.

  True for a local run and for the chief (or master) of a TF_CONFIG cluster; False for
  workers, parameter servers and evaluators, which write no checkpoint.
  """
  return bool(config.is_chief) and config.task_type not in ('evaluator', 'ps')


def lock_for_config(model_dir, config, purpose, enabled=True):
  """The lock context for a training: a :class:`ModelDirLock`, or a no-op when not needed.

  Not needed: ``enabled`` is False, the role writes no checkpoint (:func:`should_lock`), or
  model_dir is a remote path (``gs://``, ``s3://``...), which a lock file cannot guard.
  """
  if not enabled or not should_lock(config) or not is_local_path(model_dir):
    return contextlib.nullcontext()
  return ModelDirLock(model_dir, purpose)
