"""Guards that keep a model_dir's checkpoints good while training: NaN, signals, wrong models.

TensorFlow's Estimator leaves four traps that lose training or leave a model_dir that cannot
be restarted; each guard here closes one, using only the hook and listener interfaces the
Estimator offers:

* :class:`NonFiniteLossHook` and its :class:`NonFiniteSaveVeto`: a NaN or Inf loss stops
  training with a :class:`~tfest_adapters.exceptions.TrainingError` naming the global step
  (and whether the batch's features or labels held non-finite values), and nothing from that
  step on is saved. The Estimator's CheckpointSaverHook runs its ``after_run`` before any
  other hook, so on its own a NaN appearing just before a save was written as the latest
  checkpoint (measured here), and every restart failed at once. The veto is a saving
  listener: it refuses, in ``before_save``, a checkpoint whose step had a non-finite loss
  (the hook records each step's loss in a variable in the same ``session.run``) or whose
  variables are not all finite.
* :class:`SafeCheckpointSaverHook`: the Estimator's CheckpointSaverHook (same timer, saver,
  listeners and files), except that it does not re-save, when the session starts, the
  checkpoint it has just restored (or the untrained ckpt-0): a run that fails at its first
  step (labels out of range, NaN input, wrong model) leaves model_dir's checkpoints
  untouched, and a resumed run does not rewrite a checkpoint it did not change. It also
  flushes the event file at every checkpoint, so the History read back after a ``kill -9``
  reaches the latest checkpoint.
* :class:`SaveOnSignal`: SIGINT (Ctrl-C, a notebook's interrupt) and SIGTERM (preemption)
  during :func:`fit` end the current step, save a checkpoint at it, restore the previous
  handlers and then act as they would have (KeyboardInterrupt, or termination).
* :class:`CheckpointCompatibilityHook`: a model_dir holding a checkpoint of another model
  (variables missing or of another shape) is refused before the session starts, with the
  variables named, instead of TF's restore error.

:func:`check_numerics_input_fn` wraps an input_fn so that every float feature and label goes
through ``tf.debugging.check_numerics``: a non-finite input fails before its step is taken,
naming the feature.
"""

import logging
import math
import re
import signal
import threading

import numpy as np
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups

_LOGGER = logging.getLogger('tfest_adapters')
CHECK_NUMERICS_TAG = 'tfest check_numerics: '
_SHOWN_VARIABLES = 6


def latest_checkpoint_text(model_dir):
  """'the latest checkpoint, <path> (step N), is intact' or 'model_dir holds no checkpoint'."""
  path = tf.train.latest_checkpoint(model_dir)
  if not path:
    return 'no checkpoint was written: model_dir %s holds none' % model_dir
  step = path.rsplit('-', 1)[-1]
  return 'the latest checkpoint, %s (step %s), is intact' % (path, step)


# ------------------------------------------------------------------------------ non-finite


def _leaf_names(spec, name):
  """Names of the leaves of a structure, in tf.nest.flatten's order (dict keys sorted)."""
  if isinstance(spec, dict):
    names = []
    for key in sorted(spec):
      packed = groups.packed_keys(key)
      if packed is not None:  # One matrix holding several features of a group.
        names.append('one of %s (a matrix of %d features)' % (
            ', '.join('%s[%r]' % (name, k) for k in packed[:3]) +
            (', ...' if len(packed) > 3 else ''), len(packed)))
      else:
        names.extend(_leaf_names(spec[key], '%s[%r]' % (name, key)))
    return names
  if isinstance(spec, (tuple, list)):
    names = []
    for i, item in enumerate(spec):
      names.extend(_leaf_names(item, '%s[%d]' % (name, i)))
    return names
  return [name]


def _input_names(element_spec):
  """(group, name) of each flattened tensor of a (features, labels) dataset element."""
  if isinstance(element_spec, tuple) and len(element_spec) == 2:
    parts = (('features', element_spec[0]), ('labels', element_spec[1]))
  elif isinstance(element_spec, tuple) and len(element_spec) == 1:
    parts = (('features', element_spec[0]),)
  else:
    parts = (('features', element_spec),)
  names = []
  for group, spec in parts:
    names.extend((group, name) for name in _leaf_names(spec, group))
  if len(names) != len(tf.nest.flatten(element_spec)):
    return None
  return names


def input_names(input_result):
  """The names :class:`NonFiniteLossHook` reports inputs by, for an input_fn's result."""
  if isinstance(input_result, tf.data.Dataset):
    try:
      return _input_names(input_result.element_spec)
    except (TypeError, ValueError):
      return None
  return None


