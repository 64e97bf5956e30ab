"""Crash and resume: a training process killed (SIGKILL) at random points, restarted.

TensorFlow's promise, pinned down: a checkpoint is never corrupted by a kill and a restart
resumes from the latest one. What the project adds: the stale model_dir lock of the killed
process is taken over with a warning, fit's History continues across the restarts (read
from the event files, flushed at every checkpoint), and the final checkpoint restores.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters.training import _lock

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fit_child.py')
_CHECKPOINT_RE = re.compile(r'^model_checkpoint_path: "(?:.*/)?model\.ckpt-(\d+)"', re.M)


def start_child(model_dir, max_steps, *extra):
  """Starts fit_child.py; returns the Popen (stdout and stderr piped, text)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONUNBUFFERED='1')
  return subprocess.Popen(
    [sys.executable, CHILD, '--model-dir', str(model_dir), '--max-steps', str(max_steps)]
    + [str(e) for e in extra],
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    env=env,
  )


def read_line(proc, prefix, timeout=120):
  """The first stdout line of ``proc`` starting with ``prefix`` (others are skipped)."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    line = proc.stdout.readline()
    if not line:
      raise AssertionError(
        'child ended without printing %r; stderr:\n%s' % (prefix, proc.stderr.read()[-3000:])
      )
    if line.startswith(prefix):
      return line[len(prefix) :].strip()
  raise AssertionError('no %r line in %d s' % (prefix, timeout))


def checkpoint_step(model_dir):
  """The step of the checkpoint state file's latest checkpoint (0 when none), without TF."""
  try:
    with open(os.path.join(model_dir, 'checkpoint')) as f:
      match = _CHECKPOINT_RE.search(f.read())
  except FileNotFoundError:
    return 0
  return int(match.group(1)) if match else 0


def wait_for_checkpoint_after(model_dir, step, proc, timeout=120):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if checkpoint_step(model_dir) > step:
      return
    if proc.poll() is not None:
      raise AssertionError(
        'child exited (%s) before a checkpoint after step %d: %s'
        % (proc.returncode, step, proc.stderr.read()[-3000:])
      )
    time.sleep(0.02)
  raise AssertionError('no checkpoint after step %d in %d s' % (step, timeout))


MAX_STEPS = 600
SAVE_STEPS = 10
KILLS = 3


@pytest.mark.slow
def test_sigkill_at_random_points_then_restarts_resume_and_finish(tmp_path):
  model_dir = str(tmp_path / 'model')
  rng = random.Random(8)
  latest = 0
  previous_pid = None
  killed_at = []
  for kill in range(KILLS):
    proc = start_child(model_dir, MAX_STEPS, '--save-steps', SAVE_STEPS, '--step-delay', 0.01)
    try:
      # Every restart resumes from the latest checkpoint: the global step never goes back.
      assert int(read_line(proc, 'start ')) == latest
      wait_for_checkpoint_after(model_dir, latest, proc)
      time.sleep(rng.uniform(0.0, 1.0))  # Anywhere: in a step, a save, a flush.
      proc.send_signal(signal.SIGKILL)
      proc.wait(timeout=30)
      stderr = proc.stderr.read()
    finally:
      proc.kill()
      proc.stdout.close()
      proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    step = checkpoint_step(model_dir)
    assert step > latest
    assert step < MAX_STEPS, 'the kill came after training ended; slow the child down'
    # The killed process's lock is left behind, naming it.
    assert _lock.holder(model_dir) is not None and _lock.holder(model_dir).pid == proc.pid
    if kill:
      assert 'Taking over the stale lock on model_dir' in stderr
      assert 'PID %d no longer runs' % previous_pid in stderr
    previous_pid = proc.pid
    killed_at.append(step)
    latest = step

  proc = start_child(model_dir, MAX_STEPS, '--save-steps', SAVE_STEPS, '--evaluate')
  out, err = proc.communicate(timeout=300)
  assert proc.returncode == 0, err[-3000:]
  lines = dict(line.split(' ', 1) for line in out.splitlines() if ' ' in line)
  assert int(lines['start']) == latest
  assert int(lines['done']) == MAX_STEPS
  assert 'Taking over the stale lock on model_dir' in err
  assert _lock.holder(model_dir) is None  # Released at the end.

  # The final checkpoint restores (the child evaluated it) and holds finite values.
  metrics = json.loads(lines['evaluated'])
  assert metrics['global_step'] == MAX_STEPS
  assert metrics['accuracy'] > 0.9
  path = tf.train.latest_checkpoint(model_dir)
  assert path.endswith('model.ckpt-%d' % MAX_STEPS)
  reader = tf.compat.v1.train.NewCheckpointReader(path)
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if np.asarray(value).dtype.kind == 'f':
      assert np.all(np.isfinite(value)), name

  # The History continues across the kills: the rows before the last restart come from the
  # killed runs' event files (flushed at each of their checkpoints), then this run's steps.
  history = json.loads(lines['history'])
  steps = history['step']
  assert steps == sorted(set(steps))
  assert steps[-1] == MAX_STEPS
  assert steps[0] <= 2
  earlier = [s for s in steps if s <= latest]
  print('killed at', killed_at, 'rows before the last restart', len(earlier), 'of', latest)
  assert len(earlier) >= 0.9 * latest, (len(earlier), latest)
  assert set(range(latest + 1, MAX_STEPS + 1)) <= set(steps)
  for step in killed_at:
    assert step in steps
  assert np.all(np.isfinite([loss for s, loss in zip(steps, history['loss']) if s > 0]))
