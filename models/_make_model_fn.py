"""make_model_fn: a model_fn running any ``network_fn`` under one of TF's heads."""

import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import seeding
from tfest_adapters._core import validation
from tfest_adapters.models import _head_spec
from tfest_adapters.models import _heads
from tfest_adapters.models import _optimizers
from tfest_adapters.models import _spec_checks

_NETWORK_FN_OPTIONAL_ARGS = ('mode', 'params', 'config', 'logits_dimension')


def _network_fn_args(network_fn):
  """The optional arguments ``network_fn`` takes after its first one (the features)."""
  validation.check_callable('network_fn', network_fn)
  args = list(function_utils.fn_args(network_fn))
  if not args:
    validation.fail(
      'network_fn',
      'a function taking the features first',
      network_fn,
      'define it as network_fn(features, mode, params)',
      error=exceptions.ArgumentTypeError,
    )
  unknown = [a for a in args[1:] if a not in _NETWORK_FN_OPTIONAL_ARGS]
  if unknown:
    validation.fail(
      'network_fn',
      'a function (features, ...) whose other arguments are among %s'
      % ', '.join(_NETWORK_FN_OPTIONAL_ARGS),
      network_fn,
      'it also takes %s; bind those with functools.partial or a closure' % ', '.join(unknown),
      error=exceptions.ArgumentTypeError,
    )
  return tuple(args[1:])


def _validate_logits(output, head, mode):
  """Splits a network_fn's output into (logits, Keras layers) and checks the logits' shape."""
  layers = []
  logits = output
  if isinstance(output, (tuple, list)) and len(output) == 2:
    logits, layers = output
    layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not all(isinstance(layer, tf.keras.layers.Layer) for layer in layers):
      validation.fail(
        'the second item network_fn returned',
        'a Keras layer or model, or a list of them',
        output[1],
        error=exceptions.ArgumentTypeError,
      )
  name = _spec_checks.mode_name(mode)
  needed = '[batch_size, %s]' % head.logits_dimension
  if not isinstance(logits, tf.Tensor):
    validation.fail(
      'what network_fn returned in %s' % name,
      'a logits Tensor %s, or (logits, keras_model)' % needed,
      logits,
      error=exceptions.ArgumentTypeError,
    )
  if not logits.dtype.is_floating:
    validation.fail(
      'the logits network_fn returned in %s' % name,
      'a float Tensor',
      logits,
      'logits are unnormalised scores: end the network with a Dense layer, not argmax or a cast',
    )
  shape = logits.shape
  if shape.rank is not None and (
    shape.rank < 2 or (shape[-1] is not None and shape[-1] != head.logits_dimension)
  ):
    validation.fail(
      'the logits network_fn returned in %s' % name,
      '%s for the %s (its logits_dimension)' % (needed, type(head).__name__),
      logits,
      'end the network with tf.keras.layers.Dense(%d), or use the logits_dimension argument '
      'network_fn can take' % head.logits_dimension,
    )
  return logits, layers


def make_model_fn(
  network_fn,
  head,
  optimizer='Adagrad',
  learning_rate=None,
  n_classes=None,
  label_dimension=None,
  label_vocabulary=None,
  weight_column=None,
):
  """Returns a model_fn running ``network_fn`` under one of TF's heads.

  As bert's ``model_fn_builder``: everything is checked now (before any graph), and the
  returned closure builds the graph when the Estimator calls it.

  Args:
    network_fn: ``network_fn(features, mode, params)`` returning logits
      ``[batch_size, logits_dimension]``, built with ``tf.keras.layers``,
      ``tf.compat.v1.layers``, feature columns or plain ops. It may take any of ``mode``,
      ``params`` (the Estimator's), ``config`` and ``logits_dimension`` (what the head needs)
      after the features, and may return ``(logits, keras_layer_or_model)`` so that the
      layer's update ops (Keras BatchNormalization) run in TRAIN and its losses (Keras
      regularizers) are added to the loss; tf.compat.v1.layers' go through the graph's
      collections.
    head: ``'multi_class'``, ``'binary'``, ``'regression'``, ``'multi_label'``
      (``tfest_adapters.keys.HeadNames``) or a ``tf.estimator.Head`` instance.
    optimizer: ``'Adagrad'`` (default), ``'Adam'``, ``'Ftrl'``, ``'RMSProp'``, ``'SGD'`` (any
      case), a ``tf.compat.v1.train.Optimizer``, a Keras optimizer (new-style ones are
      converted to their legacy twin) or a callable returning one.
    learning_rate: with an optimizer name; None means that optimizer's own default.
    n_classes, label_dimension, label_vocabulary, weight_column: for a head given by name,
      see :func:`make_head`.

  Returns:
    ``model_fn(features, labels, mode, params, config)`` returning a
    ``tf.estimator.EstimatorSpec``. PREDICT: the head's predictions (classifiers:
    ``class_ids``, ``classes``, ``probabilities``, ``logits``, ...; regression:
    ``predictions``) and export_outputs (``serving_default``: classification or regression
    signature, plus ``predict``). EVAL: loss and the head's eval_metric_ops (``accuracy``,
    ``average_loss``, ...). TRAIN: loss and a train_op that increments the global step; when
    the input_fn yields groups of batches (``params['steps_per_run']`` with the input
    builders of ``tfest_adapters.input_fns``, or ``group_batches``), one step per batch of
    the group in an in-graph loop (see ``tfest_adapters.models._steps_per_run``). The
    function has ``head`` and ``network_fn`` attributes.

  Raises:
    ArgumentError, ArgumentTypeError: a bad argument, before any graph is built.

  Example:

    def network_fn(features, mode, params):
      x = tf.stack([features['x1'], features['x2']], axis=1)
      x = tf.keras.layers.Dense(16, activation='relu')(x)
      return tf.keras.layers.Dense(3)(x)

    model_fn = make_model_fn(network_fn, 'multi_class', n_classes=3,
                             optimizer=tf.keras.optimizers.Adam(0.01))
    estimator = tf.estimator.Estimator(model_fn, config=tf.estimator.RunConfig(
        tf_random_seed=0))
  """
  network_args = _network_fn_args(network_fn)
  head = _heads.make_head(
    head,
    n_classes=n_classes,
    label_dimension=label_dimension,
    label_vocabulary=label_vocabulary,
    weight_column=weight_column,
  )
  optimizer_fn = _optimizers.make_optimizer_fn(optimizer, learning_rate)

  def model_fn(features, labels, mode, params, config):
    seeding.seed_graph(getattr(config, 'tf_random_seed', None))
    _spec_checks.mode_name(mode)
    available = dict(
      mode=mode, params=params, config=config, logits_dimension=head.logits_dimension
    )

    def network(step_features):
      output = network_fn(step_features, **{a: available[a] for a in network_args})
      return _validate_logits(output, head, mode)

    return _head_spec.model_spec(
      head, features, labels, mode, network, optimizer_fn, groups.params_steps_per_run(params)
    )

  model_fn.head = head
  model_fn.network_fn = network_fn
  setattr(model_fn, groups.TRAINS_GROUPS_ATTR, True)
  model_fn.optimizer = optimizer_fn.description
  return model_fn
