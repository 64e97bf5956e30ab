"""model_fn templates: the user writes the network, TF's heads make the mode-correct spec.

Every template here ends in :func:`_estimator_spec`, written as TF's ``multi_class_head.py``
writes ``_create_tpu_estimator_spec``: logits computed once for every mode, a ``# Predict.``
early return (predictions and export signatures, no labels needed), the loss (labels checked,
regularisation collected), an ``# Eval.`` early return (loss and metrics) and ``# Train.``
(loss and the train op). The head (``tf.estimator.MultiClassHead`` and friends) computes the
loss, metrics, predictions and export outputs; the network maths live in their own function
(``network_fn``, or the DNN of :mod:`._networks`); the train op is built in one place,
:func:`_train_op_fn`.

Every model_fn seeds its graph first with ``tfest_adapters._core.seeding.seed_graph`` and the
RunConfig's ``tf_random_seed``, so that Keras layers are as reproducible as tf.compat.v1 ones.
"""

import warnings

import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.

from tfest_adapters._core import seeding
from tfest_adapters._core import validation
from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters.models import _heads
from tfest_adapters.models import _networks
from tfest_adapters.models import _optimizers
from tfest_adapters.models import _params
from tfest_adapters.models import _spec_checks
from tfest_adapters.models import _steps_per_run

ModeKeys = tf.estimator.ModeKeys
_NETWORK_FN_OPTIONAL_ARGS = ('mode', 'params', 'config', 'logits_dimension')


def _seed(config):
  return getattr(config, 'tf_random_seed', None)


def _train_op_fn(optimizer_fn):
  """Returns the head's ``train_op_fn``: one optimizer step, incrementing the global step.

  The only place a train op is built, for every template and optimizer kind.
  """
  def train_op_fn(loss):
    return _optimizers.minimize(loss, optimizer_fn())
  return train_op_fn


def _layer_attr(layers, attr):
  """Collects ``updates`` or ``losses`` of Keras layers (the Estimator's graph keeps neither)."""
  values = []
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # `layer.updates` is deprecated, but the way in graphs.
    for layer in layers:
      values.extend(getattr(layer, attr))
  return values


def _unique(values):
  seen, result = set(), []
  for value in values:
    if id(value) not in seen:
      seen.add(id(value))
      result.append(value)
  return result


_DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
_PREDICT_SIGNATURE = 'predict'  # base_head.PREDICT_SERVING_KEY


def _servable_by_default(spec, features):
  """Makes the predict signature the default one when a raw receiver feeds the features.

  TF's heads make the classification (or regression) signature ``serving_default``, but that
  signature takes a single string Tensor of serialized tf.Examples: with a raw serving
  receiver (features fed as they are, ``build_raw_serving_input_receiver_fn``) the SavedModel
  builder drops it and the export has no default signature at all. In that case only,
  ``serving_default`` becomes the head's predict signature; with a tf.Example receiver it
  stays classification/regression.
  """
  outputs = spec.export_outputs or {}
  if (isinstance(outputs.get(_DEFAULT_SIGNATURE), tf.estimator.export.PredictOutput) or
      _PREDICT_SIGNATURE not in outputs):
    return spec
  tensors = tf.nest.flatten(features)
  raw = tensors and all(
      getattr(getattr(t, 'op', None), 'type', None) in ('Placeholder', 'PlaceholderWithDefault')
      for t in tensors)
  if not raw or (len(tensors) == 1 and tensors[0].dtype == tf.string):
    return spec
  outputs = dict(outputs)
  outputs[_DEFAULT_SIGNATURE] = outputs[_PREDICT_SIGNATURE]
  return spec._replace(export_outputs=outputs)


def _validate_labels(labels, mode):
  if labels is None:
    raise exceptions.ArgumentError(
        '%s needs labels, but the input_fn returned none: return (features, labels) from the '
        'input_fn, or a tf.data.Dataset of (features, labels) pairs' %
        _spec_checks.mode_name(mode))


