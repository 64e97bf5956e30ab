"""History: what a training run did, step by step, as a pandas DataFrame.

:func:`fit` records the loss of every step; :func:`read_history` reads what the Estimator
wrote for TensorBoard, so any model_dir can be looked at afterwards by the same code.
"""

import glob
import os

import numpy as np

STEP = 'step'
WALL_TIME = 'wall_time'
LOSS = 'loss'
EVAL_PREFIX = 'eval_'
_TRAIN_TAG_RENAMES = {'global_step/sec': 'steps_per_sec'}


class History:
  """A training record that behaves like a read-only pandas DataFrame.

  Columns and DataFrame methods are reachable directly (``history['loss']``,
  ``history.loss``, ``history.tail()``, ``len(history)``); ``history.frame`` is the DataFrame
  itself. One row per recorded step, with the columns

  * ``step``: the global step;
  * ``wall_time``: seconds since the epoch when that step was recorded;
  * ``loss``: the training loss of that step (NaN on rows that only hold an evaluation);
  * ``eval_<metric>``: each metric of an evaluation at that step (``eval_loss``,
    ``eval_accuracy``, ...; NaN on rows without one). Evaluations under another name
    (``estimator.evaluate(..., name='test')``) get ``eval_test_<metric>`` columns;
  * when read from event files, any other scalar summary of training under its tag, and
    ``steps_per_sec`` from the Estimator's ``global_step/sec``.

  Example:

    history = tfa.fit(estimator, train_fn, max_steps=1000, eval_input_fn=test_fn,
                      eval_every_steps=250)
    history.frame[['step', 'loss']].tail()
    history.eval                    # the rows with an evaluation
    history.plot().savefig('history.png')
    history.to_csv('history.csv')

  Attributes:
    model_dir: the model_dir it describes, or None.
    best_step: global step of the best evaluation (fit with an eval_input_fn), or None.
    best_metrics: dict of that evaluation's metrics, or None.
    best_checkpoint: path of the copy of that step's checkpoint that fit kept, or None.
    stopped_early: True when fit's early stopping ended the run.
    steps_per_run: training steps per ``session.run`` of fit's run (the K that
      ``steps_per_run='auto'`` chose, or the params' value), or None when not known.
  """

  def __init__(
    self,
    frame=None,
    *,
    model_dir=None,
    best_step=None,
    best_metrics=None,
    best_checkpoint=None,
    stopped_early=False,
    steps_per_run=None,
  ):
    import pandas as pd

    if frame is None:
      frame = pd.DataFrame({STEP: np.zeros(0, np.int64), WALL_TIME: np.zeros(0), LOSS: np.zeros(0)})
    self._frame = frame.reset_index(drop=True)
    self.model_dir = model_dir
    self.best_step = best_step
    self.best_metrics = best_metrics
    self.best_checkpoint = best_checkpoint
    self.stopped_early = stopped_early
    self.steps_per_run = steps_per_run

  @classmethod
  def from_records(
    cls, train_steps=(), train_losses=(), train_times=(), evals=(), extra_train=None, **attributes
  ):
    """Builds a History from raw records.

    Args:
      train_steps, train_losses, train_times: equal-length sequences, one item per step.
      evals: iterable of ``(step, wall_time, metrics dict, name)``; ``name`` None for the
        default evaluation.
      extra_train: dict column -> list of (step, wall_time, value), other train scalars.
      **attributes: History attributes (model_dir, best_step, ...).

    Returns:
      A History sorted by step, one row per step (the last record of a step wins).
    """
    import pandas as pd

    train = pd.DataFrame(
      {
        STEP: np.asarray(train_steps, np.int64),
        WALL_TIME: np.asarray(train_times, np.float64),
        LOSS: np.asarray(train_losses, np.float64),
      }
    )
    train = train.drop_duplicates(STEP, keep='last')
    for column, records in sorted((extra_train or {}).items()):
      if not records:
        continue
      extra = pd.DataFrame(records, columns=[STEP, '_t', column]).drop_duplicates(STEP, keep='last')
      train = train.merge(extra, on=STEP, how='outer')
      train[WALL_TIME] = train[WALL_TIME].fillna(train['_t'])
      train = train.drop(columns='_t')
    eval_rows = {}
    for step, wall_time, metrics, name in evals:
      prefix = EVAL_PREFIX + (name + '_' if name else '')
      row = eval_rows.setdefault(int(step), {STEP: int(step), '_t': float(wall_time)})
      for key, value in metrics.items():
        value = scalar_value(value)
        if key != 'global_step' and value is not None:
          row[prefix + key] = value
    frame = train
    if eval_rows:
      ev = pd.DataFrame(list(eval_rows.values()))
      frame = train.merge(ev, on=STEP, how='outer')
      frame[WALL_TIME] = frame[WALL_TIME].fillna(frame['_t'])
      frame = frame.drop(columns='_t')
    frame = frame.sort_values(STEP, kind='stable').reset_index(drop=True)
    frame[STEP] = frame[STEP].astype(np.int64)
    return cls(frame, **attributes)

  # ------------------------------------------------------------------ DataFrame behaviour

  @property
  def frame(self):
    """The pandas DataFrame (step, wall_time, loss, eval_* columns)."""
    return self._frame

  def __getattr__(self, name):
    if name.startswith('_'):
      raise AttributeError(name)
    return getattr(self._frame, name)

  def __getitem__(self, key):
    return self._frame[key]

  def __len__(self):
    return len(self._frame)

  def __iter__(self):
    return iter(self._frame)

  def __contains__(self, column):
    return column in self._frame

  def __repr__(self):
    return 'History(%d rows, best_step=%s)\n%r' % (len(self), self.best_step, self._frame)

  def _repr_html_(self):
    return self._frame._repr_html_()

  @property
  def eval_columns(self):
    """The eval_* columns, in order."""
    return [c for c in self._frame.columns if c.startswith(EVAL_PREFIX)]

  @property
  def train(self):
    """The rows with a training loss."""
    return self._frame[self._frame[LOSS].notna()].reset_index(drop=True)

  @property
  def eval(self):
    """The rows with an evaluation (step, wall_time and the eval_* columns)."""
    columns = self.eval_columns
    if not columns:
      return self._frame.iloc[0:0][[STEP, WALL_TIME]]
    rows = self._frame[columns].notna().any(axis=1)
    return self._frame.loc[rows, [STEP, WALL_TIME] + columns].reset_index(drop=True)

  def to_csv(self, path_or_buf=None, **kwargs):
    """Writes the frame as CSV (no index column); returns the text when no path is given."""
    kwargs.setdefault('index', False)
    return self._frame.to_csv(path_or_buf, **kwargs)

  def plot(self, figsize=None):
    """Draws the training loss and each eval metric by step.

    matplotlib is imported only here (``pip install tfest-adapters[plot]``). The figure is
    made without pyplot, so nothing is shown twice in a notebook and no global figure is left
    open; a notebook displays the returned figure, a script saves it with ``savefig``.

    Returns:
      A ``matplotlib.figure.Figure``: the first axes hold the train loss (line) and the eval
      loss (points), then one axes per other eval metric.
    """
    try:
      from matplotlib.figure import Figure
    except ImportError as e:
      raise ImportError('History.plot needs matplotlib: pip install "tfest-adapters[plot]"') from e
    metrics = [c for c in self.eval_columns if not c.endswith(LOSS)]
    losses = [c for c in self.eval_columns if c.endswith(LOSS)]
    count = 1 + len(metrics)
    figure = Figure(figsize=figsize or (6.4, 2.6 * count), layout='constrained')
    axes = figure.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
    train = self.train
    if len(train):
      axes[0].plot(train[STEP], train[LOSS], label='train loss', linewidth=1)
    for column in losses:
      rows = self._frame[self._frame[column].notna()]
      axes[0].plot(rows[STEP], rows[column], 'o-', label=column.replace('_', ' '), markersize=4)
    axes[0].set_ylabel('loss')
    if len(train) or losses:
      axes[0].legend(loc='best')
    for ax, column in zip(axes[1:], metrics):
      rows = self._frame[self._frame[column].notna()]
      ax.plot(rows[STEP], rows[column], 'o-', markersize=4)
      ax.set_ylabel(column[len(EVAL_PREFIX) :])
    axes[-1].set_xlabel('global step')
    if self.best_step is not None:
      for ax in axes:
        ax.axvline(self.best_step, color='grey', linestyle=':', linewidth=1)
    return figure