# Attribute of a graph: the ops NonFiniteLossHook built in it, by loss and input names.
_GUARD_OPS_ATTR = '_tfest_non_finite_guard_ops'


class NonFiniteLossHook(tf.compat.v1.train.SessionRunHook):
  """Stops training at the first NaN or Inf loss with a TrainingError naming the step.

  Every step it records the loss into a variable of its own (in the same ``session.run``
  as the train op), for :class:`NonFiniteSaveVeto`, and, when the training input is one
  ``tf.data`` iterator whose structure is known, whether each float feature and label of the
  batch was finite (one reduction per input tensor), to say which held non-finite values.

  Args:
    model_dir: the Estimator's model_dir (named in the error with its latest checkpoint).
    input_names: ``[(group, name), ...]`` of the flattened dataset element (from
      :func:`input_names`), or None not to check the inputs.
  """

  # Its begin() builds its ops once per graph: a kept training graph takes it again (see
  # tfest_adapters.estimator._kept_session).
  kept_graph_safe = True

  def __init__(self, model_dir, input_names=None):  # pylint: disable=redefined-outer-name
    self.model_dir = model_dir
    self.input_names = input_names
    self.ran = False
    self.weights_finite = None
    self._variables = []
    self._record = None
    self._read = None
    self._global_step = None
    self._flag_names = None
    self._groups = None

  def begin(self):
    losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)
    self.ran = False
    self._record = None
    self._global_step = tf.compat.v1.train.get_global_step()
    if not losses:
      return
    graph = tf.compat.v1.get_default_graph()
    built = getattr(graph, _GUARD_OPS_ATTR, None)
    if built is None:
      built = {}
      setattr(graph, _GUARD_OPS_ATTR, built)
    key = (losses[-1].name, None if self.input_names is None else tuple(self.input_names))
    if key not in built:
      self._build(losses[-1])
      built[key] = (self._variables, self._record, self._read, self._initialize,
                    self.weights_finite, self._flag_names, self._groups)
    (self._variables, self._record, self._read, self._initialize, self.weights_finite,
     self._flag_names, self._groups) = built[key]

  def _build(self, loss):
    with tf.compat.v1.name_scope('tfest_guard'):
      # In no collection: neither saved in checkpoints nor initialized by the Scaffold (see
      # after_create_session), so it works whatever the model_fn's Scaffold does. The veto
      # reads them back when a save comes before this hook's after_run.
      self._variables = [tf.compat.v1.Variable(
          0.0, dtype=tf.float64, trainable=False, collections=[], name='last_loss',
          use_resource=True)]
      self._record = {'loss': self._variables[0].assign(tf.cast(loss, tf.float64))}
      flags, self._flag_names = self._input_flags()
      if flags is not None:
        self._variables.append(tf.compat.v1.Variable(
            tf.ones_like(flags), trainable=False, collections=[], name='inputs_finite',
            use_resource=True))
        self._record['flags'] = self._variables[1].assign(flags)
      self._read = {key: variable.read_value()
                    for key, variable in zip(('loss', 'flags'), self._variables)}
      # Built now: under a distribution strategy the variables are mirrored, and their
      # initializer is a new op, which the finalized graph of the session would refuse.
      self._initialize = tf.group([variable.initializer for variable in self._variables])
      self.weights_finite = _all_finite_op(tf.compat.v1.global_variables())

  def _input_flags(self):
    """One bool per float input tensor of the batch: all its values finite.

    Sets ``_groups`` to the input groups checked ('features', 'labels'; integer and string
    tensors are finite by nature), or None when the inputs cannot be found.
    """
    self._groups = None
    if not self.input_names:
      return None, None
    graph = tf.compat.v1.get_default_graph()
    ops = [op for op in graph.get_operations() if op.type == 'IteratorGetNext']
    if len(ops) != 1 or len(ops[0].outputs) != len(self.input_names):
      return None, None
    self._groups = {group for group, _ in self.input_names}
    flags, names = [], []
    for tensor, name in zip(ops[0].outputs, self.input_names):
      if tensor.dtype.is_floating:
        flags.append(tf.reduce_all(tf.math.is_finite(tensor)))
        names.append(name)
    if not flags:
      return None, None
    return tf.stack(flags), names

  def after_create_session(self, session, coord):
    del coord  # Unused.
    if self._record is not None:
      session.run(self._initialize)

  def before_run(self, run_context):
    del run_context  # Unused.
    if self._record is None:
      return None
    self.ran = True
    return tf.compat.v1.train.SessionRunArgs(self._record)

  def after_run(self, run_context, run_values):
    if self._record is None:
      return
    loss = float(run_values.results['loss'])
    if math.isfinite(loss):
      return
    step = int(run_context.session.run(self._global_step))
    raise exceptions.TrainingError(self.message(step, loss, run_values.results.get('flags')))

  @property
  def active(self):
    """Whether the graph had a loss to watch (set by ``begin``)."""
    return self._record is not None

  def read_last(self, session):
    """(loss, input flags or None) recorded at the latest step (for the veto)."""
    values = session.run(self._read)
    return float(values['loss']), values.get('flags')

  def _inputs_text(self, flags):
    if self._groups is None:
      return ('The inputs were not checked: fit(..., check_numerics=True) names a '
              'non-finite feature or label')
    bad = []
    if flags is not None:
      bad = [name for (_, name), ok in zip(self._flag_names, np.atleast_1d(flags)) if not ok]
    groups = self._groups
    if not bad:
      return ('The batch\'s %s were all finite: the model diverged. Lower the learning '
              'rate, clip the gradients, or look for log(0) or a division by zero in the '
              'model_fn' % ' and '.join(sorted(groups)))
    bad_groups = sorted({group for (group, name) in self._flag_names if name in bad})
    good = sorted(groups - set(bad_groups))
    return ('The batch held non-finite values in %s%s: clean the data (or pass '
            'check_numerics=True to stop at the first such batch)' % (
                ', '.join(bad), ' (%s were finite)' % ' and '.join(good) if good else ''))

  def message(self, step, loss, flags=None):
    return ('The training loss was %s at global step %d. Training stopped, and nothing from '
            'that step on was saved: %s. %s' % (
                _value_text(loss), step, latest_checkpoint_text(self.model_dir),
                self._inputs_text(flags)))


