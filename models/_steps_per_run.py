"""Several training steps per ``session.run``: the templates' in-graph loop over a group.

Each ``session.run`` of ``Estimator.train`` has a fixed cost (hooks, feeds, fetches; ~0.7-1.5 ms
on the CPUs measured here) that can be several times the maths of a small model. When the
input_fn yields groups of batches (``tfest_adapters.input_fns.group_batches``, or
``steps_per_run`` of the builders), the templates train on the batches of a group one after the
other in a ``while`` loop inside the graph: one run performs up to ``steps_per_run`` optimizer
steps and the global step advances by as many, as TPUEstimator's ``iterations_per_loop`` and
Keras' ``steps_per_execution`` do.

How the loop is built (:func:`model_spec`): a ``while`` loop whose body takes batch ``i`` of
the group (sliced to its real rows) and builds on it exactly what a single step builds: the
network, the head's loss and one optimizer step (the template's own ``_estimator_spec``).
The body is built once; the variables the network creates there are lifted out of the loop
into the training graph, as ``tf.function`` lifts a Keras layer's variables, with the same
names, initial values and random seeds as with one step per run (a checkpoint written with
groups restores without them, and the other way round). Optimizer slots are created under
``init_scope`` by the optimizers themselves. The next iteration starts only once the step's
train op has run (``parallel_iterations=1`` and a control dependency), so K iterations
compute what K runs of one step compute, bit for bit.

The spec's ``loss`` is the mean of the group's per-step losses (each computed before its
step's update, as with one step per run): a non-finite loss at any step of the group makes it
non-finite. The head's summaries (``loss``, ``regularization_loss``) are written with that
mean; the network's own summaries (e.g. the DNN's hidden-layer histograms) are not written
(logged at INFO): computing them would cost either work at every step or another build of
the network per ``train()`` call.

What stays correct, and what changes with K steps per run:

* The global step advances by the number of steps run. ``Estimator.train(steps=N)`` and
  ``max_steps`` stop exactly with :class:`StepsPerRunStopHook` (which ``fit`` passes, and
  which ``make_estimator``'s Estimator uses for ``steps``/``max_steps``): it feeds the loop
  the last step, so the run reaching it trains fewer steps. With a plain
  ``tf.estimator.Estimator`` and its own ``StopAtStepHook`` only, the stop is checked on
  the global step fetched with a run, read before or after the run's loop (a race), so
  training goes on in whole groups up to ``2K - 2`` steps past the last step (with
  ``steps=10`` and K=4: 12 or 16).
* Hooks run once per group: ``LoggingTensorHook`` (the Estimator's loss log every
  ``log_step_count_steps`` *runs*) logs every ``K * log_step_count_steps`` steps;
  ``StepCounterHook`` (global_step/sec), ``CheckpointSaverHook`` and ``SummarySaverHook``
  count global steps and act at the first run that reaches their step, a few steps late.
* Random ops in the network (dropout) draw other masks than with one step per run: the
  maths are equal in distribution, not bitwise.
* EVAL and PREDICT are unchanged; a group given to them is refused (``group_batches`` and
  the builders pass batches through ungrouped in those modes).
* Needs resource variables (the TF2 default), and no distribution strategy (refused with a
  message; between-graph replication with parameter servers is untested). A variable
  created from a tensor computed in the step, and a tensor computed outside the loop from
  the weights (it would stay at its value before the group), are refused with a message
  naming them.
"""

import collections
import contextlib
import warnings

import tensorflow as tf
from tensorflow.python.ops import resource_variable_ops
from tensorflow.python.ops import while_v2

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import stop_hook
from tfest_adapters.models import _spec_checks

ModeKeys = tf.estimator.ModeKeys
GraphKeys = tf.compat.v1.GraphKeys

# Collections a step adds to, kept apart inside the loop body (see _own_collections).
_BUILD_COLLECTIONS = (GraphKeys.SUMMARIES, GraphKeys.UPDATE_OPS,
                      GraphKeys.REGULARIZATION_LOSSES)