def scalar_value(value):
  """A Python float for a scalar metric value, None for anything else."""
  try:
    array = np.asarray(value)
  except Exception:
    return None
  if array.ndim != 0 or array.dtype.kind not in 'biuf':
    return None
  return float(array)


def _event_files(directory):
  return sorted(glob.glob(os.path.join(glob.escape(directory), 'events.out.tfevents.*')))


def _events(path):
  """Yields the Event protos of one event file (tf.data in eager mode, no deprecated API)."""
  import tensorflow as tf
  from tensorflow.core.util import event_pb2

  if tf.executing_eagerly():
    for record in tf.data.TFRecordDataset(path):
      yield event_pb2.Event.FromString(record.numpy())
  else:
    yield from tf.compat.v1.train.summary_iterator(path)


def _scalars(directory):
  """Yields (step, wall_time, tag, value) for every scalar summary in ``directory``."""
  import tensorflow as tf

  for path in _event_files(directory):
    try:
      for event in _events(path):
        if not event.HasField('summary'):
          continue
        for value in event.summary.value:
          if value.HasField('simple_value'):
            number = float(value.simple_value)
          elif value.HasField('tensor'):
            number = scalar_value(tf.make_ndarray(value.tensor))
            if number is None:
              continue
          else:
            continue
          yield int(event.step), float(event.wall_time), value.tag, number
    except tf.errors.DataLossError:
      continue  # A file being written (or truncated by a crash): keep what was read.


