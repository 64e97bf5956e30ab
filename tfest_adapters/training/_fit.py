"""fit: train an Estimator from a notebook or a script, with a progress bar and a History.

``fit`` is a loop around ``Estimator.train``: it trains in chunks of ``eval_every_steps``
(each chunk ends with the checkpoint ``Estimator.train`` always writes at its end), evaluates
that checkpoint explicitly, keeps a copy of the best one, and stops early when asked. Nothing
depends on checkpoint timing (``save_checkpoints_secs``) or on polling event files, so the
evaluation steps are exact and repeatable.

Each chunk is one ``Estimator.train`` call, which calls ``train_input_fn`` again: give a
repeating, shuffled input (``num_epochs=None``), or each chunk restarts the data from its
first batch.
"""

import contextlib
import json
import math
import os
import sys
import time
import warnings

from tfest_adapters.training import _history
from tfest_adapters.training import _lock
from tfest_adapters._core import validation
from tfest_adapters import exceptions

BEST_DIR = 'best_checkpoint'
BEST_FILE = 'best.json'
_EARLY_STOPPING_KEYS = ('metric', 'patience', 'min_delta', 'mode')


def fit(estimator, train_input_fn, *, steps=None, max_steps=None, eval_input_fn=None,
        eval_every_steps=None, early_stopping=None, hooks=(), progress=True, eval_steps=None,
        keep_best=True, check_numerics=False, lock=True):
  """Trains ``estimator``, evaluating every ``eval_every_steps``; returns a History.

  Example:

    history = tfa.fit(estimator, train_fn, max_steps=2000, eval_input_fn=test_fn,
                      eval_every_steps=200,
                      early_stopping=dict(metric='loss', patience=3, min_delta=1e-3))
    history.best_step, history.best_metrics
    estimator.evaluate(test_fn, checkpoint_path=history.best_checkpoint)

  Args:
    estimator: a ``tf.estimator.Estimator``.
    train_input_fn: the Estimator's input_fn for TRAIN: returns a ``tf.data.Dataset`` of
      ``(features, labels)`` (required with a distribution strategy, whose batch is per
      replica) or a ``(features, labels)`` pair of tensors.
    steps: train this many steps more than the model_dir's checkpoint has (None: see
      max_steps).
    max_steps: train until the global step reaches this. With neither, train until
      ``train_input_fn`` runs out of data (refused when it repeats forever).
    eval_input_fn: input_fn for EVAL; its dataset must end (or give ``eval_steps``).
    eval_every_steps: evaluate every this many global steps (at multiples of it) and at the
      end. Default with an eval_input_fn: once, at the end.
    early_stopping: None or ``dict(metric='loss', patience=N, min_delta=0.0, mode='min')``:
      stop when ``metric`` (a key of ``Estimator.evaluate``'s result) has not improved by more
      than ``min_delta`` in ``patience`` evaluations in a row. ``mode`` is 'min' or 'max'
      (default 'min' for metrics named like a loss or an error; required otherwise).
    hooks: extra ``tf.compat.v1.train.SessionRunHook`` for training.
    progress: show a tqdm progress bar (step, loss, steps/s; a notebook widget in Jupyter).
      It stays off when stderr is not a terminal outside a notebook, or the CI environment
      variable is set.
    eval_steps: batches per evaluation (None: until eval_input_fn runs out).
    keep_best: with an eval_input_fn, copy the best checkpoint so far (by the early stopping
      metric, else the eval loss) into ``<model_dir>/best_checkpoint/``, where
      ``keep_checkpoint_max`` never deletes it.
    check_numerics: check every float feature and label of every training batch for NaN
      and Inf (``tf.debugging.check_numerics``): the first bad batch stops training before
      its step is taken, with a TrainingError naming the feature. Off by default (it costs
      one pass over each batch); a non-finite *loss* is always caught.
    lock: hold an exclusive lock on model_dir (``<model_dir>/tfest.lock``, naming this
      process) while training, so that a second training into it is refused instead of
      silently overwriting checkpoints. A lock left by a dead process of this host is taken
      over with a warning. Not taken for remote paths (``gs://...``).

  Reliability, always on:

  * A NaN or Inf loss stops training with a TrainingError naming the global step (and which
    features or labels held non-finite values); nothing from that step on is saved, so the
    latest checkpoint is the last good one.
  * SIGINT (Ctrl-C, a notebook interrupt) or SIGTERM (preemption) ends the current step and
    saves a checkpoint at it; then the previous handler acts (KeyboardInterrupt for Ctrl-C,
    termination for SIGTERM). A second Ctrl-C aborts at once. Main thread only.
  * A failed first step (labels out of range, a bad batch) writes nothing: the checkpoint
    restored at the start is not re-saved, and a new model_dir gets no untrained ckpt-0.
  * A model_dir holding a checkpoint of another model is refused before the session, naming
    the variables that differ.
  * The event files are flushed at every checkpoint, so after a crash the History of the
    next fit (read from model_dir) reaches the latest checkpoint.

  Returns:
    A :class:`History`: every training step's loss and every evaluation, continuing the rows
    read from model_dir's event files when the model_dir already held a checkpoint;
    ``best_step``, ``best_metrics``, ``best_checkpoint``, ``stopped_early``.

  Raises:
    ArgumentError, ArgumentTypeError: bad arguments, before any training.
    ModelDirError: ``max_steps`` is already reached by the model_dir's checkpoint; another
      training holds model_dir's lock; model_dir holds a checkpoint of another model.
    TrainingError: the global step stopped advancing; a non-finite loss, or (with
      check_numerics) input; a training step failed on its data (e.g. labels out of range).
    KeyboardInterrupt: SIGINT, after the checkpoint at the current step was saved.
  """
  loop = FitLoop(estimator, train_input_fn, steps=steps, max_steps=max_steps,
                 eval_input_fn=eval_input_fn, eval_every_steps=eval_every_steps,
                 early_stopping=early_stopping, hooks=hooks, progress=progress,
                 eval_steps=eval_steps, keep_best=keep_best, check_numerics=check_numerics,
                 lock=lock)
  return loop.run()