def _class_labels(head):
  """(n_classes, label_vocabulary) of TF's single-label classification heads, else None."""
  if isinstance(head, tf.estimator.MultiClassHead):
    return head._n_classes, head._label_vocabulary  # pylint: disable=protected-access
  if isinstance(head, tf.estimator.BinaryClassHead):
    return 2, head._label_vocabulary  # pylint: disable=protected-access
  return None


def _checked_labels(head, labels, mode):
  """Classifier labels checked with clear messages: dtype now, class id range per batch.

  TF's heads say "Labels dtype should be integer" for float or string labels, and check the
  range with an assertion on the tensor name. Here the dtype error names what to do, and the
  range check (run with every step, before the head's) gives the smallest and largest label
  of the offending batch.
  """
  classes = _class_labels(head)
  if classes is None or not isinstance(labels, tf.Tensor):
    return labels
  n_classes, vocabulary = classes
  name = 'labels (%s)' % _spec_checks.mode_name(mode)
  if vocabulary is not None:
    if labels.dtype != tf.string:
      validation.fail(name, 'strings from label_vocabulary %s' % list(vocabulary), labels,
                       'Give the class names as strings, or drop label_vocabulary to use '
                       'int class ids 0..%d' % (n_classes - 1),
                       error=exceptions.ArgumentTypeError)
    return labels
  if labels.dtype == tf.string:
    validation.fail(name, 'int class ids 0..%d (n_classes=%d)' % (n_classes - 1, n_classes),
                     labels, 'String labels need label_vocabulary (the class names, e.g. '
                     "params['label_vocabulary']=['setosa', 'versicolor', 'virginica']), or "
                     'map them to int ids first', error=exceptions.ArgumentTypeError)
  if not labels.dtype.is_integer:
    validation.fail(name, 'int class ids 0..%d (n_classes=%d)' % (n_classes - 1, n_classes),
                     labels, 'Cast whole-number labels to int (y.astype("int64")); a '
                     'classifier does not take fractional labels',
                     error=exceptions.ArgumentTypeError)
  in_range = tf.reduce_all(tf.logical_and(labels >= 0, labels < n_classes))
  check = tf.debugging.Assert(in_range, [
      'labels must be class ids from 0 to %d (n_classes=%d); given a batch with labels from'
      % (n_classes - 1, n_classes), tf.reduce_min(labels), 'to', tf.reduce_max(labels)],
                              name='check_label_ids')
  with tf.control_dependencies([check]):
    return tf.identity(labels)


def _regularization_losses(layers):
  """The losses added to the training loss: Keras layers' and the graph collection's."""
  return _unique(
      _layer_attr(layers, 'losses') +
      tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES))


