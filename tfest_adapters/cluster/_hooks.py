"""The TensorFlow side of a cluster role: waiting for the chief, and counting each task's steps.

:class:`WaitForChiefHook` lets a worker create its session as soon as the chief initialized the
model, :class:`WaitForWorkersHook` lets the chief wait (bounded) until the workers step, and
:class:`TaskStepsHook` records how many steps each task ran (:func:`read_task_steps`).
"""

import json
import os
import time

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.cluster import _tf_config

TASK_STEPS_DIR = 'task_steps'


def wait_for_chief(model_dir, config=None, timeout_secs=600, poll_secs=0.5):
  """In a non-chief worker, waits until the chief has initialized the model.

  The chief's ``CheckpointSaverHook`` writes a checkpoint right after the chief's session
  initialized the variables on the ps, so a checkpoint in ``model_dir`` means the model is
  ready and the worker's session will not sleep ``recovery_wait_secs`` (TensorFlow's 30 s)
  waiting for it. Every other role (chief, ps, evaluator, a local run), and a worker whose
  RunConfig has a ``train_distribute`` strategy (it synchronizes with the chief itself),
  returns at once. Call it just before
  ``train_and_evaluate``, and give the RunConfig ``experimental_max_worker_delay_secs=0``
  (the worker has already waited).

  Example:

    config = tf.estimator.RunConfig(model_dir=model_dir, experimental_max_worker_delay_secs=0)
    wait_for_chief(model_dir, config)
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)

  Args:
    model_dir: the model_dir shared by the cluster (shared storage on real machines).
    config: the ``tf.estimator.RunConfig``, or None to read TF_CONFIG.
    timeout_secs: how long to wait before giving up.
    poll_secs: how often to look.

  Returns:
    The checkpoint path found, or None when this role does not wait.

  Raises:
    ClusterError: no checkpoint came within ``timeout_secs``, or the config's session has no
      device filters (the chief would then wait for this worker's server, which starts only
      after this wait: a deadlock).
  """
  validation.check_positive_number('timeout_secs', timeout_secs)
  validation.check_positive_number('poll_secs', poll_secs)
  role = _tf_config.current_role(config)
  if not (role.distributed and role.task_type == _tf_config.WORKER):
    return None
  if config is not None and getattr(config, 'train_distribute', None) is not None:
    return None  # A strategy synchronizes its workers itself (no ps to be ready).
  if config is not None:
    session_config = config.session_config
    if session_config is None or not list(session_config.device_filters):
      raise exceptions.ClusterError(
        "%s's RunConfig has a session_config without device_filters, given: %r. Without "
        "them the chief's session waits for every task of the cluster, this worker's "
        'included, whose server starts only after this wait. Leave session_config to '
        "RunConfig (it sets ['/job:ps', '/job:worker/task:%d']) or set device_filters "
        'yourself' % (role.name, session_config, role.task_index)
      )
  model_dir = os.fspath(model_dir)
  deadline = time.monotonic() + timeout_secs
  logged = False
  while True:
    path = tf.train.latest_checkpoint(model_dir)
    if path:
      return path
    if time.monotonic() > deadline:
      raise exceptions.ClusterError(
        "%s waited timeout_secs=%s s for the chief's first checkpoint in %r and none came. "
        'Is the chief running, with the same model_dir (shared storage on real machines)?'
        % (role.name, timeout_secs, model_dir)
      )
    if not logged:
      tf.compat.v1.logging.info(
        "%s waits for the chief's first checkpoint in %s", role.name, model_dir
      )
      logged = True
    time.sleep(poll_secs)


class WaitForChiefHook(tf.compat.v1.train.SessionRunHook):
  """In a non-chief worker, waits for the chief's first checkpoint after building the graph.

  ``begin()`` runs once the Estimator has built the worker's graph and before it creates the
  session, so the worker builds its graph while the chief builds and initializes the model,
  and creates its session as soon as the model is ready (see :func:`wait_for_chief`). In every
  other role it does nothing. Give the RunConfig ``experimental_max_worker_delay_secs=0``.

  Example:

    hooks = [WaitForChiefHook(model_dir, estimator.config)]
    train_spec = tf.estimator.TrainSpec(train_input_fn, max_steps=1000, hooks=hooks)

  Args:
    model_dir: the model_dir shared by the cluster.
    config: the Estimator's ``tf.estimator.RunConfig``, or None to read TF_CONFIG.
    timeout_secs: how long to wait before raising ClusterError.
    poll_secs: how often to look.
  """

  def __init__(self, model_dir, config=None, timeout_secs=600, poll_secs=0.2):
    self._model_dir = os.fspath(model_dir)
    self._config = config
    self._timeout_secs = validation.check_positive_number('timeout_secs', timeout_secs)
    self._poll_secs = validation.check_positive_number('poll_secs', poll_secs)
    self.checkpoint = None

  def begin(self):
    self.checkpoint = wait_for_chief(
      self._model_dir, self._config, self._timeout_secs, self._poll_secs
    )


