"""Optimizers for the model_fn templates: names, tf.compat.v1.train and Keras optimizers.

:func:`make_optimizer_fn` checks an optimizer argument before any graph exists and returns a
function making a fresh optimizer in each graph, wired to the global step; :func:`minimize`
builds the op that applies one step and increments the global step.
"""

import numbers

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation


def _on_cpu(var):
  """Whether ``var`` will live on a CPU: placed there, or unplaced on a machine without GPUs.

  An unplaced variable goes where TF's placer puts it: on a GPU when TF sees one.
  """
  device = tf.DeviceSpec.from_string(var.device or '')
  if device.device_type:
    return device.device_type.upper() == 'CPU'
  return not tf.config.list_logical_devices('GPU')


class _Adam(tf.keras.optimizers.legacy.Adam):
  """``tf.keras.optimizers.legacy.Adam`` whose dense update on a CPU is made of elementwise ops.

  The update is that of TF's fused kernel (``ResourceApplyAdam``), in its order of operations,
  so the weights are bitwise those of ``legacy.Adam``; slots, names and checkpoints are the
  same. On a GPU, with ``amsgrad`` and for sparse gradients it is ``legacy.Adam``::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    var -= (m * alpha) / (sqrt(v) + epsilon)
  """

  def _prepare_local(self, var_device, var_dtype, apply_state):
    super()._prepare_local(var_device, var_dtype, apply_state)
    # The kernel's step size, computed once per step for all variables (not once each).
    coefficients = apply_state[(var_device, var_dtype)]
    coefficients['alpha'] = (
      coefficients['lr_t']
      * tf.sqrt(1 - coefficients['beta_2_power'])
      / (1 - coefficients['beta_1_power'])
    )

  def _resource_apply_dense(self, grad, var, apply_state=None):
    if self.amsgrad or not _on_cpu(var):
      return super()._resource_apply_dense(grad, var, apply_state)
    var_device, var_dtype = var.device, var.dtype.base_dtype
    coefficients = (apply_state or {}).get((var_device, var_dtype)) or self._fallback_apply_state(
      var_device, var_dtype
    )
    m = self.get_slot(var, 'm')
    v = self.get_slot(var, 'v')
    m_t = m.assign_add(
      (grad - m) * coefficients['one_minus_beta_1_t'], use_locking=self._use_locking
    )
    v_t = v.assign_add(
      (tf.square(grad) - v) * coefficients['one_minus_beta_2_t'], use_locking=self._use_locking
    )
    step = (m_t * coefficients['alpha']) / (tf.sqrt(v_t) + coefficients['epsilon'])
    return var.assign_sub(step, use_locking=self._use_locking, read_value=False)


def _legacy_name(cls):
  """The name of the ``tf.keras.optimizers.legacy`` class ``cls`` is (or specializes)."""
  return 'Adam' if cls is _Adam else cls.__name__


def _fast(cls):
  """The class to make for Keras optimizer class ``cls``: ``_Adam`` for ``legacy.Adam``."""
  return _Adam if cls is tf.keras.optimizers.legacy.Adam else cls


# The classes the canned Estimators use for a name (canned/optimizers.py,
# _OPTIMIZER_CLS_NAMES_V2), keyed by lower-case name; Adam with its CPU update (_Adam).
_BY_NAME = {
  'adagrad': ('Adagrad', tf.keras.optimizers.legacy.Adagrad),
  'adam': ('Adam', _Adam),
  'ftrl': ('Ftrl', tf.keras.optimizers.legacy.Ftrl),
  'rmsprop': ('RMSProp', tf.keras.optimizers.legacy.RMSprop),
  'sgd': ('SGD', tf.keras.optimizers.legacy.SGD),
}
NAMES = tuple(spelling for spelling, _ in _BY_NAME.values())

# New-style Keras optimizers that have a legacy twin (keras.optimizers.legacy), by class name.
_LEGACY_TWINS = ('adadelta', 'adagrad', 'adam', 'adamax', 'ftrl', 'nadam', 'rmsprop', 'sgd')

_EXPECTED = (
  'one of %s (any case), a tf.compat.v1.train.Optimizer, a tf.keras optimizer, or a '
  'callable returning one' % ', '.join(repr(n) for n in NAMES)
)

_V1 = tf.compat.v1.train.Optimizer
_LEGACY = tf.keras.optimizers.legacy.Optimizer
_NEW = tf.keras.optimizers.Optimizer


def eager():
  """A context that runs eagerly even inside a graph (Keras reads its hyperparameters so)."""
  return tf.__internal__.eager_context.eager_mode()


def _kind(optimizer):
  if isinstance(optimizer, _V1):
    return 'v1'
  if isinstance(optimizer, _LEGACY):
    return 'legacy'
  if isinstance(optimizer, _NEW):
    return 'new'
  return None


