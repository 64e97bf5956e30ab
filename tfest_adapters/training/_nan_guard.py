"""The NaN guard: a non-finite loss stops training, and no checkpoint of that step is saved.

:func:`non_finite_guard` makes the pair to pass to ``Estimator.train``: a hook that raises a
TrainingError naming the step (and the non-finite inputs), and a saving listener that vetoes
the save of such a step.
"""

import math

import numpy as np
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters.training import _checkpoints


def _leaf_names(spec, name):
  """Names of the leaves of a structure, in tf.nest.flatten's order (dict keys sorted)."""
  if isinstance(spec, dict):
    names = []
    for key in sorted(spec):
      packed = groups.packed_keys(key)
      if packed is not None:  # One matrix holding several features of a group.
        names.append(
          'one of %s (a matrix of %d features)'
          % (
            ', '.join('%s[%r]' % (name, k) for k in packed[:3])
            + (', ...' if len(packed) > 3 else ''),
            len(packed),
          )
        )
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

  def __init__(self, model_dir, input_names=None):
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
      built[key] = (
        self._variables,
        self._record,
        self._read,
        self._initialize,
        self.weights_finite,
        self._flag_names,
        self._groups,
      )
    (
      self._variables,
      self._record,
      self._read,
      self._initialize,
      self.weights_finite,
      self._flag_names,
      self._groups,
    ) = built[key]

  def _build(self, loss):
    with tf.compat.v1.name_scope('tfest_guard'):
      # In no collection: neither saved in checkpoints nor initialized by the Scaffold (see
      # after_create_session), so it works whatever the model_fn's Scaffold does. The veto
      # reads them back when a save comes before this hook's after_run.
      self._variables = [
        tf.compat.v1.Variable(
          0.0,
          dtype=tf.float64,
          trainable=False,
          collections=[],
          name='last_loss',
          use_resource=True,
        )
      ]
      self._record = {'loss': self._variables[0].assign(tf.cast(loss, tf.float64))}
      flags, self._flag_names = self._input_flags()
      if flags is not None:
        self._variables.append(
          tf.compat.v1.Variable(
            tf.ones_like(flags),
            trainable=False,
            collections=[],
            name='inputs_finite',
            use_resource=True,
          )
        )
        self._record['flags'] = self._variables[1].assign(flags)
      self._read = {
        key: variable.read_value() for key, variable in zip(('loss', 'flags'), self._variables)
      }
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
      return (
        'The inputs were not checked: fit(..., check_numerics=True) names a '
        'non-finite feature or label'
      )
    bad = []
    if flags is not None:
      bad = [name for (_, name), ok in zip(self._flag_names, np.atleast_1d(flags)) if not ok]
    groups = self._groups
    if not bad:
      return (
        "The batch's %s were all finite: the model diverged. Lower the learning "
        'rate, clip the gradients, or look for log(0) or a division by zero in the '
        'model_fn' % ' and '.join(sorted(groups))
      )
    bad_groups = sorted({group for (group, name) in self._flag_names if name in bad})
    good = sorted(groups - set(bad_groups))
    return (
      'The batch held non-finite values in %s%s: clean the data (or pass '
      'check_numerics=True to stop at the first such batch)'
      % (', '.join(bad), ' (%s were finite)' % ' and '.join(good) if good else '')
    )

  def message(self, step, loss, flags=None):
    """The TrainingError message for a non-finite ``loss`` at global step ``step``."""
    saved = _checkpoints.latest_checkpoint_text(self.model_dir)
    return (
      'The training loss was %s at global step %d. Training stopped, and nothing from '
      'that step on was saved: %s. %s' % (_value_text(loss), step, saved, self._inputs_text(flags))
    )


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
      saved = _checkpoints.latest_checkpoint_text(hook.model_dir)
      raise exceptions.TrainingError(
        "The model's variables held non-finite values at global step %d, so they were not "
        'saved: %s. The loss was finite, so the last update overflowed: lower the learning '
        'rate or clip the gradients' % (int(global_step_value), saved)
      )


def non_finite_guard(model_dir, input_names=None):
  """(hook, saving listener) stopping training at a non-finite loss, saving none of it."""
  hook = NonFiniteLossHook(model_dir, input_names)
  return hook, NonFiniteSaveVeto(hook)