# ---------------------------------------------------------------------------- validation


def _validate_estimator(estimator):
  import tensorflow as tf
  if not isinstance(estimator, tf.estimator.Estimator):
    validation.fail('estimator', 'a tf.estimator.Estimator', estimator,
                     'Build one with tfest_adapters.make_estimator',
                     error=exceptions.ArgumentTypeError)
  return estimator


def _validate_hooks(hooks):
  import tensorflow as tf
  if hooks is None:
    return []
  if isinstance(hooks, tf.compat.v1.train.SessionRunHook):
    hooks = [hooks]
  hooks = list(hooks)
  for hook in hooks:
    if not isinstance(hook, tf.compat.v1.train.SessionRunHook):
      validation.fail('hooks', 'a list of tf.compat.v1.train.SessionRunHook', hook,
                       error=exceptions.ArgumentTypeError)
  return hooks


def _default_mode(metric):
  lowered = metric.lower()
  if 'loss' in lowered or 'error' in lowered:
    return 'min'
  return None


class EarlyStopping:
  """Stops when ``metric`` has not improved by > ``min_delta`` in ``patience`` evaluations."""

  def __init__(self, metric='loss', patience=None, min_delta=0.0, mode=None):
    self.metric = metric
    self.patience = patience
    self.min_delta = min_delta
    self.mode = mode
    self.best = None
    self.wait = 0

  @classmethod
  def from_arg(cls, early_stopping):
    """Validates the ``early_stopping`` argument of fit."""
    if early_stopping is None:
      return None
    if not isinstance(early_stopping, dict):
      validation.fail('early_stopping',
                       "None or a dict(metric='loss', patience=N, min_delta=0.0, mode='min')",
                       early_stopping, error=exceptions.ArgumentTypeError)
    unknown = sorted(set(early_stopping) - set(_EARLY_STOPPING_KEYS))
    if unknown:
      validation.fail('early_stopping', 'a dict with keys among %s' %
                       ', '.join(_EARLY_STOPPING_KEYS), early_stopping,
                       'Unknown: %s' % ', '.join(map(str, unknown)))
    metric = early_stopping.get('metric', 'loss')
    if not isinstance(metric, str) or not metric:
      validation.fail("early_stopping['metric']", 'a metric name such as "loss"', metric)
    if 'patience' not in early_stopping:
      validation.fail("early_stopping['patience']",
                       'given (evaluations without improvement before stopping)', None)
    patience = validation.check_positive_int("early_stopping['patience']",
                                              early_stopping['patience'])
    min_delta = early_stopping.get('min_delta', 0.0)
    if (not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool) or
        not min_delta >= 0 or math.isinf(min_delta)):
      validation.fail("early_stopping['min_delta']", 'a finite number >= 0', min_delta)
    mode = early_stopping.get('mode', _default_mode(metric))
    if mode is None:
      validation.fail("early_stopping['mode']", "'min' or 'max'", None,
                       "Say whether a larger %r is better ('max') or worse ('min')" % metric)
    validation.check_one_of("early_stopping['mode']", mode, ('min', 'max'))
    return cls(metric, patience, float(min_delta), mode)

  def improved(self, value, best):
    """Whether ``value`` beats ``best`` by more than min_delta."""
    if best is None:
      return True
    if self.mode == 'min':
      return value < best - self.min_delta
    return value > best + self.min_delta

  def update(self, value):
    """Takes one evaluation; returns True when training should stop."""
    if self.improved(value, self.best):
      self.best = value
      self.wait = 0
      return False
    self.wait += 1
    return self.wait >= self.patience