def _legacy_config(optimizer, name):
  """Returns (legacy class, config) for a legacy or new-style Keras optimizer, checked."""
  cls_name = type(optimizer).__name__
  if isinstance(optimizer, _LEGACY):
    with eager():
      config = optimizer.get_config()
    return _fast(type(optimizer)), config
  if cls_name.lower() not in _LEGACY_TWINS:
    validation.fail(
      name,
      _EXPECTED,
      optimizer,
      'tf.keras.optimizers.%s has no legacy equivalent, and Estimators only run legacy Keras '
      'optimizers: use one of tf.keras.optimizers.legacy.%s, or a tf.compat.v1.train '
      'optimizer' % (cls_name, ', '.join(sorted(t.title() for t in _LEGACY_TWINS))),
    )
  with eager():
    config = optimizer.get_config()
  if config.get('weight_decay') or config.get('use_ema'):
    validation.fail(
      name,
      'convertible to a legacy Keras optimizer',
      optimizer,
      'its weight_decay=%r / use_ema=%r have no legacy equivalent and would be dropped: set '
      'them to None/False, or add the decay to the loss (a kernel_regularizer)'
      % (config.get('weight_decay'), config.get('use_ema')),
    )
  with eager():
    legacy = tf.keras.__internal__.optimizers.convert_to_legacy_optimizer(optimizer)
    return _fast(type(legacy)), legacy.get_config()


class _OptimizerFn:
  """Makes a fresh optimizer in the current graph, wired to its global step."""

  def __init__(self, make, description):
    self._make = make
    self.description = description

  def __call__(self):
    optimizer = self._make()
    if isinstance(optimizer, _LEGACY):
      global_step = tf.compat.v1.train.get_or_create_global_step()
      try:
        optimizer.iterations = global_step
      except RuntimeError as err:
        if optimizer.iterations is global_step:  # Already wired (by the user's callable).
          return optimizer
        raise exceptions.ArgumentError(
          '%s: the Keras optimizer already has weights from another graph, so its iterations '
          'cannot be tied to the global step. Return a new optimizer from the callable each '
          'time it is called' % self.description
        ) from err
    return optimizer

  def with_own_step(self):
    """A fresh optimizer counting its own steps, not the global step's.

    The optimizer of a model's second part (wide and deep's linear part, as canned's): a
    legacy Keras optimizer gets its own ``iterations`` (``training/<name>/iter``) at its
    first update; a ``tf.compat.v1.train`` optimizer is applied without the global step
    (``minimize(..., global_step=False)``).
    """
    optimizer = self._make()
    if isinstance(optimizer, _LEGACY) and optimizer._iterations is not None:
      # Already wired to a step (by the user's callable): a twin from its config is not.
      with eager():
        config = optimizer.get_config()
      optimizer = type(optimizer).from_config(config)
    return optimizer

  def __repr__(self):
    return '<optimizer_fn %s>' % self.description


def _resolve_made(made, description):
  """Checks what an optimizer callable returned; converts a new-style Keras optimizer."""
  kind = _kind(made)
  if kind is None:
    validation.fail(
      'what %s returned' % description,
      'a tf.compat.v1.train.Optimizer or a tf.keras optimizer',
      made,
      error=exceptions.ArgumentTypeError,
    )
  if kind == 'new':
    cls, config = _legacy_config(made, 'what %s returned' % description)
    return cls.from_config(config)
  return made