# Attribute of a loop body's graph while a step is built in it (see in_group_step).
_IN_STEP_ATTR = '_tfest_building_group_step'
# Ops that read a variable's value: a tensor computed from them outside the loop is stale.
_READ_OPS = frozenset(['ReadVariableOp', 'ResourceGather', 'ResourceGatherNd', 'VariableV2',
                       'Variable', 'VariableShape'])



def is_group(features):
  """Whether the features a model_fn got are a group of batches (see group_batches)."""
  return groups.is_group(features)


def _fail(text, error=exceptions.SpecError):
  raise error('steps_per_run: ' + text)


class _PackedColumn:
  """Stands for a feature sent as column ``column`` of a packed ``[k, batch, n]`` matrix."""

  def __init__(self, matrix, column):
    self.matrix = matrix
    self.column = column


class _Group:
  """The tensors of a group of batches, and batch ``i`` of it, sliced to its real rows.

  Features and labels of one dtype and one shape are stacked once per run (outside the
  loop) into ``[n, k, batch, ...]``, so that taking batch ``i`` costs one gather (and one
  unstack) per kind of tensor, not one slice per feature: with 30 columns, two ops per step
  instead of thirty. Features the input builders sent as one row-major ``[k, batch, n]``
  matrix (under ``groups.packed_key(keys)``) are not stacked: batch ``i`` is one
  contiguous gather of ``[batch, n]``, unstacked into the features; the templates' DNN input
  layer takes that matrix as it is (see ``_networks._plain_numeric_input``).
  """

  def __init__(self, features, labels):
    features = dict(features)
    self.rows = features.pop(groups.ROWS_KEY)
    if self.rows.shape.rank != 1 or not self.rows.dtype.is_integer:
      _fail('features[%r] must be the int row counts [k] of a group of batches, given: %s' % (
          groups.ROWS_KEY, self.rows), exceptions.ArgumentError)
    self.features = features.pop(groups.FEATURES_KEY, None)
    if self.features is None:
      for key in [k for k in features if groups.packed_keys(k) is not None]:
        keys, matrix = groups.packed_keys(key), features.pop(key)
        if matrix.shape.rank != 3 or matrix.shape[2] != len(keys):
          _fail('features[%r] must be a [k, batch_size, %d] matrix, given: %s' % (
              key, len(keys), matrix), exceptions.ArgumentError)
        # Placeholders, replaced by the matrix's columns at each batch.
        features.update({k: _PackedColumn(matrix, j) for j, k in enumerate(keys)})
      self.features = features
    self.labels = labels
    leaves = tf.nest.flatten(self.features) + (
        [] if labels is None else tf.nest.flatten(labels))
    self._num_features = len(tf.nest.flatten(self.features))
    kinds = collections.OrderedDict()  # Kind -> (tensor, [(column, leaf index)]).
    dims = set()
    for index, leaf in enumerate(leaves):
      if isinstance(leaf, _PackedColumn):
        dims.add(leaf.matrix.shape[1])
        kinds.setdefault(('packed', id(leaf.matrix)), (leaf.matrix, []))[1].append(
            (leaf.column, index))
        continue
      if not isinstance(leaf, tf.Tensor) or leaf.shape.rank is None or leaf.shape.rank < 2:
        _fail('every feature and label of a group must be a dense Tensor [k, batch_size, ...], '
              'given: %r' % (leaf,), exceptions.ArgumentError)
      dims.add(leaf.shape[1])
      entries = kinds.setdefault((leaf.dtype, tuple(leaf.shape[2:])), (None, []))[1]
      entries.append((len(entries), index))
    # Batches of a static size were stacked unpadded: no slicing, static shapes kept.
    self._full = len(dims) == 1 and None not in dims
    # (leaf indices, tensor, layout): 'packed' [k, batch, n] from the builders, 'stacked'
    # [n, k, batch, ...] stacked here, or 'single' [k, batch, ...].
    self._kinds = []
    with tf.name_scope('steps_per_run/group'):
      for kind, (matrix, entries) in kinds.items():
        # Leaf indices in the order the unstack gives the columns.
        indices = [i for _, i in sorted(entries)]
        if kind[0] == 'packed':
          self._kinds.append((indices, matrix, 'packed'))
        elif len(indices) == 1:
          self._kinds.append((indices, leaves[indices[0]], 'single'))
        else:
          stacked = tf.stack([leaves[i] for i in indices])  # [n, k, batch, ...]: copies.
          self._kinds.append((indices, stacked, 'stacked'))
    self._num_leaves = len(leaves)
    self.size = tf.size(self.rows)

  def batch(self, i):
    """(features, labels) of batch ``i`` (a scalar int32 Tensor)."""
    leaves = [None] * self._num_leaves
    rows = None if self._full else tf.gather(self.rows, i)
    for indices, tensor, layout in self._kinds:
      if layout == 'packed':
        batch = tf.gather(tensor, i)  # [batch, n]: contiguous.
        if rows is not None:
          batch = batch[:rows]
        parts = tf.unstack(batch, num=len(indices), axis=1)
      elif layout == 'stacked':
        batch = tf.gather(tensor, i, axis=1)
        if rows is not None:
          batch = batch[:, :rows]
        parts = tf.unstack(batch, num=len(indices))
      else:
        batch = tf.gather(tensor, i)
        parts = [batch if rows is None else batch[:rows]]
      for index, part in zip(indices, parts):
        leaves[index] = part
    features = tf.nest.pack_sequence_as(self.features, leaves[:self._num_features])
    labels = (None if self.labels is None else
              tf.nest.pack_sequence_as(self.labels, leaves[self._num_features:]))
    return features, labels