def call_input_fn(estimator, input_fn, mode):
  """Calls ``input_fn`` as ``Estimator._call_input_fn`` does (mode/params/config by name)."""
  import tensorflow as tf
  from tensorflow.python.util import function_utils
  args = function_utils.fn_args(input_fn)
  kwargs = {}
  if 'mode' in args:
    kwargs['mode'] = mode
  if 'params' in args:
    kwargs['params'] = estimator.params
  if 'config' in args:
    kwargs['config'] = estimator.config
  if 'input_context' in args:
    kwargs['input_context'] = None
  with tf.device('/cpu:0'):
    return input_fn(**kwargs)


def inspect_input_fn(estimator, input_fn, mode, name):
  """Builds ``input_fn`` in a throwaway graph; returns (result, cardinality or None).

  The cardinality is ``tf.data.INFINITE_CARDINALITY`` for a dataset that repeats forever,
  ``tf.data.UNKNOWN_CARDINALITY`` when TF cannot tell, or the number of batches. Nothing runs.
  """
  import tensorflow as tf
  with tf.Graph().as_default():
    try:
      result = call_input_fn(estimator, input_fn, mode)
    except exceptions.TfestError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise exceptions.ArgumentError(
          '%s failed when called to build its input: %s: %s' % (name, type(e).__name__, e)
      ) from e
    cardinality = None
    if isinstance(result, tf.data.Dataset):
      # Computed from the dataset's structure (no element is read): a session runs the op,
      # since tf.get_static_value cannot fold it.
      op = result.cardinality()
      value = tf.get_static_value(op)
      if value is None:
        try:
          with tf.compat.v1.Session() as session:
            value = session.run(op)
        except tf.errors.OpError:
          value = tf.data.UNKNOWN_CARDINALITY
      cardinality = int(value)
    return result, cardinality


# A dataset with this many batches repeats forever in practice (Dataset.range(2**63 - 1),
# the way numpy_input_fn(num_epochs=None) counts its batches, is not INFINITE to tf.data).
# 2**52, not 2**62: grouped by steps_per_run=K the same input reports 2**63 / K groups.
_ENDLESS_BATCHES = 2**52


def _check_input_fn(estimator, input_fn, mode, name, bounded_by):
  """Refuses an input_fn that cannot work here, before training: returns its cardinality."""
  return check_input_fn(estimator, input_fn, mode, name, bounded_by)[1]


