"""What fit's loop calls after each step or evaluation: early stopping, progress, best copy."""

import json
import math
import os
import sys

from tfest_adapters import exceptions
from tfest_adapters._core import best_checkpoint
from tfest_adapters._core import validation
from tfest_adapters.training import _history

BEST_DIR = best_checkpoint.BEST_DIR
BEST_FILE = best_checkpoint.BEST_FILE
_EARLY_STOPPING_KEYS = ('metric', 'patience', 'min_delta', 'mode')


# ---------------------------------------------------------------------------- early stopping


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
      validation.fail(
        'early_stopping',
        "None or a dict(metric='loss', patience=N, min_delta=0.0, mode='min')",
        early_stopping,
        error=exceptions.ArgumentTypeError,
      )
    unknown = sorted(set(early_stopping) - set(_EARLY_STOPPING_KEYS))
    if unknown:
      validation.fail(
        'early_stopping',
        'a dict with keys among %s' % ', '.join(_EARLY_STOPPING_KEYS),
        early_stopping,
        'Unknown: %s' % ', '.join(map(str, unknown)),
      )
    metric = early_stopping.get('metric', 'loss')
    if not isinstance(metric, str) or not metric:
      validation.fail("early_stopping['metric']", 'a metric name such as "loss"', metric)
    if 'patience' not in early_stopping:
      validation.fail(
        "early_stopping['patience']",
        'given (evaluations without improvement before stopping)',
        None,
      )
    patience = validation.check_positive_int(
      "early_stopping['patience']", early_stopping['patience']
    )
    min_delta = early_stopping.get('min_delta', 0.0)
    if (
      not isinstance(min_delta, (int, float))
      or isinstance(min_delta, bool)
      or not min_delta >= 0
      or math.isinf(min_delta)
    ):
      validation.fail("early_stopping['min_delta']", 'a finite number >= 0', min_delta)
    mode = early_stopping.get('mode', _default_mode(metric))
    if mode is None:
      validation.fail(
        "early_stopping['mode']",
        "'min' or 'max'",
        None,
        "Say whether a larger %r is better ('max') or worse ('min')" % metric,
      )
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


# ---------------------------------------------------------------------------------- progress


def _in_notebook():
  shell = sys.modules.get('IPython')
  if shell is None or 'ipykernel' not in sys.modules:
    return False
  try:
    return type(shell.get_ipython()).__name__ == 'ZMQInteractiveShell'
  except Exception:
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

      self.bar = tqdm(
        total=target,
        initial=start,
        unit='step',
        dynamic_ncols=True,
        file=file if file is not None else sys.stderr,
        leave=True,
        desc='train',
      )
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


# --------------------------------------------------------------------------- best checkpoint


class BestCheckpoint:
  """Keeps a copy of the best evaluated checkpoint in ``<model_dir>/best_checkpoint``.

  The copy is a checkpoint directory of its own (``tf.train.latest_checkpoint`` finds it), with
  ``best.json`` (step, metric, metrics). A later fit in the same model_dir continues from it.
  """

  def __init__(self, model_dir, metric, better):
    self.directory = best_checkpoint.directory(model_dir)
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
      f.write('model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n' % (prefix, prefix))
    clean = {k: _history.scalar_value(v) for k, v in metrics.items()}
    with tf.io.gfile.GFile(os.path.join(staging, BEST_FILE), 'w') as f:
      json.dump(
        dict(
          step=int(step), metric=self.metric, value=value, metrics=clean, source=checkpoint_path
        ),
        f,
        indent=1,
      )
    # Swap in the new copy so that a crash leaves either the old or the new one complete.
    old = self.directory + '.old-%d' % os.getpid()
    if tf.io.gfile.exists(self.directory):
      tf.io.gfile.rename(self.directory, old, overwrite=True)
    tf.io.gfile.rename(staging, self.directory)
    if tf.io.gfile.exists(old):
      tf.io.gfile.rmtree(old)
    self.step, self.value, self.metrics = int(step), value, clean
    self.path = os.path.join(self.directory, prefix)