@contextlib.contextmanager
def _own_collections():
  """The summary, update-op and regularization collections start empty in the block.

  They are restored after it, so that the step sees only its own items (a loop body's graph
  starts with copies of the outer graph's) and its items never leak into the training
  graph's (the step's summaries and update ops live inside the loop).
  """
  graph = tf.compat.v1.get_default_graph()
  saved = {key: list(graph.get_collection(key)) for key in _BUILD_COLLECTIONS}
  for key in _BUILD_COLLECTIONS:
    del graph.get_collection_ref(key)[:]
  try:
    yield
  finally:
    for key in _BUILD_COLLECTIONS:
      graph.get_collection_ref(key)[:] = saved[key]


@contextlib.contextmanager
def _lifting():
  """Creates the variables of the block outside the loop body being built.

  As ``tf.function`` lifts the variables a Keras layer creates while it is traced: every
  variable is created under ``init_scope``, in the training graph, with its initial value
  computed there (Keras layers, ``tf.compat.v1.get_variable`` and ``tf.compat.v1.layers``
  pass it as a callable), named and registered (variable store, collections) as one
  created by a single step would be.
  """
  body_graph = tf.compat.v1.get_default_graph()

  def lift(next_creator, **kwargs):
    initial_value = kwargs.get('initial_value')
    if isinstance(initial_value, tf.Tensor) and initial_value.graph is body_graph:
      _fail('the network creates variable %r from a tensor (%s) computed in the step; inside '
            'the training loop variables are created outside the loop, so give the initial '
            'value as an initializer (tf.keras.layers, tf.compat.v1.get_variable with an '
            'initializer) or a callable (tf.Variable(lambda: ...)), or use steps_per_run=1'
            % (kwargs.get('name'), initial_value.name))
    with tf.init_scope():
      variable = next_creator(**kwargs)
    _check_resource([variable])
    return variable

  with _own_collections(), tf.compat.v1.variable_creator_scope(lift):
    setattr(body_graph, _IN_STEP_ATTR, True)
    try:
      yield
    finally:
      setattr(body_graph, _IN_STEP_ATTR, False)


def in_group_step():
  """Whether a step of a group's training loop is being built in the current graph.

  The summaries made then are not written (see the module doc): a network can skip
  building them, as the templates' DNN does.
  """
  return getattr(tf.compat.v1.get_default_graph(), _IN_STEP_ATTR, False)