def check_input_fn(estimator, input_fn, mode, name, bounded_by):
  """As _check_input_fn; returns (what input_fn returned in a throwaway graph, cardinality)."""
  import tensorflow as tf
  validation.check_callable(name, input_fn)
  result, cardinality = inspect_input_fn(estimator, input_fn, mode, name)
  if estimator.config.train_distribute is not None and cardinality is None:
    validation.fail(
        name, 'a function returning a tf.data.Dataset when the Estimator has a distribution '
        'strategy', result, 'Return the dataset itself; its batch size is per replica')
  endless = cardinality == tf.data.INFINITE_CARDINALITY or (
      cardinality is not None and cardinality >= _ENDLESS_BATCHES)
  if endless and bounded_by is None:
    raise exceptions.ArgumentError(
        '%s repeats forever (its dataset has %s), so %s would never end. '
        'Pass %s, or make the dataset finite (num_epochs=1)' % (
            name, 'infinite cardinality' if cardinality < 0 else
            '%d batches: endless in practice' % cardinality,
            'evaluation' if mode == tf.estimator.ModeKeys.EVAL else 'training',
            'eval_steps' if mode == tf.estimator.ModeKeys.EVAL else 'steps or max_steps'))
  if cardinality == 0:
    raise exceptions.ArgumentError('%s gives an empty dataset (no batch at all)' % name)
  return result, cardinality


def _eval_metric_names(estimator, eval_input_fn):
  """The keys ``estimator.evaluate`` returns, from the EVAL graph (built, not run)."""
  import tensorflow as tf
  with tf.Graph().as_default():
    tf.compat.v1.train.get_or_create_global_step()
    result = call_input_fn(estimator, eval_input_fn, tf.estimator.ModeKeys.EVAL)
    if isinstance(result, tf.data.Dataset):
      result = tf.compat.v1.data.make_one_shot_iterator(result).get_next()
    features, labels = result if isinstance(result, tuple) else (result, None)
    spec = estimator.model_fn(features, labels, tf.estimator.ModeKeys.EVAL, estimator.config)
    return sorted({'loss', 'global_step'} | set(spec.eval_metric_ops or {}))


def checkpoint_step(model_dir):
  """(global step, checkpoint path) of model_dir's latest checkpoint, or (0, None)."""
  import tensorflow as tf
  path = tf.train.latest_checkpoint(model_dir)
  if not path:
    return 0, None
  reader = tf.compat.v1.train.NewCheckpointReader(path)
  return int(reader.get_tensor(tf.compat.v1.GraphKeys.GLOBAL_STEP)), path


def check_max_steps_not_reached(model_dir, max_steps):
  """ModelDirError when model_dir's checkpoint is already at ``max_steps`` (TF only logs)."""
  step, path = checkpoint_step(model_dir)
  if max_steps is not None and step >= max_steps:
    raise exceptions.ModelDirError(
        'max_steps=%d is already reached: the latest checkpoint in %s is at step %d (%s), so '
        'training would do nothing. Pass a larger max_steps, steps=N to train N more steps, '
        'or a new model_dir' % (max_steps, model_dir, step, path))
  return step, path


# ------------------------------------------------------------------------------- progress


def _in_notebook():
  shell = sys.modules.get('IPython')
  if shell is None or 'ipykernel' not in sys.modules:
    return False
  try:
    return type(shell.get_ipython()).__name__ == 'ZMQInteractiveShell'
  except Exception:  # pylint: disable=broad-except
    return False


def progress_enabled(progress, stream=None):
  """Whether a progress bar is shown: asked for, not CI, and a terminal or a notebook."""
  if not progress or os.environ.get('CI'):
    return False
  if _in_notebook():
    return True
  stream = stream if stream is not None else sys.stderr
  try:
    return bool(stream.isatty())
  except (AttributeError, ValueError):
    return False


