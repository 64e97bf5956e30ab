"""Several training steps per ``session.run``: the TRAIN spec of a group, an in-graph loop.

When the input_fn yields groups of batches, :func:`model_spec` trains them one batch per
iteration of a ``while`` loop whose body builds exactly what one step builds, so that K steps
per run compute what K runs of one step compute; :class:`StepsPerRunStopHook` stops it exactly.
"""

import contextlib
import warnings

import tensorflow as tf
from tensorflow.python.ops import lookup_ops  # The heads' own index_table_from_tensor.
from tensorflow.python.ops import resource_variable_ops
from tensorflow.python.ops import while_v2

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import stop_hook
from tfest_adapters.models import _group_batch
from tfest_adapters.models import _spec_checks

ModeKeys = tf.estimator.ModeKeys
GraphKeys = tf.compat.v1.GraphKeys

# Collections a step adds to, kept apart inside the loop body (see _own_collections).
_BUILD_COLLECTIONS = (GraphKeys.SUMMARIES, GraphKeys.UPDATE_OPS, GraphKeys.REGULARIZATION_LOSSES)
# Ops that read a variable's value: a tensor computed from them outside the loop is stale.
_READ_OPS = frozenset(
  [
    'ReadVariableOp',
    'ResourceGather',
    'ResourceGatherNd',
    'VariableV2',
    'Variable',
    'VariableShape',
  ]
)


def is_group(features):
  """Whether the features a model_fn got are a group of batches (see group_batches)."""
  return groups.is_group(features)


def _fail(text, error=exceptions.SpecError):
  raise error('steps_per_run: ' + text)


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
      _fail(
        'the network creates variable %r from a tensor (%s) computed in the step; inside '
        'the training loop variables are created outside the loop, so give the initial '
        'value as an initializer (tf.keras.layers, tf.compat.v1.get_variable with an '
        'initializer) or a callable (tf.Variable(lambda: ...)), or use steps_per_run=1'
        % (kwargs.get('name'), initial_value.name)
      )
    with tf.init_scope():
      variable = next_creator(**kwargs)
    _check_resource([variable])
    return variable

  with _own_collections(), tf.compat.v1.variable_creator_scope(lift), _group_batch.building_step():
    yield


def _check_resource(variables):
  for variable in variables:
    if not resource_variable_ops.is_resource_variable(variable):
      _fail(
        '%s is a reference variable; the training loop needs resource variables (the TF2 '
        'default, off after tf.compat.v1.disable_v2_behavior() or '
        'disable_resource_variables(), or with use_resource=False). Enable them, or use '
        'steps_per_run=1' % variable.name
      )


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
      _fail(
        'the training step uses %s, computed outside the training loop from the value of '
        'variable %r, which would stay at its value before the group instead of '
        'following each step. This is typically a tensor made once and reused (a '
        'learning rate computed from the global step outside the optimizer callable, a '
        'loss kept in a collection); compute it inside the network_fn or the optimizer '
        'callable, or use steps_per_run=1' % (tensor.name, variable)
      )


def _summary_key(head, key):
  name = getattr(head, 'name', None)
  return '%s/%s' % (key, name) if name else key


def _check_step_spec(spec):
  if spec.training_hooks or spec.training_chief_hooks:
    _fail(
      'the TRAIN spec of one step has training hooks, which cannot run inside the '
      'training loop (they see one step per run); use steps_per_run=1'
    )
  if spec.train_op is None or spec.loss is None:
    _fail('the TRAIN spec of one step needs a loss and a train_op')


def _class_ids_head(head, labels):
  """``(head, labels)`` for the loop: class names looked up once per group, outside it.

  A classification head with a ``label_vocabulary`` looks the names up in a tf.compat.v1
  table, whose initializer the loop body cannot hold (the Scaffold initializes the training
  graph's tables). The group's labels are looked up here, in the training graph, and each
  step gets the head's twin without a vocabulary: the same loss on the same class ids.
  """
  vocabulary = getattr(head, '_label_vocabulary', None)  # TF's heads have no public one.
  if vocabulary is None or labels is None:
    return head, labels
  if isinstance(head, tf.estimator.BinaryClassHead):  # _heads' own only changes the AUC.
    twin = tf.estimator.BinaryClassHead(
      weight_column=head._weight_column,
      thresholds=head._thresholds,
      loss_reduction=head._loss_reduction,
      loss_fn=head._loss_fn,
      name=head._name,
    )
  elif type(head) is tf.estimator.MultiClassHead:
    twin = tf.estimator.MultiClassHead(
      head._n_classes,
      weight_column=head._weight_column,
      loss_reduction=head._loss_reduction,
      loss_fn=head._loss_fn,
      name=head._name,
    )
  else:
    return head, labels
  if not isinstance(labels, tf.Tensor) or labels.dtype != tf.string:
    return head, labels  # The head's own check names the dtype.
  with tf.name_scope('steps_per_run/'):
    table = lookup_ops.index_table_from_tensor(tuple(vocabulary), name='class_id_lookup')
    return twin, table.lookup(labels)  # -1 for a name not in it: the range check says so.