def _estimator_spec(head, features, labels, mode, logits, optimizer_fn, layers=()):
  """The EstimatorSpec for ``mode``, from the network's logits, by TF's ``head``.

  Args:
    head: a ``tf.estimator.Head``.
    features: the features the model_fn got (the head reads its weight column there).
    labels: the labels the model_fn got (None in PREDICT).
    mode: a ``tf.estimator.ModeKeys`` value.
    logits: the network's output, ``[batch_size, head.logits_dimension]``.
    optimizer_fn: makes the optimizer in TRAIN (see ``_optimizers.make_optimizer_fn``).
    layers: Keras layers of the network, whose update ops (batch normalisation) run with the
      train op and whose losses (regularizers) are added to the loss.

  Returns:
    A ``tf.estimator.EstimatorSpec``.
  """
  head_features = features if isinstance(features, dict) else {}
  # Predict.
  if mode == ModeKeys.PREDICT:
    return _servable_by_default(
        head.create_estimator_spec(features=head_features, mode=mode, logits=logits), features)
  _validate_labels(labels, mode)
  labels = _checked_labels(head, labels, mode)
  regularization_losses = _regularization_losses(layers) or None
  # Eval.
  if mode == ModeKeys.EVAL:
    return head.create_estimator_spec(
        features=head_features, mode=mode, logits=logits, labels=labels,
        regularization_losses=regularization_losses)
  # Train.
  update_ops = _unique(
      _layer_attr(layers, 'updates') +
      tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
  return head.create_estimator_spec(
      features=head_features, mode=mode, logits=logits, labels=labels,
      train_op_fn=_train_op_fn(optimizer_fn), update_ops=update_ops,
      regularization_losses=regularization_losses)


def _model_spec(head, features, labels, mode, network, optimizer_fn, steps_per_run=1):
  """The spec of one step; of a loop of steps when the input_fn yields groups of batches.

  ``network(features)`` builds the network and returns ``(logits, keras_layers)``. With a
  group of batches (``steps_per_run``, see :mod:`._steps_per_run`), TRAIN runs one
  :func:`_estimator_spec` step per batch of the group in an in-graph loop.
  """
  def make_spec(step_features, step_labels, logits, layers):
    return _estimator_spec(head, step_features, step_labels, mode, logits, optimizer_fn,
                           layers)
  return _steps_per_run.model_spec(features, labels, mode, network, make_spec, head,
                                   _regularization_losses, steps_per_run)


def _check_features_present(features, feature_columns, params_key):
  """Names the missing features before DenseFeatures fails deeper."""
  if not isinstance(features, dict):
    validation.fail('features', 'a dict of feature name to Tensor', features,
                     'return a dict from the input_fn, e.g. ({"x": x}, labels)',
                     error=exceptions.ArgumentTypeError)
  needed = tf.feature_column.make_parse_example_spec(feature_columns)
  present = groups.feature_keys(features)
  missing = sorted(k for k in needed if k not in present)
  if missing:
    raise exceptions.ArgumentKeyError(
        'features has no %s, which params["%s"] uses; the input_fn returned features %s: '
        'return those features from the input_fn, or fix params["%s"]' % (
            ', '.join(repr(k) for k in missing), params_key, sorted(present), params_key))


def _dnn_model_fn(features, labels, mode, params, config, check_params, head_fn):
  """classifier_model_fn and regressor_model_fn: the canned DNN on a head from params."""
  seeding.seed_graph(_seed(config))
  _spec_checks.mode_name(mode)
  p = check_params(params)
  _check_features_present(features, p.feature_columns,
                          'feature_keys' if 'feature_keys' in params else 'feature_columns')
  # The head is made eagerly, as the canned Estimator makes it in its constructor: heads are
  # graph-agnostic, and the graph then holds the same ops, in the same order, as canned's.
  with _optimizers._eager():  # pylint: disable=protected-access
    head = head_fn(p)

  def network(step_features):
    logits, model = _networks.dnn_logits(
        step_features, mode, head.logits_dimension, p.hidden_units, p.feature_columns,
        p.activation, p.dropout, p.batch_norm)
    return logits, [model]
  return _model_spec(head, features, labels, mode, network, p.optimizer_fn, p.steps_per_run)


def _classifier_head(p):
  if p.n_classes == 2:
    return tf.estimator.BinaryClassHead(weight_column=p.weight_column,
                                        label_vocabulary=p.label_vocabulary)
  return tf.estimator.MultiClassHead(p.n_classes, weight_column=p.weight_column,
                                     label_vocabulary=p.label_vocabulary)


def _regressor_head(p):
  return tf.estimator.RegressionHead(label_dimension=p.label_dimension,
                                     weight_column=p.weight_column)


def classifier_model_fn(features, labels, mode, params, config=None):
  """A DNN classifier model_fn, usable as it is: ``Estimator(model_fn=classifier_model_fn)``.

  The network is tf.estimator.DNNClassifier's (same layers, initialisation, variable names,
  dropout only in TRAIN); loss, metrics, predictions and signatures come from TF's
  ``MultiClassHead`` (``BinaryClassHead`` when ``n_classes`` is 2).

  Args:
    features: dict of feature name to Tensor, from the input_fn.
    labels: int class ids ``[batch_size]`` or ``[batch_size, 1]`` (strings with
      ``label_vocabulary``); None in PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: dict with ``feature_keys`` (numeric feature names) or ``feature_columns``,
      ``hidden_units`` (e.g. ``[10, 10]``) and ``n_classes`` (or ``label_vocabulary``);
      optional ``optimizer`` (default ``'Adagrad'``), ``learning_rate`` (default: the
      optimizer's own), ``dropout``, ``activation`` (default relu), ``batch_norm``,
      ``weight_column``, ``steps_per_run`` (default 1: training steps per ``session.run``;
      the input builders of ``tfest_adapters.input_fns`` then yield groups of that many
      batches, which TRAIN trains in an in-graph loop, with the same maths as one step per
      run; see ``tfest_adapters.models._steps_per_run``). Unknown keys and bad values raise
      before any op is built
      (``classifier_model_fn.check_params(params)`` runs the same check without a graph).
      The Estimator deep-copies params, which a new-style Keras optimizer refuses: put a
      name, a legacy Keras or tf.compat.v1 optimizer, or a callable such as
      ``lambda: tf.keras.optimizers.Adam(0.01)`` there.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph and Keras.

  Returns:
    A ``tf.estimator.EstimatorSpec``. PREDICT: ``predictions`` with ``class_ids``
    ``[batch_size, 1]``, ``classes`` (str), ``probabilities``, ``logits``, ``all_class_ids``,
    ``all_classes`` (binary adds ``logistic``), and ``export_outputs`` with a classification
    signature as ``serving_default`` (and as ``classification``) and a ``predict`` signature.
    EVAL: ``loss`` and ``eval_metric_ops`` with ``accuracy`` and ``average_loss`` (binary adds
    auc, precision, recall, ...). TRAIN: ``loss`` and a ``train_op`` that increments the
    global step.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    estimator = tf.estimator.Estimator(
        model_fn=classifier_model_fn,
        params=dict(feature_keys=['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth'],
                    hidden_units=[10, 10], n_classes=3, optimizer='Adagrad',
                    learning_rate=0.1))
    estimator.train(train_input_fn, steps=1000)
  """
  return _dnn_model_fn(features, labels, mode, params, config, _params.classifier_params,
                       _classifier_head)


def regressor_model_fn(features, labels, mode, params, config=None):
  """A DNN regressor model_fn, usable as it is: ``Estimator(model_fn=regressor_model_fn)``.

  The network is tf.estimator.DNNRegressor's; loss (mean squared error), metrics,
  predictions and signatures come from TF's ``RegressionHead``.

  Args:
    features: dict of feature name to Tensor, from the input_fn.
    labels: float targets ``[batch_size]`` or ``[batch_size, label_dimension]``; None in
      PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: dict with ``feature_keys`` or ``feature_columns`` and ``hidden_units``; optional
      ``label_dimension`` (default 1), ``optimizer``, ``learning_rate``, ``dropout``,
      ``activation``, ``batch_norm``, ``weight_column``, ``steps_per_run``, as for
      classifier_model_fn.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph and Keras.

  Returns:
    A ``tf.estimator.EstimatorSpec``. PREDICT: ``predictions`` with ``predictions``
    ``[batch_size, label_dimension]`` and ``export_outputs`` with a regression signature as
    ``serving_default`` (and as ``regression``) and a ``predict`` signature. EVAL: ``loss``
    and ``eval_metric_ops`` with ``average_loss``, ``prediction/mean`` and ``label/mean``.
    TRAIN: ``loss`` and a ``train_op`` that increments the global step.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    estimator = tf.estimator.Estimator(
        model_fn=regressor_model_fn,
        params=dict(feature_keys=['x1', 'x2'], hidden_units=[16], optimizer='Adam',
                    learning_rate=0.01))
  """
  return _dnn_model_fn(features, labels, mode, params, config, _params.regressor_params,
                       _regressor_head)


classifier_model_fn.check_params = _params.classifier_params
regressor_model_fn.check_params = _params.regressor_params


def _network_fn_args(network_fn):
  """The optional arguments ``network_fn`` takes after its first one (the features)."""
  validation.check_callable('network_fn', network_fn)
  args = list(function_utils.fn_args(network_fn))
  if not args:
    validation.fail('network_fn', 'a function taking the features first', network_fn,
                     'define it as network_fn(features, mode, params)',
                     error=exceptions.ArgumentTypeError)
  unknown = [a for a in args[1:] if a not in _NETWORK_FN_OPTIONAL_ARGS]
  if unknown:
    validation.fail(
        'network_fn', 'a function (features, ...) whose other arguments are among %s' %
        ', '.join(_NETWORK_FN_OPTIONAL_ARGS), network_fn,
        'it also takes %s; bind those with functools.partial or a closure' % ', '.join(unknown),
        error=exceptions.ArgumentTypeError)
  return tuple(args[1:])


def _validate_logits(output, head, mode):
  """Splits a network_fn's output into (logits, Keras layers) and checks the logits' shape."""
  layers = []
  logits = output
  if isinstance(output, (tuple, list)) and len(output) == 2:
    logits, layers = output
    layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not all(isinstance(layer, tf.keras.layers.Layer) for layer in layers):
      validation.fail('the second item network_fn returned',
                       'a Keras layer or model, or a list of them', output[1],
                       error=exceptions.ArgumentTypeError)
  name = _spec_checks.mode_name(mode)
  needed = '[batch_size, %s]' % head.logits_dimension
  if not isinstance(logits, tf.Tensor):
    validation.fail(
        'what network_fn returned in %s' % name,
        'a logits Tensor %s, or (logits, keras_model)' % needed, logits,
        error=exceptions.ArgumentTypeError)
  if not logits.dtype.is_floating:
    validation.fail('the logits network_fn returned in %s' % name, 'a float Tensor', logits,
                     'logits are unnormalised scores: end the network with a Dense layer, '
                     'not argmax or a cast')
  shape = logits.shape
  if shape.rank is not None and (shape.rank < 2 or (
      shape[-1] is not None and shape[-1] != head.logits_dimension)):
    validation.fail(
        'the logits network_fn returned in %s' % name,
        '%s for the %s (its logits_dimension)' % (needed, type(head).__name__), logits,
        'end the network with tf.keras.layers.Dense(%d), or use the logits_dimension argument '
        'network_fn can take' % head.logits_dimension)
  return logits, layers


def make_model_fn(network_fn, head, optimizer='Adagrad', learning_rate=None, n_classes=None,
                  label_dimension=None, label_vocabulary=None, weight_column=None):
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
  head = _heads.make_head(head, n_classes=n_classes, label_dimension=label_dimension,
                          label_vocabulary=label_vocabulary, weight_column=weight_column)
  optimizer_fn = _optimizers.make_optimizer_fn(optimizer, learning_rate)

  def model_fn(features, labels, mode, params, config):
    seeding.seed_graph(_seed(config))
    _spec_checks.mode_name(mode)
    available = dict(mode=mode, params=params, config=config,
                     logits_dimension=head.logits_dimension)

    def network(step_features):
      output = network_fn(step_features, **{a: available[a] for a in network_args})
      return _validate_logits(output, head, mode)
    return _model_spec(head, features, labels, mode, network, optimizer_fn,
                       groups.params_steps_per_run(params))

  model_fn.head = head
  model_fn.network_fn = network_fn
  model_fn.optimizer = optimizer_fn.description
  return model_fn