class ProgressBar:
  """A tqdm bar over the global step: ``step/target``, steps/s, and loss as postfix."""

  def __init__(self, start, target, enabled, file=None):
    self.bar = None
    if enabled:
      from tqdm.auto import tqdm
      self.bar = tqdm(total=target, initial=start, unit='step', dynamic_ncols=True,
                      file=file if file is not None else sys.stderr, leave=True,
                      desc='train')
    self.position = start
    self.postfix = {}

  def on_step(self, step, loss):
    if self.bar is None:
      return
    self.postfix['loss'] = '%.4g' % loss
    self.bar.set_postfix(self.postfix, refresh=False)
    self.bar.update(max(0, step - self.position))
    self.position = max(self.position, step)

  def on_eval(self, metrics):
    if self.bar is None:
      return
    for key in sorted(metrics):
      value = _history.scalar_value(metrics[key])
      if key != 'global_step' and value is not None:
        self.postfix['eval_' + key] = '%.4g' % value
    self.bar.set_postfix(self.postfix, refresh=True)

  def close(self):
    if self.bar is not None:
      self.bar.close()


# ------------------------------------------------------------------------ best checkpoint


class BestCheckpoint:
  """Keeps a copy of the best evaluated checkpoint in ``<model_dir>/best_checkpoint``.

  The copy is a checkpoint directory of its own (``tf.train.latest_checkpoint`` finds it), with
  ``best.json`` (step, metric, metrics). A later fit in the same model_dir continues from it.
  """

  def __init__(self, model_dir, metric, better):
    self.directory = os.path.join(model_dir, BEST_DIR)
    self.metric = metric
    self.better = better
    self.step = None
    self.value = None
    self.metrics = None
    self.path = None
    self._load()

  def _load(self):
    import tensorflow as tf
    info_path = os.path.join(self.directory, BEST_FILE)
    if not tf.io.gfile.exists(info_path):
      return
    try:
      with tf.io.gfile.GFile(info_path) as f:
        info = json.load(f)
    except (ValueError, tf.errors.OpError):
      return
    if info.get('metric') == self.metric:
      self.step, self.value = info['step'], info['value']
      self.metrics = info.get('metrics')
      self.path = tf.train.latest_checkpoint(self.directory)

  def offer(self, checkpoint_path, step, metrics):
    """Copies ``checkpoint_path`` aside when its ``metric`` beats the best so far."""
    value = _history.scalar_value(metrics.get(self.metric))
    if value is None or math.isnan(value):
      return False
    if self.value is not None and not self.better(value, self.value):
      return False
    self._copy(checkpoint_path, step, value, metrics)
    return True

  def _copy(self, checkpoint_path, step, value, metrics):
    import tensorflow as tf
    staging = self.directory + '.tmp-%d' % os.getpid()
    if tf.io.gfile.exists(staging):
      tf.io.gfile.rmtree(staging)
    tf.io.gfile.makedirs(staging)
    prefix = os.path.basename(checkpoint_path)
    for source in tf.io.gfile.glob(checkpoint_path + '.*'):
      tf.io.gfile.copy(source, os.path.join(staging, os.path.basename(source)), overwrite=True)
    # A checkpoint state with a relative path, so that the directory can be renamed.
    with tf.io.gfile.GFile(os.path.join(staging, 'checkpoint'), 'w') as f:
      f.write('model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n' % (
          prefix, prefix))
    clean = {k: _history.scalar_value(v) for k, v in metrics.items()}
    with tf.io.gfile.GFile(os.path.join(staging, BEST_FILE), 'w') as f:
      json.dump(dict(step=int(step), metric=self.metric, value=value, metrics=clean,
                     source=checkpoint_path), f, indent=1)
    # Swap in the new copy so that a crash leaves either the old or the new one complete.
    old = self.directory + '.old-%d' % os.getpid()
    if tf.io.gfile.exists(self.directory):
      tf.io.gfile.rename(self.directory, old, overwrite=True)
    tf.io.gfile.rename(staging, self.directory)
    if tf.io.gfile.exists(old):
      tf.io.gfile.rmtree(old)
    self.step, self.value, self.metrics = int(step), value, clean
    self.path = os.path.join(self.directory, prefix)