def grouped_train_spec(features, labels, network, make_spec, head, regularization_fn):
  """The TRAIN spec of a group: an in-graph loop of one step per batch.

  Args are those of :func:`model_spec`, with ``features`` a group of batches.
  """
  if tf.distribute.has_strategy():
    _fail(
      'groups of batches cannot be trained under a distribution strategy (%s): the '
      'Estimator already runs the model_fn once per replica. Use steps_per_run=1 with '
      'train_distribute' % type(tf.distribute.get_strategy()).__name__,
      exceptions.ArgumentError,
    )
  graph = tf.compat.v1.get_default_graph()
  step_head, labels = _class_ids_head(head, labels)
  group = _group_batch.Group(features, labels)
  global_step = tf.compat.v1.train.get_or_create_global_step()
  _check_resource([global_step])
  with tf.name_scope('steps_per_run'):
    last_step = tf.compat.v1.placeholder_with_default(
      tf.constant(stop_hook.NO_LAST_STEP, tf.int64), [], name='last_step'
    )
    steps = tf.cast(
      tf.clip_by_value(
        last_step - tf.cast(global_step.read_value(), tf.int64), 0, tf.cast(group.size, tf.int64)
      ),
      tf.int32,
    )
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
      spec = make_spec(features_i, labels_i, logits_i, layers_i, step_head)
    _check_step_spec(spec)
    traced.update(
      graph=tf.compat.v1.get_default_graph(),
      network_summaries=network_summaries,
      regularization=bool(regularization),
      dtype=spec.loss.dtype.base_dtype,
    )
    regularization = (
      tf.cast(tf.add_n(regularization), tf.float64) if regularization else tf.zeros([], tf.float64)
    )
    with tf.control_dependencies([spec.train_op]):
      return (i + 1, loss_sum + tf.cast(spec.loss, tf.float64), regularization_sum + regularization)

  # The sums are float64 whatever the loss dtype, known only once the body is built.
  outputs = while_v2.while_loop(
    cond,
    body,
    [tf.constant(0), tf.zeros([], tf.float64), tf.zeros([], tf.float64)],
    parallel_iterations=1,
    name='steps_per_run',
  )
  _check_captures(traced['graph'], allowed=[steps])  # The loop's bound, read before it.
  steps_run, loss_sum, regularization_sum = outputs

  # The spec: mean loss, summaries, and what the stop hook needs.
  train_op = tf.group(*outputs, name='steps_per_run/train_op')
  denominator = tf.cast(steps_run, tf.float64)
  dtype = traced['dtype']
  loss = tf.cast(
    tf.math.divide_no_nan(loss_sum, denominator), dtype, name='steps_per_run/mean_loss'
  )
  with tf.control_dependencies([train_op]):
    global_step_after = tf.identity(
      global_step.read_value(), name='steps_per_run/global_step_after'
    )
  with tf.name_scope(''):
    tf.compat.v1.summary.scalar(_summary_key(head, 'loss'), loss)
    if traced['regularization']:
      tf.compat.v1.summary.scalar(
        _summary_key(head, 'regularization_loss'),
        tf.cast(tf.math.divide_no_nan(regularization_sum, denominator), dtype),
      )
  if traced['network_summaries']:
    tf.compat.v1.logging.info(
      'steps_per_run: the %d summaries the network makes (%s) are not written when a '
      "session.run trains a group of batches; the head's loss summaries are, averaged "
      'over each group',
      len(traced['network_summaries']),
      ', '.join(sorted(s.op.name for s in traced['network_summaries'])[:3]) + ', ...',
    )
  stop_hook.add_loop(graph, last_step, global_step_after)
  return tf.estimator.EstimatorSpec(ModeKeys.TRAIN, loss=loss, train_op=train_op)


def model_spec(
  features, labels, mode, network, make_spec, head, regularization_fn, steps_per_run=1
):
  """The spec of a template: one step, or a loop of steps when ``features`` are a group.

  Args:
    features, labels, mode: what the model_fn got.
    network: ``network(features) -> (logits, keras_layers)``, builds the network.
    make_spec: ``make_spec(features, labels, logits, keras_layers[, head]) -> EstimatorSpec``,
      the spec of one batch (in TRAIN, with the train op of one step); a group's step gives
      the head to use (``head``, or its twin taking class ids, see ``_class_ids_head``).
    head: the ``tf.estimator.Head`` (its name keys the loss summaries).
    regularization_fn: ``regularization_fn(keras_layers)`` -> the list of regularization
      losses ``make_spec`` adds to the loss.
    steps_per_run: the steps per run asked for (``params['steps_per_run']``): above 1 in
      TRAIN, single batches get a warning (the input_fn does not group its batches).

  Returns:
    A ``tf.estimator.EstimatorSpec``.

  Raises:
    ArgumentError: a group in EVAL or PREDICT.
    SpecError: a step the loop cannot repeat exactly: a variable created from a tensor
      computed in the step, a tensor computed outside the loop from the weights, a
      reference variable, training hooks.
  """
  if not is_group(features):
    if mode == ModeKeys.TRAIN and steps_per_run > 1:
      warnings.warn(
        'params["steps_per_run"]=%d asks for %d training steps per session.run, but the '
        'input_fn gives one batch per run, so each run trains one step. Use an input '
        'builder of tfest_adapters.input_fns (they group their batches by '
        'params["steps_per_run"]), or wrap your input_fn in group_batches(input_fn)'
        % (steps_per_run, steps_per_run),
        UserWarning,
        stacklevel=2,
      )
    logits, layers = network(features)
    return make_spec(features, labels, logits, layers)
  if mode != ModeKeys.TRAIN:
    _fail(
      '%s got a group of batches (features[%r]): groups are for training only. '
      'group_batches passes batches through ungrouped when the Estimator gives the '
      'input_fn its mode; give evaluate/predict an input_fn taking `mode`, or the '
      'ungrouped input_fn' % (_spec_checks.mode_name(mode), groups.ROWS_KEY),
      exceptions.ArgumentError,
    )
  return grouped_train_spec(features, labels, network, make_spec, head, regularization_fn)
