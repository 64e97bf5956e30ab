"""The model_dir lock: one writer per model_dir, named when refused, stale locks taken over."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from test_crash_resume import checkpoint_step
from test_crash_resume import read_line
from test_crash_resume import start_child

from conftest import REPO_ROOT
from conftest import boring_input_fn
from conftest import boring_model_fn
from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.training import _lock

# A process that takes the lock (without TensorFlow) and holds it until its stdin closes. It
# loads tfest_adapters/training/_lock.py by its path: the package tfest_adapters.training
# imports fit, and with it TensorFlow (seconds per holder on this machine).
_HOLDER = r"""
import importlib.util, sys, time
sys.path.insert(0, %r)
from tfest_adapters import exceptions
spec = importlib.util.spec_from_file_location('_lock', %r)
_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(_lock)
try:
  lock = _lock.ModelDirLock(sys.argv[1], 'holder').acquire()
except exceptions.ModelDirError as e:
  print('refused', e, flush=True)
  sys.exit(3)
print('held', flush=True)
if len(sys.argv) > 2:
  time.sleep(float(sys.argv[2]))
else:
  sys.stdin.readline()
lock.release()
print('released', flush=True)
""" % (str(REPO_ROOT), _lock.__file__)


def _holder(model_dir, hold_secs=None):
  args = [sys.executable, '-c', _HOLDER, str(model_dir)]
  if hold_secs is not None:
    args.append(str(hold_secs))
  return subprocess.Popen(
    args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
  )


@contextlib.contextmanager
def held_by_another_process(model_dir):
  proc = _holder(model_dir)
  try:
    assert proc.stdout.readline().strip() == 'held'
    yield proc
  finally:
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


def _dead_pid():
  proc = subprocess.Popen([sys.executable, '-c', 'pass'])
  proc.wait()
  return proc.pid


def _write_lock(model_dir, **fields):
  os.makedirs(model_dir, exist_ok=True)
  data = dict(
    pid=_dead_pid(),
    host=socket.gethostname(),
    started='2026-01-01T00:00:00',
    command='train.py',
    purpose='fit',
    token='t',
  )
  data.update(fields)
  path = os.path.join(model_dir, _lock.LOCK_NAME)
  with open(path, 'w') as f:
    json.dump(data, f)
  return path


# --------------------------------------------------------------------------- the lock


def test_lock_file_names_the_holder_and_goes_on_exit(tmp_path):
  model_dir = str(tmp_path / 'new' / 'model')
  with _lock.ModelDirLock(model_dir, 'fit') as lock:
    with open(lock.path) as f:
      data = json.load(f)
    assert data['pid'] == os.getpid()
    assert data['host'] == socket.gethostname()
    assert data['purpose'] == 'fit'
    assert time.time() - data['started_unix'] < 60 and data['started'][:4].isdigit()
    assert data['command']
    assert _lock.holder(model_dir).pid == os.getpid()
  assert os.listdir(model_dir) == []
  assert _lock.holder(model_dir) is None


def test_lock_is_released_when_the_body_raises(tmp_path):
  with pytest.raises(ZeroDivisionError):
    with _lock.ModelDirLock(str(tmp_path)):
      1 / 0  # noqa: B018
  assert _lock.holder(str(tmp_path)) is None


def test_a_second_lock_in_this_process_is_refused(tmp_path):
  with _lock.ModelDirLock(str(tmp_path), 'fit'):
    with pytest.raises(
      exceptions.ModelDirError,
      match=r'model_dir .* is locked by this process \(PID %d\): another fit '
      r'or train_and_evaluate into it is still running here \(fit since ' % os.getpid(),
    ):
      _lock.ModelDirLock(str(tmp_path)).acquire()
  _lock.ModelDirLock(str(tmp_path)).acquire().release()


def test_a_live_holder_in_another_process_is_refused_until_it_releases(tmp_path):
  with held_by_another_process(tmp_path) as proc:
    with pytest.raises(
      exceptions.ModelDirError,
      match=r'model_dir %s is locked by another training: PID %d on host %s '
      r'\(holder since .*\), and it is still running\. Two trainings in one '
      r"model_dir overwrite each other's checkpoints\..* if that run is gone, "
      r'delete .*tfest\.lock' % (tmp_path, proc.pid, socket.gethostname()),
    ):
      _lock.ModelDirLock(str(tmp_path)).acquire()
  with _lock.ModelDirLock(str(tmp_path)):
    pass


def test_the_lock_of_a_killed_process_is_taken_over_with_a_warning(tmp_path):
  proc = _holder(tmp_path)
  assert proc.stdout.readline().strip() == 'held'
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  proc.stdout.close()
  proc.stderr.close()
  assert _lock.holder(str(tmp_path)).pid == proc.pid
  with pytest.warns(
    UserWarning,
    match=r'Taking over the stale lock on model_dir .*: it was '
    r'held by PID %d on host .*, but PID %d no longer runs' % (proc.pid, proc.pid),
  ):
    lock = _lock.ModelDirLock(str(tmp_path)).acquire()
  assert _lock.holder(str(tmp_path)).pid == os.getpid()
  lock.release()


_PROC = pytest.mark.skipif(
  not os.path.exists('/proc/self/stat'), reason='process start times are read from /proc (Linux)'
)


@_PROC
def test_a_pid_now_used_by_another_process_is_not_taken_for_the_holder(tmp_path):
  with held_by_another_process(tmp_path / 'other') as proc:
    # A lock naming a live PID, recorded with another start time: the PID was reused.
    _write_lock(str(tmp_path), pid=proc.pid, process_start=1)
    with pytest.warns(UserWarning, match='PID %d is now another process' % proc.pid):
      _lock.ModelDirLock(str(tmp_path)).acquire().release()


@pytest.mark.skipif(
  not os.path.exists('/proc/sys/kernel/random/boot_id'),
  reason='the boot id is read from /proc (Linux)',
)
def test_a_lock_from_before_a_reboot_is_stale(tmp_path):
  _write_lock(str(tmp_path), pid=os.getppid(), boot_id='another-boot')
  with pytest.warns(UserWarning, match='this host has rebooted since'):
    _lock.ModelDirLock(str(tmp_path)).acquire().release()


def test_a_lock_from_another_host_is_refused_naming_the_file(tmp_path):
  path = _write_lock(str(tmp_path), host='gpu-node-7', pid=4242)
  with pytest.raises(
    exceptions.ModelDirError,
    match=r'locked by another training: PID 4242 on host gpu-node-7 \(fit '
    r'since 2026-01-01T00:00:00: train.py\), and it cannot be checked from '
    r'host .*if that run is gone, delete %s' % path,
  ):
    _lock.ModelDirLock(str(tmp_path)).acquire()
  assert os.path.exists(path)


def test_an_unreadable_lock_left_by_a_crash_is_taken_over(tmp_path):
  path = os.path.join(str(tmp_path), _lock.LOCK_NAME)
  open(path, 'w').close()
  os.utime(path, (time.time() - 60, time.time() - 60))
  with pytest.warns(UserWarning, match='the lock file is empty or unreadable'):
    _lock.ModelDirLock(str(tmp_path)).acquire().release()


def test_racing_takeovers_of_a_stale_lock_let_exactly_one_process_in(tmp_path):
  _write_lock(str(tmp_path))
  procs = [_holder(tmp_path, hold_secs=2) for _ in range(4)]
  outcomes = []
  for proc in procs:
    out, _ = proc.communicate(timeout=60)
    outcomes.append(out.split()[0])
  assert sorted(outcomes) == ['held', 'refused', 'refused', 'refused'], outcomes


# ------------------------------------------------------------------------- who locks


def _config(monkeypatch, task_type):
  import tensorflow as tf

  cluster = {'chief': ['localhost:2222'], 'worker': ['localhost:2223'], 'ps': ['localhost:2224']}
  if task_type is None:
    monkeypatch.delenv('TF_CONFIG', raising=False)
  else:
    monkeypatch.setenv(
      'TF_CONFIG', json.dumps({'cluster': cluster, 'task': {'type': task_type, 'index': 0}})
    )
  return tf.estimator.RunConfig()


@pytest.mark.parametrize(
  'task_type, locks',
  [(None, True), ('chief', True), ('worker', False), ('ps', False), ('evaluator', False)],
)
def test_only_the_chief_or_a_local_run_holds_the_lock(monkeypatch, tmp_path, task_type, locks):
  config = _config(monkeypatch, task_type)
  assert _lock.should_lock(config) is locks
  context = _lock.lock_for_config(str(tmp_path), config, 'train_and_evaluate')
  assert isinstance(context, _lock.ModelDirLock) is locks


def test_remote_paths_and_lock_false_are_not_locked(monkeypatch, tmp_path):
  config = _config(monkeypatch, None)
  for model_dir, enabled in (('gs://bucket/model', True), (str(tmp_path), False)):
    context = _lock.lock_for_config(model_dir, config, 'fit', enabled)
    assert not isinstance(context, _lock.ModelDirLock)


# -------------------------------------------------------------- fit, train_and_evaluate


FEATURES, LABELS = small_arrays()
TRAIN = boring_input_fn(FEATURES, LABELS)
EVAL = boring_input_fn(FEATURES, LABELS, batch_size=64, repeat=False)


def _fit(est):
  """fit to step 5; returns the global step reached."""
  return tfa.fit(est, TRAIN, max_steps=5, progress=False)['step'].iloc[-1]


def _train_and_evaluate(est):
  """train_and_evaluate to step 5; returns the global step of its last evaluation."""
  metrics, _ = tfa.train_and_evaluate(est, TRAIN, EVAL, max_steps=5)
  return metrics['global_step']


@pytest.mark.parametrize('train', [_fit, _train_and_evaluate], ids=['fit', 'train_and_evaluate'])
def test_training_is_refused_while_another_process_holds_the_lock(tmp_path, train):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path, save_checkpoints_steps=5)
  with held_by_another_process(tmp_path) as proc:
    with pytest.raises(
      exceptions.ModelDirError, match=r'is locked by another training: PID %d on host' % proc.pid
    ):
      train(est)
    # Refused before any graph or session: nothing but the holder's lock file.
    assert os.listdir(tmp_path) == [_lock.LOCK_NAME]
  assert train(est) == 5
  assert _lock.holder(str(tmp_path)) is None


def test_fit_with_lock_false_trains_while_another_process_holds_the_lock(tmp_path):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path)
  with held_by_another_process(tmp_path) as proc:
    # At the caller's risk: the holder's lock is neither checked nor taken.
    tfa.fit(est, TRAIN, max_steps=2, progress=False, lock=False)
    assert _lock.holder(str(tmp_path)).pid == proc.pid
  assert checkpoint_step(str(tmp_path)) == 2


def test_an_evaluator_role_runs_while_the_chief_holds_the_lock(tmp_path, monkeypatch):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path, save_checkpoints_steps=5)
  tfa.fit(est, TRAIN, max_steps=5, progress=False)
  with held_by_another_process(tmp_path) as proc:
    _config(monkeypatch, 'evaluator')
    evaluator = tfa.make_estimator(
      boring_model_fn, params={}, model_dir=tmp_path, save_checkpoints_steps=5
    )
    assert evaluator.config.task_type == 'evaluator'
    # The evaluator evaluates the checkpoint at max_steps and ends; it writes no checkpoint
    # and takes no lock.
    assert tfa.train_and_evaluate(evaluator, TRAIN, EVAL, max_steps=5, throttle_secs=0) == (
      None,
      [],
    )
    assert _lock.holder(str(tmp_path)).pid == proc.pid
  assert tfa.read_history(str(tmp_path)).eval['step'].tolist() == [5]


@pytest.mark.slow
def test_a_second_training_process_is_refused_while_the_first_trains(tmp_path):
  model_dir = str(tmp_path / 'model')
  first = start_child(model_dir, 100000, '--save-steps', 10, '--step-delay', 0.01, '--print-steps')
  try:
    read_line(first, 'start ')
    read_line(first, 'step ')
    second = start_child(model_dir, 500, '--save-steps', 5)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 3, err[-3000:]
    assert (
      'refused model_dir %s is locked by another training: PID %d on host %s'
      % (model_dir, first.pid, socket.gethostname())
    ) in out
    # The first run was not disturbed: stopped now, it saves its own current step.
    first.send_signal(signal.SIGTERM)
    first_out, first_err = first.communicate(timeout=120)
  finally:
    first.kill()
  assert first.returncode == -signal.SIGTERM, first_err[-3000:]
  steps = [int(line.split()[1]) for line in first_out.splitlines() if line.startswith('step ')]
  assert checkpoint_step(model_dir) == steps[-1]
  assert _lock.holder(model_dir) is None