def _value_text(value):
  if math.isnan(value):
    return 'NaN'
  return '+Inf' if value > 0 else '-Inf'


def _all_finite_op(variables):
  """A scalar bool: every float variable holds only finite values (None when none)."""
  checks = []
  for variable in variables:
    try:
      if not variable.dtype.base_dtype.is_floating:
        continue
      checks.append(tf.reduce_all(tf.math.is_finite(variable)))
    except (TypeError, ValueError):
      continue
  if not checks:
    return None
  return tf.reduce_all(tf.stack(checks))


class NonFiniteSaveVeto(tf.estimator.CheckpointSaverListener):
  """Refuses to write a checkpoint after a non-finite loss or holding non-finite variables.

  The Estimator's CheckpointSaverHook saves in its ``after_run``, before any other hook
  sees the step's loss; this listener runs in that save's ``before_save`` and reads the loss
  the paired :class:`NonFiniteLossHook` recorded in the same step, so a NaN step is never
  saved as "latest".
  """

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(self, hook):
    self.hook = hook

  def before_save(self, session, global_step_value):
    hook = self.hook
    if not hook.active:
      return
    if hook.ran:
      loss, flags = hook.read_last(session)
      if not math.isfinite(loss):
        raise exceptions.TrainingError(hook.message(int(global_step_value), loss, flags))
    if hook.weights_finite is not None and not session.run(hook.weights_finite):
      raise exceptions.TrainingError(
          'The model\'s variables held non-finite values at global step %d, so they were not '
          'saved: %s. The loss was finite, so the last update overflowed: lower the learning '
          'rate or clip the gradients' % (int(global_step_value),
                                          latest_checkpoint_text(hook.model_dir)))


def non_finite_guard(model_dir, input_names=None):  # pylint: disable=redefined-outer-name
  """(hook, saving listener) stopping training at a non-finite loss; see the module doc."""
  hook = NonFiniteLossHook(model_dir, input_names)
  return hook, NonFiniteSaveVeto(hook)


# ------------------------------------------------------------------------------ signals


class _StopOnSignalHook(tf.compat.v1.train.SessionRunHook):
  """Requests a stop after the step during which a signal arrived (the saver then saves)."""

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(self, guard):
    self.guard = guard

  def after_run(self, run_context, run_values):
    del run_values  # Unused.
    if self.guard.received is not None:
      run_context.request_stop()