# ------------------------------------------------------------------------------ the loop


class FitLoop:
  """The training loop of :func:`fit`, in one place.

  Extension points (used to add behaviour without rewriting the loop):

  * ``self.hooks``: the SessionRunHooks of every ``Estimator.train`` call: the guards
    (other-model check, non-finite loss, the checkpoint saver), the step recorder, the
    caller's, then the signal hook. Append hooks here. The checkpoint saver is fit's
    :class:`~tfest_adapters.estimator.SafeCheckpointSaverHook` (TF's, without the re-save at
    session start), which saves in its ``after_run``, before the hooks after it see the
    step: a check that must veto a save belongs in a saving listener.
  * ``self.saving_listeners``: ``tf.estimator.CheckpointSaverListener`` objects passed to
    every ``Estimator.train`` call; raising in ``before_save`` stops a checkpoint from being
    written.
  * ``self.contexts``: callables ``context(loop) -> context manager`` entered, in order,
    around the whole run (after the checks, before the first ``train``); their ``__exit__``
    sees any exception the run raises. The model_dir lock and the signal handlers are the
    first two.
  * ``self.listeners``: callables ``listener(step, loss)`` after each step (the progress bar
    is one).
  """

  def __init__(self, estimator, train_input_fn, *, steps=None, max_steps=None,
               eval_input_fn=None, eval_every_steps=None, early_stopping=None, hooks=(),
               progress=True, eval_steps=None, keep_best=True, check_numerics=False,
               lock=True):
    import tensorflow as tf
    from tfest_adapters import estimator as estimator_lib
    from tfest_adapters.training import _guards
    from tfest_adapters.training import _hooks
    self.estimator = _validate_estimator(estimator)
    self.model_dir = estimator.model_dir
    steps = validation.check_optional_positive_int('steps', steps)
    max_steps = validation.check_optional_positive_int('max_steps', max_steps)
    if steps is not None and max_steps is not None:
      raise exceptions.ArgumentError(
          'steps and max_steps cannot both be given, given: steps=%d, max_steps=%d. steps '
          'counts from the model_dir\'s checkpoint, max_steps is the global step to reach'
          % (steps, max_steps))
    self.eval_every_steps = validation.check_optional_positive_int(
        'eval_every_steps', eval_every_steps)
    self.eval_steps = validation.check_optional_positive_int('eval_steps', eval_steps)
    self.early_stopping = EarlyStopping.from_arg(early_stopping)
    validation.check_bool('progress', progress)
    validation.check_bool('keep_best', keep_best)
    validation.check_bool('check_numerics', check_numerics)
    validation.check_bool('lock', lock)
    self.progress = progress
    if eval_input_fn is None:
      for name, value in (('eval_every_steps', eval_every_steps),
                          ('early_stopping', early_stopping), ('eval_steps', eval_steps)):
        if value is not None:
          validation.fail('eval_input_fn', 'given when %s is' % name, None)
    if self.early_stopping is not None and self.eval_every_steps is None:
      validation.fail('eval_every_steps', 'given with early_stopping', None,
                       'Early stopping compares evaluations made every eval_every_steps')
    if self.eval_every_steps is not None and steps is None and max_steps is None:
      validation.fail(
          'steps or max_steps', 'given with eval_every_steps', None,
          'fit trains in chunks of eval_every_steps, and each chunk calls train_input_fn '
          'again, so it must know where to stop')
    self.user_hooks = _validate_hooks(hooks)
    self.train_input_fn = train_input_fn
    self.eval_input_fn = eval_input_fn
    self.steps = steps
    self.max_steps = max_steps
    self.keep_best = keep_best

    # Inputs and metric names are checked by building their graphs, before any training.
    train_result, _ = check_input_fn(estimator, train_input_fn, tf.estimator.ModeKeys.TRAIN,
                                     'train_input_fn', steps or max_steps)
    if eval_input_fn is not None:
      _check_input_fn(estimator, eval_input_fn, tf.estimator.ModeKeys.EVAL, 'eval_input_fn',
                      self.eval_steps)
    if self.early_stopping is not None:
      names = _eval_metric_names(estimator, eval_input_fn)
      if self.early_stopping.metric not in names:
        raise exceptions.ArgumentKeyError(
            "early_stopping['metric'] must be one of the metrics the evaluation returns "
            '(%s), given: %r' % (', '.join(names), self.early_stopping.metric))

    if check_numerics:
      self.train_input_fn = _guards.check_numerics_input_fn(train_input_fn)

    self.recorder = _hooks.StepRecorderHook()
    self.listeners = self.recorder.listeners
    self.signals = _guards.SaveOnSignal()
    self.non_finite, veto = _guards.non_finite_guard(self.model_dir,
                                                     _guards.input_names(train_result))
    self.hooks = [_guards.CheckpointCompatibilityHook(self.model_dir), self.non_finite]
    self.saving_listeners = []
    config = estimator.config
    if config.save_checkpoints_steps or config.save_checkpoints_secs:
      self.saving_listeners.append(veto)
      if config.is_chief and not estimator_lib.saver_hooks(self.user_hooks):
        # After the NaN hook, whose after_run (with the batch's diagnosis) then comes first.
        self.hooks.append(estimator_lib.SafeCheckpointSaverHook.from_config(
            self.model_dir, config,
            # One token per Estimator (make_estimator's), else per fit: its chunks rebuild
            # the same graph, written once.
            graph_token=getattr(estimator, 'graph_token', None) or object()))
    # The signal hook last: a signal arriving during any hook of a step stops after it.
    self.hooks += [self.recorder] + self.user_hooks + [self.signals.hook]
    self.contexts = [
        lambda loop: _lock.lock_for_config(loop.model_dir, loop.estimator.config, 'fit', lock),
        lambda loop: loop.signals,
    ]
    self.start = None
    self.evals = []  # (step, wall_time, metrics, None)
    self.stopped_early = False
    self.best = None

  # -- pieces of the run

  def target_step(self, start):
    if self.max_steps is not None:
      return self.max_steps
    if self.steps is not None:
      return start + self.steps
    return None

  def next_stop(self, step, target):
    """The global step the next train chunk ends at (None: until the input runs out)."""
    if self.eval_every_steps is None:
      return target
    boundary = (step // self.eval_every_steps + 1) * self.eval_every_steps
    return boundary if target is None else min(boundary, target)

  def train_chunk(self, stop):
    """One Estimator.train call up to global step ``stop`` (None: until out of data)."""
    import tensorflow as tf
    from tfest_adapters import estimator as estimator_lib
    from tfest_adapters._core import stop_hook
    hooks = list(self.hooks)
    if stop is not None and not isinstance(self.estimator, estimator_lib.Estimator):
      # Ends a loop of steps per session.run (params['steps_per_run']) exactly at `stop`,
      # as make_estimator's Estimator does by itself for max_steps; with one step per run
      # it is the Estimator's own StopAtStepHook.
      hooks.append(stop_hook.StepsPerRunStopHook(last_step=stop))
    try:
      self.estimator.train(self.train_input_fn, max_steps=stop, hooks=hooks,
                           saving_listeners=self.saving_listeners or None)
    except tf.errors.InvalidArgumentError as e:
      raise self.step_failure(e) from e

  def step_failure(self, error):
    """A TrainingError for a training step that failed on its data (an op's check)."""
    from tfest_adapters.training import _guards
    step = (self.recorder.steps[-1] if len(self.recorder.steps) else self.start) + 1
    saved = _guards.latest_checkpoint_text(self.model_dir)
    numerics = _guards.check_numerics_failure(error)
    if numerics is not None:
      name, kind = numerics
      return exceptions.TrainingError(
          'check_numerics: %s held %s values in the batch of global step %d. The step was '
          'not taken and nothing after it was saved: %s' % (name, kind, step, saved))
    text = _guards.assertion_text(error)
    if text is None:
      text = '%s: %s' % (type(error).__name__, _guards.op_error_text(error))
    return exceptions.TrainingError(
        'Training step %d failed: %s. Nothing from that step on was saved: %s' % (
            step, text, saved))

  def evaluate(self, step, checkpoint_path):
    """Evaluates exactly ``checkpoint_path``; records it; returns True to stop early."""
    metrics = self.estimator.evaluate(self.eval_input_fn, steps=self.eval_steps,
                                      checkpoint_path=checkpoint_path)
    self.evals.append((step, time.time(), dict(metrics), None))
    self.bar.on_eval(metrics)
    if self.best is not None:
      self.best.offer(checkpoint_path, step, metrics)
    if self.early_stopping is not None:
      value = _history.scalar_value(metrics[self.early_stopping.metric])
      return self.early_stopping.update(value)
    return False

  def history(self, start):
    """The History of this run, after the rows model_dir's event files held before it."""
    import pandas as pd
    best = self.best
    attributes = dict(
        model_dir=self.model_dir, stopped_early=self.stopped_early,
        best_step=best.step if best else None, best_metrics=best.metrics if best else None,
        best_checkpoint=best.path if best else None)
    history = _history.History.from_records(
        self.recorder.steps, self.recorder.losses, self.recorder.times, self.evals,
        **attributes)
    if start > 0:
      try:
        earlier = _history.read_history(self.model_dir).frame
      except exceptions.TfestError:
        earlier = None
      if earlier is not None and len(earlier):
        columns = [c for c in earlier.columns
                   if c in (_history.STEP, _history.WALL_TIME, _history.LOSS) or
                   c.startswith(_history.EVAL_PREFIX)]
        earlier = earlier.loc[earlier[_history.STEP] <= start, columns]
        frame = pd.concat([earlier, history.frame], ignore_index=True, sort=False)
        frame = frame.drop_duplicates(_history.STEP, keep='last').sort_values(_history.STEP)
        history = _history.History(frame, **attributes)
    return history

  # -- the run

  def run(self):
    """Trains (and evaluates) to the end; returns the History."""
    start, _ = check_max_steps_not_reached(self.model_dir, self.max_steps)
    self.start = start
    target = self.target_step(start)
    if self.eval_input_fn is not None and self.keep_best:
      if self.early_stopping is not None:
        metric, better = self.early_stopping.metric, self.early_stopping.improved
      else:
        metric, better = 'loss', lambda value, best: value < best
      self.best = BestCheckpoint(self.model_dir, metric, better)
    with contextlib.ExitStack() as stack:
      for context in self.contexts:
        stack.enter_context(context(self))
      self.bar = ProgressBar(start, target, progress_enabled(self.progress))
      stack.callback(self.bar.close)
      self.listeners.append(self.bar.on_step)
      step = start
      while (target is None or step < target) and self.signals.received is None:
        stop = self.next_stop(step, target)
        self.train_chunk(stop)
        new_step, checkpoint_path = checkpoint_step(self.model_dir)
        if self.signals.received is not None:
          break  # Saved at the current step; no evaluation, out as fast as possible.
        if new_step <= step:
          raise exceptions.TrainingError(
              'Estimator.train ended without advancing the global step (still %d): '
              'train_input_fn gave no batch, or the train_op does not increment the global '
              'step' % step)
        step = new_step
        ran_out = stop is None or step < stop
        if self.eval_input_fn is not None and (
            self.eval_every_steps is not None or ran_out or step >= target):
          if self.evaluate(step, checkpoint_path):
            self.stopped_early = True
            break
        if ran_out:
          if target is not None:
            warnings.warn(
                'train_input_fn ran out of data at global step %d, before step %d: training '
                'stopped there. Repeat the training data (num_epochs=None) to train by steps'
                % (step, target), UserWarning, stacklevel=3)
          break
    # The handlers are back and the lock released: act on a signal as the caller would have.
    self.signals.redeliver(self.model_dir)
    return self.history(start)