def _check_resource(variables):
  for variable in variables:
    if not resource_variable_ops.is_resource_variable(variable):
      _fail('%s is a reference variable; the training loop needs resource variables (the TF2 '
            'default, off after tf.compat.v1.disable_v2_behavior() or '
            'disable_resource_variables(), or with use_resource=False). Enable them, or use '
            'steps_per_run=1' % variable.name)


def _reads_variables(tensor, limit=100000):
  """The name of a variable read among the ancestors of ``tensor``, or None."""
  seen = set()
  stack = [tensor.op]
  while stack and len(seen) < limit:
    op = stack.pop()
    if op in seen:
      continue
    seen.add(op)
    if op.type in _READ_OPS:
      handle = op.inputs[0].op if op.inputs else op
      return handle.name
    stack.extend(t.op for t in op.inputs)
    stack.extend(op.control_inputs)
  return None


def _check_captures(body_graph, allowed):
  """Refuses a loop body using a value computed outside the loop from the weights."""
  allowed = set(id(t) for t in allowed)
  for tensor in body_graph.external_captures:
    if tensor.dtype == tf.resource or id(tensor) in allowed:
      continue
    variable = _reads_variables(tensor)
    if variable is not None:
      _fail('the training step uses %s, computed outside the training loop from the value of '
            'variable %r, which would stay at its value before the group instead of '
            'following each step. This is typically a tensor made once and reused (a '
            'learning rate computed from the global step outside the optimizer callable, a '
            'loss kept in a collection); compute it inside the network_fn or the optimizer '
            'callable, or use steps_per_run=1' % (tensor.name, variable))


def _summary_key(head, key):
  name = getattr(head, 'name', None)
  return '%s/%s' % (key, name) if name else key


def _check_step_spec(spec):
  if spec.training_hooks or spec.training_chief_hooks:
    _fail('the TRAIN spec of one step has training hooks, which cannot run inside the '
          'training loop (they see one step per run); use steps_per_run=1')
  if spec.train_op is None or spec.loss is None:
    _fail('the TRAIN spec of one step needs a loss and a train_op')


def grouped_train_spec(features, labels, network, make_spec, head, regularization_fn):
  """The TRAIN spec of a group: an in-graph loop of one step per batch (see module doc)."""
  if tf.distribute.has_strategy():
    _fail('groups of batches cannot be trained under a distribution strategy (%s): the '
          'Estimator already runs the model_fn once per replica. Use steps_per_run=1 with '
          'train_distribute' % type(tf.distribute.get_strategy()).__name__,
          exceptions.ArgumentError)
  graph = tf.compat.v1.get_default_graph()
  group = _Group(features, labels)
  global_step = tf.compat.v1.train.get_or_create_global_step()
  _check_resource([global_step])
  with tf.name_scope('steps_per_run'):
    last_step = tf.compat.v1.placeholder_with_default(
        tf.constant(stop_hook.NO_LAST_STEP, tf.int64), [], name='last_step')
    steps = tf.cast(tf.clip_by_value(last_step - tf.cast(global_step.read_value(), tf.int64),
                                     0, tf.cast(group.size, tf.int64)), tf.int32)
  traced = {}

  def cond(i, loss_sum, regularization_sum):
    del loss_sum, regularization_sum  # Unused.
    return i < steps

  def body(i, loss_sum, regularization_sum):
    """One step on batch i: the network (its variables lifted out), the head, the optimizer."""
    with _lifting():
      features_i, labels_i = group.batch(i)
      logits_i, layers_i = network(features_i)
      network_summaries = tf.compat.v1.get_collection(GraphKeys.SUMMARIES)
      regularization = regularization_fn(layers_i)
      spec = make_spec(features_i, labels_i, logits_i, layers_i)
    _check_step_spec(spec)
    traced.update(graph=tf.compat.v1.get_default_graph(),
                  network_summaries=network_summaries, regularization=bool(regularization),
                  dtype=spec.loss.dtype.base_dtype)
    regularization = (tf.cast(tf.add_n(regularization), tf.float64) if regularization
                      else tf.zeros([], tf.float64))
    with tf.control_dependencies([spec.train_op]):
      return (i + 1, loss_sum + tf.cast(spec.loss, tf.float64),
              regularization_sum + regularization)

  # The sums are float64 whatever the loss dtype, known only once the body is built.
  outputs = while_v2.while_loop(
      cond, body, [tf.constant(0), tf.zeros([], tf.float64), tf.zeros([], tf.float64)],
      parallel_iterations=1, name='steps_per_run')
  _check_captures(traced['graph'], allowed=[steps])  # The loop's bound, read before it.
  steps_run, loss_sum, regularization_sum = outputs

  # The spec: mean loss, summaries, and what the stop hook needs.
  train_op = tf.group(*outputs, name='steps_per_run/train_op')
  denominator = tf.cast(steps_run, tf.float64)
  dtype = traced['dtype']
  loss = tf.cast(tf.math.divide_no_nan(loss_sum, denominator), dtype,
                 name='steps_per_run/mean_loss')
  with tf.control_dependencies([train_op]):
    global_step_after = tf.identity(global_step.read_value(),
                                    name='steps_per_run/global_step_after')
  with tf.name_scope(''):
    tf.compat.v1.summary.scalar(_summary_key(head, 'loss'), loss)
    if traced['regularization']:
      tf.compat.v1.summary.scalar(
          _summary_key(head, 'regularization_loss'),
          tf.cast(tf.math.divide_no_nan(regularization_sum, denominator), dtype))
  if traced['network_summaries']:
    tf.compat.v1.logging.info(
        'steps_per_run: the %d summaries the network makes (%s) are not written when a '
        'session.run trains a group of batches; the head\'s loss summaries are, averaged '
        'over each group', len(traced['network_summaries']),
        ', '.join(sorted(s.op.name for s in traced['network_summaries'])[:3]) + ', ...')
  stop_hook.add_loop(graph, last_step, global_step_after)
  return tf.estimator.EstimatorSpec(ModeKeys.TRAIN, loss=loss, train_op=train_op)