class SaveOnSignal:
  """SIGINT/SIGTERM during training: finish the step, save it, then act as before.

  A context manager. Entered in the main thread, it replaces the SIGINT and SIGTERM
  handlers (not ignored ones) with one that only notes the signal; ``hook`` (a
  SessionRunHook) then stops training after the current step, so that the Estimator's
  saver writes a checkpoint at that step on its way out. The first signal also restores the
  previous handlers, so a second Ctrl-C aborts at once, without saving. On exit the previous
  handlers are back; :meth:`redeliver` then does what they would have done with the signal
  (raise KeyboardInterrupt for SIGINT, terminate for SIGTERM, or call the handler).
  Outside the main thread it does nothing (Python delivers signals to the main thread only).
  """

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.received = None
    self.hook = _StopOnSignalHook(self)
    self._previous = {}
    self._installed = {}

  def __enter__(self):
    self.received = None
    if threading.current_thread() is not threading.main_thread():
      return self
    for signum in self.SIGNALS:
      previous = signal.getsignal(signum)
      if previous is None or previous == signal.SIG_IGN:
        continue  # Installed outside Python, or ignored on purpose: left alone.
      self._previous[signum] = previous
      self._installed[signum] = previous
      signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame  # Unused.
    if self.received is None:
      self.received = signum
    self._restore()

  def _restore(self):
    while self._installed:
      signum, previous = self._installed.popitem()
      signal.signal(signum, previous)

  def __exit__(self, *exc_info):
    self._restore()

  def redeliver(self, model_dir):
    """After the save: re-raise the signal as the previous handler would have handled it."""
    signum = self.received
    if signum is None:
      return
    name = signal.Signals(signum).name
    text = '%s received: training stopped after saving, %s' % (
        name, latest_checkpoint_text(model_dir).replace('is intact', 'holds every step'))
    previous = self._previous.get(signum, signal.SIG_DFL)
    if previous is signal.default_int_handler:
      raise KeyboardInterrupt(text)
    _LOGGER.warning('%s', text)
    if callable(previous):
      previous(signum, None)
    elif previous == signal.SIG_DFL:
      signal.raise_signal(signum)


# ------------------------------------------------------------------------- model_dir check


class CheckpointCompatibilityHook(tf.compat.v1.train.SessionRunHook):
  """Refuses, before the session, a model_dir whose checkpoint is of another model.

  In ``begin`` (the graph is built, no session yet) it compares the graph's variables with
  those of model_dir's latest checkpoint, as the Estimator's default Saver will restore
  them, and raises a :class:`~tfest_adapters.exceptions.ModelDirError` listing the variables
  the checkpoint lacks or holds with another shape or dtype. Graphs saved by a Saver of the
  model_fn's own, or with partitioned variables, are left to TF.
  """

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(self, model_dir):
    self.model_dir = model_dir

  def begin(self):
    path = tf.train.latest_checkpoint(self.model_dir)
    if not path:
      return
    savers = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.SAVERS)
    if len(savers) != 1 or getattr(savers[0], '_var_list', None) is not None:
      return
    try:
      reader = tf.compat.v1.train.NewCheckpointReader(path)
      shapes = reader.get_variable_to_shape_map()
      dtypes = reader.get_variable_to_dtype_map()
    except tf.errors.OpError:
      return
    missing, different = [], []
    for variable in tf.compat.v1.global_variables():
      if getattr(variable, '_save_slice_info', None) is not None:
        return
      try:
        name = variable.op.name
        shape = variable.shape.as_list()
        dtype = variable.dtype.base_dtype
      except (AttributeError, ValueError):
        return
      if name not in shapes:
        missing.append('%s %s' % (name, shape))
      elif list(shapes[name]) != shape or dtypes[name].base_dtype != dtype:
        different.append('%s: %s %s in the checkpoint, %s %s in the model' % (
            name, dtypes[name].name, list(shapes[name]), dtype.name, shape))
    if not missing and not different:
      return
    parts = []
    if missing:
      parts.append('it lacks %d variable(s) of this model: %s' % (
          len(missing), _shown(missing)))
    if different:
      parts.append('%d differ: %s' % (len(different), _shown(different)))
    raise exceptions.ModelDirError(
        'model_dir %s holds a checkpoint of another model (%s): %s. Nothing was changed. '
        'Train this model in a new model_dir, or start it from that checkpoint\'s matching '
        'variables with warm_start_from=tf.estimator.WarmStartSettings(...)' % (
            self.model_dir, path, '; '.join(parts)))