def make_optimizer_fn(optimizer='Adagrad', learning_rate=None, name='optimizer'):
  """Checks an optimizer argument now and returns a function making it in a graph.

  Args:
    optimizer: a name, a ``tf.compat.v1.train.Optimizer``, a Keras optimizer (legacy or new),
      or a callable returning one of those. A name (any case: ``'Adagrad'``, ``'Adam'``,
      ``'Ftrl'``, ``'RMSProp'``, ``'SGD'``) makes the legacy Keras optimizer the canned
      Estimators make; a ``tf.compat.v1.train`` optimizer is used as it is; a legacy Keras
      optimizer is cloned from its config in each graph; a new-style Keras optimizer is
      converted to its legacy twin (TF's heads need ``get_updates``); a callable is called in
      each graph (and once eagerly now, to convert a new-style optimizer it makes).
    learning_rate: positive number, or a ``tf.keras.optimizers.schedules.LearningRateSchedule``
      (evaluated at the global step), used with a name; None means the optimizer's own default
      (as the canned Estimators do). Must be None when ``optimizer`` is not a name: set the
      rate on the optimizer itself.
    name: how the argument is called in error messages (e.g. ``params["optimizer"]``).

  Returns:
    A function ``optimizer_fn()`` that returns an optimizer for the current default graph:
    the same ``tf.compat.v1.train`` instance, or a new legacy Keras optimizer whose
    ``iterations`` is the graph's global step. It has a ``description`` attribute, survives
    ``copy.deepcopy`` (so it can go in an Estimator's params, where a new-style Keras
    optimizer cannot) and is accepted wherever an optimizer is.

  Example:

    optimizer_fn = make_optimizer_fn(tf.keras.optimizers.Adam(0.01))
    estimator = tf.estimator.Estimator(classifier_model_fn, params=dict(
        feature_keys=['x'], hidden_units=[8], n_classes=2, optimizer=optimizer_fn))

  Raises:
    ArgumentError: unknown name, bad learning rate, Keras optimizer without a legacy twin.
    ArgumentTypeError: anything else.
  """
  if learning_rate is not None:
    lr_name = 'learning_rate' if name == 'optimizer' else name.replace('optimizer', 'learning_rate')
    if not isinstance(learning_rate, tf.keras.optimizers.schedules.LearningRateSchedule):
      validation.check_positive_number(
        lr_name,
        learning_rate,
        'or a tf.keras.optimizers.schedules.LearningRateSchedule (it reads the global step)',
      )
    if not isinstance(optimizer, str):
      validation.fail(
        lr_name,
        'None when %s is not a name' % name,
        learning_rate,
        "set the learning rate on the optimizer itself, or give %s as a name such as 'Adam'" % name,
      )

  if isinstance(optimizer, _OptimizerFn):  # Already checked (e.g. passed through params).
    return optimizer
  if isinstance(optimizer, str):
    key = optimizer.lower()
    if key not in _BY_NAME:
      validation.fail(name, _EXPECTED, optimizer)
    spelling, cls = _BY_NAME[key]
    kwargs = {} if learning_rate is None else {'learning_rate': learning_rate}
    description = 'tf.keras.optimizers.legacy.%s(%s)' % (
      _legacy_name(cls),
      ''
      if learning_rate is None
      else 'learning_rate=%s'
      % (
        learning_rate if isinstance(learning_rate, numbers.Real) else type(learning_rate).__name__
      ),
    )
    return _OptimizerFn(lambda: cls(**kwargs), description)

  kind = _kind(optimizer)
  if kind == 'v1':
    return _OptimizerFn(lambda: optimizer, type(optimizer).__name__)
  if kind in ('legacy', 'new'):
    cls, config = _legacy_config(optimizer, name)
    try:
      cls.from_config(config)
    except Exception as err:  # A custom subclass whose config does not round-trip.
      raise exceptions.ArgumentError(
        validation.message(
          name,
          'a Keras optimizer that can be rebuilt from its get_config()',
          optimizer,
          'pass a callable that returns a new optimizer instead',
        )
      ) from err
    description = 'tf.keras.optimizers.legacy.%s' % _legacy_name(cls)
    if kind == 'new':
      description += ' (converted from tf.keras.optimizers.%s)' % type(optimizer).__name__
    return _OptimizerFn(lambda: cls.from_config(config), description)

  if callable(optimizer):
    description = 'the optimizer callable %s' % getattr(optimizer, '__name__', repr(optimizer))
    # A new-style Keras optimizer made inside a graph holds graph variables, and cannot be
    # read to convert it there; if the callable works eagerly and makes one, make it eagerly.
    try:
      with eager():
        probe = optimizer()
    except Exception:  # E.g. it needs the graph's global step.
      probe = None
    if _kind(probe) == 'new':

      def make_eagerly():
        with eager():
          return _resolve_made(optimizer(), description)

      return _OptimizerFn(make_eagerly, description)
    return _OptimizerFn(lambda: _resolve_made(optimizer(), description), description)

  validation.fail(name, _EXPECTED, optimizer, error=exceptions.ArgumentTypeError)


def minimize(loss, optimizer, var_list=None, global_step=True):
  """Returns the op that applies one optimizer step to ``loss`` and increments the global step.

  Args:
    loss: scalar loss Tensor.
    optimizer: what an optimizer_fn returned (a v1 optimizer, or a legacy Keras optimizer whose
      ``iterations`` is the global step: its ``apply_gradients`` increments it).
    var_list: variables to train; all trainable variables of the graph by default.
    global_step: whether a ``tf.compat.v1.train`` optimizer increments the global step (a
      Keras optimizer increments its ``iterations``, whatever it is).

  Returns:
    The train op.

  Raises:
    ArgumentError: there is nothing to train.
  """
  if var_list is None:
    var_list = tf.compat.v1.trainable_variables()
  var_list = list(var_list)
  if not var_list:
    raise exceptions.ArgumentError(
      'the model has no trainable variables, so there is nothing to train: the network must '
      'create its weights in the model_fn (e.g. with tf.keras.layers)'
    )
  if isinstance(optimizer, _V1):
    grads_and_vars = optimizer.compute_gradients(loss, var_list=var_list)
  else:
    grads_and_vars = list(zip(tf.compat.v1.gradients(loss, var_list), var_list))
  grads_and_vars = [(g, v) for g, v in grads_and_vars if g is not None]
  if not grads_and_vars:
    raise exceptions.ArgumentError(
      'the loss does not depend on any trainable variable (all gradients are None): compute '
      'the logits from the network weights, not from constants or argmax/round outputs'
    )
  if isinstance(optimizer, _V1):
    return optimizer.apply_gradients(
      grads_and_vars,
      global_step=tf.compat.v1.train.get_or_create_global_step() if global_step else None,
    )
  return optimizer.apply_gradients(grads_and_vars)