def model_spec(features, labels, mode, network, make_spec, head, regularization_fn,
               steps_per_run=1):
  """The spec of a template: one step, or a loop of steps when ``features`` are a group.

  Args:
    features, labels, mode: what the model_fn got.
    network: ``network(features) -> (logits, keras_layers)``, builds the network.
    make_spec: ``make_spec(features, labels, logits, keras_layers) -> EstimatorSpec``, the
      spec of one batch (in TRAIN, with the train op of one step).
    head: the ``tf.estimator.Head`` (its name keys the loss summaries).
    regularization_fn: ``regularization_fn(keras_layers)`` -> the list of regularization
      losses ``make_spec`` adds to the loss.
    steps_per_run: the steps per run asked for (``params['steps_per_run']``): above 1 in
      TRAIN, single batches get a warning (the input_fn does not group its batches).

  Returns:
    A ``tf.estimator.EstimatorSpec``.

  Raises:
    ArgumentError: a group in EVAL or PREDICT.
    SpecError: a network the loop cannot repeat exactly (see the module docstring).
  """
  if not is_group(features):
    if mode == ModeKeys.TRAIN and steps_per_run > 1:
      warnings.warn(
          'params["steps_per_run"]=%d asks for %d training steps per session.run, but the '
          'input_fn gives one batch per run, so each run trains one step. Use an input '
          'builder of tfest_adapters.input_fns (they group their batches by '
          'params["steps_per_run"]), or wrap your input_fn in group_batches(input_fn)' % (
              steps_per_run, steps_per_run), UserWarning, stacklevel=2)
    logits, layers = network(features)
    return make_spec(features, labels, logits, layers)
  if mode != ModeKeys.TRAIN:
    _fail('%s got a group of batches (features[%r]): groups are for training only. '
          'group_batches passes batches through ungrouped when the Estimator gives the '
          'input_fn its mode; give evaluate/predict an input_fn taking `mode`, or the '
          'ungrouped input_fn' % (_spec_checks.mode_name(mode), groups.ROWS_KEY),
          exceptions.ArgumentError)
  return grouped_train_spec(features, labels, network, make_spec, head, regularization_fn)