class WaitForWorkersHook(tf.compat.v1.train.SessionRunHook):
  """In the chief, waits (bounded) until the workers have run steps before training itself.

  After the chief's session is created (the model is initialized and the first checkpoint
  written), ``after_create_session`` polls the global step until it has advanced by
  ``min_worker_steps`` without the chief, that is until workers are training, or until
  ``timeout_secs`` pass (then the chief trains alone, with a warning: asynchronous training
  does not need the workers). In every other role, and in a cluster without workers, it does
  nothing. Asynchronous training needs no such barrier; it makes short jobs and tests use
  every worker.

  Example:

    hooks = [WaitForChiefHook(model_dir, config), WaitForWorkersHook(config, max_steps=1000)]

  Args:
    config: the Estimator's ``tf.estimator.RunConfig``, or None to read TF_CONFIG.
    min_worker_steps: global steps the workers must run first.
    timeout_secs: the longest the chief waits.
    max_steps: the training's max_steps, if any: no waiting once the global step reached it.
    poll_secs: how often the global step is read.
  """

  def __init__(
    self, config=None, min_worker_steps=1, timeout_secs=60, max_steps=None, poll_secs=0.1
  ):
    self._role = _tf_config.current_role(config)
    self._min_worker_steps = validation.check_positive_int('min_worker_steps', min_worker_steps)
    self._timeout_secs = validation.check_positive_number('timeout_secs', timeout_secs)
    self._max_steps = validation.check_optional_positive_int('max_steps', max_steps)
    self._poll_secs = validation.check_positive_number('poll_secs', poll_secs)
    self._global_step = None
    self.waited_secs = None

  def begin(self):
    self._global_step = tf.compat.v1.train.get_global_step()

  def after_create_session(self, session, coord):
    if (
      not self._role.distributed
      or self._role.task_type != _tf_config.CHIEF
      or self._role.num_worker_replicas < 2
      or self._global_step is None
    ):
      return
    start = time.monotonic()
    first = int(session.run(self._global_step))
    while True:
      step = int(session.run(self._global_step))
      if step - first >= self._min_worker_steps or (
        self._max_steps is not None and step >= self._max_steps
      ):
        break
      if time.monotonic() - start > self._timeout_secs:
        tf.compat.v1.logging.warning(
          'No worker ran %d step(s) within timeout_secs=%s s; the chief trains alone',
          self._min_worker_steps,
          self._timeout_secs,
        )
        break
      time.sleep(self._poll_secs)
    self.waited_secs = time.monotonic() - start
    tf.compat.v1.logging.info(
      'chief waited %.1f s for the workers (global step %d -> %d)', self.waited_secs, first, step
    )


class TaskStepsHook(tf.compat.v1.train.SessionRunHook):
  """Counts the training steps one task runs, into ``<model_dir>/task_steps/<type>-<index>.json``.

  Each ``session.run`` of the training loop is one step of this task. The record is rewritten
  (atomically) every ``every_secs`` seconds and when training ends, and keeps one entry per
  process, so a restarted task adds to its earlier count (a process that was killed loses at
  most ``every_secs`` of its steps). The files are read back by :func:`read_task_steps`.

  Example:

    hooks = [TaskStepsHook(model_dir)]
    train_spec = tf.estimator.TrainSpec(train_input_fn, max_steps=1000, hooks=hooks)

  Args:
    model_dir: the Estimator's model_dir (any path ``tf.io.gfile`` can write).
    role: the :class:`~tfest_adapters.cluster.Role` (default: from TF_CONFIG).
    every_secs: how often the record is rewritten while training.
  """

  def __init__(self, model_dir, role=None, every_secs=1.0):
    self._dir = os.path.join(os.fspath(model_dir), TASK_STEPS_DIR)
    self._role = role if role is not None else _tf_config.current_role()
    self._every_secs = validation.check_positive_number('every_secs', every_secs)
    self._path = os.path.join(
      self._dir, '%s-%d.json' % (self._role.task_type, self._role.task_index)
    )
    self._run = None
    self._previous = []
    self._last_write = 0.0
    self._global_step = None

  def begin(self):
    self._global_step = tf.compat.v1.train.get_global_step()
    self._previous = _read_record(self._path).get('runs', [])
    self._run = {
      'pid': os.getpid(),
      'steps': 0,
      'first_global_step': None,
      'last_global_step': None,
      'started': time.time(),
      'ended': None,
    }

  def before_run(self, run_context):
    if self._global_step is None:
      return None
    return tf.compat.v1.train.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    self._run['steps'] += 1
    if run_values.results is not None:
      step = int(run_values.results)
      if self._run['first_global_step'] is None:
        self._run['first_global_step'] = step
      self._run['last_global_step'] = step
    if time.monotonic() - self._last_write >= self._every_secs:
      self._write()

  def end(self, session):
    self._run['ended'] = time.time()
    self._write()

  def _write(self):
    self._last_write = time.monotonic()
    runs = self._previous + [self._run]
    record = {'task': self._role.name, 'steps': sum(r['steps'] for r in runs), 'runs': runs}
    tf.io.gfile.makedirs(self._dir)
    tmp = '%s.tmp-%d' % (self._path, os.getpid())
    with tf.io.gfile.GFile(tmp, 'w') as f:
      f.write(json.dumps(record, indent=1))
    tf.io.gfile.rename(tmp, self._path, overwrite=True)


def _read_record(path):
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return json.loads(f.read())


def read_task_steps(model_dir):
  """Returns ``{'chief:0': steps, 'worker:0': steps, ...}`` recorded by :class:`TaskStepsHook`.

  Args:
    model_dir: the model_dir the hooks wrote into.

  Returns:
    dict of task name -> number of training steps that task ran (all its processes);
    empty when no task recorded anything.
  """
  directory = os.path.join(os.fspath(model_dir), TASK_STEPS_DIR)
  if not tf.io.gfile.isdir(directory):
    return {}
  steps = {}
  for name in sorted(tf.io.gfile.listdir(directory)):
    if name.endswith('.json'):
      record = _read_record(os.path.join(directory, name))
      steps[record['task']] = int(record['steps'])
  return steps