def read_history(model_dir):
  """Reads a model_dir's event files (those TensorBoard reads) into a :class:`History`.

  Example:

    history = tfa.read_history('runs/iris')
    history.plot()

  Args:
    model_dir: an Estimator's model_dir. Training events are its ``events.out.tfevents.*``
      files; evaluations are in its ``eval`` (and ``eval_<name>``) subdirectories.

  Returns:
    A History: ``loss`` every ``save_summary_steps`` (the Estimator's summary interval),
    ``steps_per_sec``, other training scalars under their tags, and ``eval_*`` for every
    evaluation. When a step was recorded twice (a run restarted from an older checkpoint),
    the later record wins.

  Raises:
    ArgumentError: model_dir does not exist or holds no event files.
  """
  from tfest_adapters._core import validation

  model_dir = os.fspath(model_dir)
  if not os.path.isdir(model_dir):
    validation.fail('model_dir', 'an existing directory', model_dir)
  eval_dirs = sorted(
    d for d in glob.glob(os.path.join(glob.escape(model_dir), 'eval*')) if os.path.isdir(d)
  )
  if not _event_files(model_dir) and not any(_event_files(d) for d in eval_dirs):
    validation.fail(
      'model_dir',
      'a model_dir with event files (events.out.tfevents.*)',
      model_dir,
      'Has it been trained?',
    )
  records = {}
  extra = {}
  for step, wall_time, tag, value in sorted(_scalars(model_dir), key=lambda r: r[1]):
    if tag == LOSS:
      records[step] = (wall_time, value)
    else:
      extra.setdefault(_TRAIN_TAG_RENAMES.get(tag, tag), []).append((step, wall_time, value))
  steps = sorted(records)
  evals = []
  for directory in eval_dirs:
    base = os.path.basename(directory)
    name = base[len('eval_') :] if base.startswith('eval_') else None
    by_step = {}
    for step, wall_time, tag, value in sorted(_scalars(directory), key=lambda r: r[1]):
      entry = by_step.setdefault(step, [wall_time, {}])
      entry[0] = wall_time
      entry[1][tag] = value
    evals.extend((step, t, metrics, name) for step, (t, metrics) in by_step.items())
  return History.from_records(
    steps,
    [records[s][1] for s in steps],
    [records[s][0] for s in steps],
    evals,
    extra_train=extra,
    model_dir=model_dir,
  )