def _shown(items):
  text = ', '.join(items[:_SHOWN_VARIABLES])
  if len(items) > _SHOWN_VARIABLES:
    text += ', ... (%d more)' % (len(items) - _SHOWN_VARIABLES)
  return text


# ------------------------------------------------------------------------- check_numerics


def _checked(value, name):
  if isinstance(value, tf.Tensor) and value.dtype.is_floating:
    return tf.debugging.check_numerics(value, CHECK_NUMERICS_TAG + name)
  if isinstance(value, tf.SparseTensor) and value.values.dtype.is_floating:
    return tf.SparseTensor(value.indices,
                           tf.debugging.check_numerics(value.values, CHECK_NUMERICS_TAG + name),
                           value.dense_shape)
  return value


def _check_structure(value, group):
  if isinstance(value, dict):
    return {key: _check_structure(v, '%s[%r]' % (group, key)) for key, v in value.items()}
  return _checked(value, group)


def _check_element(element):
  if isinstance(element, tuple) and len(element) == 2:
    return (_check_structure(element[0], 'features'), _check_structure(element[1], 'labels'))
  if isinstance(element, tuple) and len(element) == 1:
    return (_check_structure(element[0], 'features'),)
  return _check_structure(element, 'features')


def check_numerics_input_fn(input_fn):
  """Wraps an input_fn so that its float features and labels are checked to be finite.

  Every float Tensor (and SparseTensor's values) of ``(features, labels)`` goes through
  ``tf.debugging.check_numerics``: the first batch holding a NaN or Inf fails before the
  model sees it, with an ``InvalidArgumentError`` naming it (``features['x']``); :func:`fit`
  turns that into a TrainingError with the step.

  Args:
    input_fn: an Estimator input_fn (returning a ``tf.data.Dataset`` or a
      ``(features, labels)`` pair).

  Returns:
    An input_fn taking what ``input_fn`` takes among ``mode``, ``params``, ``config`` and
    ``input_context`` and returning the same structure, checked.
  """
  from tensorflow.python.util import function_utils  # pylint: disable=g-direct-tensorflow-import
  args = set(function_utils.fn_args(input_fn))

  def checked_input_fn(mode=None, params=None, config=None, input_context=None):
    given = dict(mode=mode, params=params, config=config, input_context=input_context)
    result = input_fn(**{k: v for k, v in given.items() if k in args})
    if isinstance(result, tf.data.Dataset):
      @tf.autograph.experimental.do_not_convert
      def check(*element):
        return _check_element(element[0] if len(element) == 1 else element)
      return result.map(check)
    return _check_element(result)

  checked_input_fn.checked_input_fn = input_fn
  return checked_input_fn


_CHECK_NUMERICS_RE = re.compile(re.escape(CHECK_NUMERICS_TAG) + r'(.+?) : Tensor had (.+?) values')


def check_numerics_failure(error):
  """(input name, 'NaN'/'Inf'/...) when ``error`` comes from check_numerics_input_fn."""
  match = _CHECK_NUMERICS_RE.search(str(getattr(error, 'message', error)))
  if not match:
    return None
  return match.group(1), match.group(2)


def assertion_text(error):
  """The data of a failed ``tf.debugging.Assert`` as one line of text, or None."""
  text = str(getattr(error, 'message', error))
  start = text.find('assertion failed: ')
  if start < 0:
    return None
  line = text[start + len('assertion failed: '):].split('\n')[0]
  parts, depth, current = [], 0, []
  for char in line:
    if char == '[':
      depth += 1
      if depth == 1:
        current = []
        continue
    elif char == ']':
      depth -= 1
      if depth == 0:
        parts.append(''.join(current).strip())
        continue
    if depth >= 1:
      current.append(char)
  return ' '.join(p for p in parts if p) or None


def op_error_text(error):
  """The message of a TF op error without its graph-construction traceback, on one line.

  TF's session errors read "Graph execution error:", then where the op was defined, then
  "Node: 'name'", then the op's own message: that message and the node are kept.
  """
  text = str(getattr(error, 'message', error))
  node = None
  for line in text.splitlines():
    stripped = line.strip()
    if stripped.startswith('Node: '):
      node = stripped[len('Node: '):].strip("'")
      continue
    if (not stripped or line[:1].isspace() or stripped == 'Graph execution error:' or
        stripped.startswith('Detected at node') or stripped.startswith('[[')):
      continue
    return '%s (op %s)' % (stripped, node) if node else stripped
  return text.strip()
