"""The DNN network of the templates: tf.estimator.DNNClassifier's, layer for layer.

Same layers, initialisers, variable names and summaries as ``canned/dnn.py``'s
``_DNNModelV2``, built in the same order: given the same seed, data and optimizer it trains as
the canned Estimator does, and a canned checkpoint can warm-start it.
"""

import numbers

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.models import _group_batch

ModeKeys = tf.estimator.ModeKeys


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_hidden_units(name, hidden_units):
  """Accepts a list or tuple of positive ints (empty: a linear model)."""
  if not isinstance(hidden_units, (list, tuple)) or not all(
    _is_int(u) and u > 0 for u in hidden_units
  ):
    validation.fail(
      name,
      'a list of positive ints',
      hidden_units,
      'e.g. [10, 10] for two hidden layers of 10 units',
    )
  return tuple(int(u) for u in hidden_units)


def check_feature_columns(columns_name, keys_name, feature_columns, feature_keys):
  """Returns the dense feature columns given as columns, or as numeric feature names."""
  if (feature_columns is None) == (feature_keys is None):
    raise exceptions.ArgumentError(
      "%s or %s must be given (exactly one of them), given: %s. Use %s=['x1', 'x2'] "
      "for numeric features, or %s=[tf.feature_column.numeric_column('x1'), ...]"
      % (
        columns_name,
        keys_name,
        'both' if feature_columns is not None else 'neither',
        keys_name,
        columns_name,
      )
    )
  if feature_keys is not None:
    if (
      isinstance(feature_keys, str)
      or not isinstance(feature_keys, (list, tuple))
      or not feature_keys
      or not all(isinstance(k, str) and k for k in feature_keys)
    ):
      validation.fail(
        keys_name,
        'a non-empty list of feature names (str)',
        feature_keys,
        "e.g. ['SepalLength', 'SepalWidth']",
        error=exceptions.ArgumentTypeError,
      )
    if len(set(feature_keys)) != len(feature_keys):
      validation.fail(keys_name, 'a list of distinct names', feature_keys, 'remove the duplicates')
    return tuple(tf.feature_column.numeric_column(k) for k in feature_keys)
  if not isinstance(feature_columns, (list, tuple, set, frozenset)) or not feature_columns:
    validation.fail(
      columns_name,
      'a non-empty list of tf.feature_column columns',
      feature_columns,
      error=exceptions.ArgumentTypeError,
    )
  feature_columns = tuple(feature_columns)
  for i, column in enumerate(feature_columns):
    if isinstance(column, tf.__internal__.feature_column.DenseColumn):
      continue
    if isinstance(column, tf.__internal__.feature_column.FeatureColumn):
      validation.fail(
        '%s[%d]' % (columns_name, i),
        'a dense column',
        column,
        'a categorical column must be wrapped: tf.feature_column.indicator_column(column) or '
        'tf.feature_column.embedding_column(column, dimension=8); the linear and wide_deep '
        'templates take it as it is',
      )
    validation.fail(
      '%s[%d]' % (columns_name, i),
      'a tf.feature_column column',
      column,
      'use tf.feature_column.numeric_column(name), or give %s instead' % keys_name,
      error=exceptions.ArgumentTypeError,
    )
  return feature_columns


def check_activation(name, activation):
  """Accepts a callable, a tf.keras.activations name ('relu', ...), or None (no activation).

  None leaves the hidden layers linear, as canned estimators' ``activation_fn=None`` does.
  """
  if activation is None:
    return None
  if isinstance(activation, str):
    try:
      return tf.keras.activations.get(activation)
    except ValueError:
      validation.fail(
        name,
        'a tf.keras.activations name, a callable or None',
        activation,
        "e.g. 'relu', 'tanh', 'elu', 'selu' or tf.nn.relu",
      )
  if not callable(activation):
    validation.fail(
      name,
      'a tf.keras.activations name, a callable or None',
      activation,
      error=exceptions.ArgumentTypeError,
    )
  return activation


def check_dropout(name, dropout):
  """Accepts None or a probability in [0, 1)."""
  if dropout is None:
    return None
  if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or not 0 <= dropout < 1:
    validation.fail(name, 'None or a drop probability in [0, 1)', dropout, 'e.g. 0.1')
  return float(dropout)


def zero_fraction(value):
  """tf.math.zero_fraction's value, counted in int64 without its cond.

  zero_fraction picks an int32 or int64 count in a cond, and TF 2.15's type inference logs a
  false 'Type inference failed' warning of 25 lines for it (tensorflow#57052) whenever a session
  starts. The int64 count is the same number, so the summary is the same float32.
  """
  with tf.name_scope('zero_fraction'):
    size = tf.size(value, out_type=tf.int64)
    num_zero = size - tf.math.count_nonzero(value, dtype=tf.int64)
    fraction = tf.cast(num_zero, tf.float32) / tf.cast(size, tf.float32)
    return tf.identity(fraction, 'fraction')


def add_layer_summary(value, tag):
  """The zero fraction and histogram summaries canned writes for a layer's output ``value``."""
  if _group_batch.in_group_step():
    return  # Not from a group's loop: an op in the loop body cannot be fetched outside it.
  tf.compat.v1.summary.scalar('%s/fraction_of_zero_values' % tag, zero_fraction(value))
  tf.compat.v1.summary.histogram('%s/activation' % tag, value)


def _name_from_scope_name(name):
  return name[:-1] if (name and name[-1] == '/') else name


def _plain_numeric_keys(feature_columns):
  """The keys of ``feature_columns`` in DenseFeatures' order, if all are plain scalars.

  Plain: ``tf.feature_column.numeric_column(key)`` with the default shape ``(1,)`` and no
  ``normalizer_fn``. DenseFeatures sorts its columns by name; so does this. None when any
  column is of another kind (it then goes through DenseFeatures).
  """
  from tensorflow.python.feature_column import feature_column_v2 as fc

  columns = sorted(feature_columns, key=lambda column: column.name)
  for column in columns:
    if (
      type(column) is not fc.NumericColumn
      or column.normalizer_fn is not None
      or tuple(column.shape) != (1,)
    ):
      return None
  return tuple(column.key for column in columns)


def _plain_numeric_input(features, keys):
  """DenseFeatures' output for plain numeric columns, in one op, or None if it cannot be.

  When every feature is a dense Tensor of one real dtype, all ``[batch]`` or all
  ``[batch, 1]`` with one static batch size (or none), the ``[batch, len(keys)]`` float32
  matrix DenseFeatures would make is one stack (or concat) and a cast: the same values, in the
  same order, with fewer ops. Columns of one packed matrix of a group's batch
  (:func:`_group_batch.matrix_of_columns`) give that matrix back. Anything else (sparse or
  ragged features, other shapes, mixed dtypes) returns None, and DenseFeatures builds the
  input (and raises its own errors).
  """
  tensors = [features.get(key) for key in keys]
  if not all(isinstance(t, tf.Tensor) for t in tensors):
    return None
  dtypes = {t.dtype for t in tensors}
  ranks = {t.shape.rank for t in tensors}
  if len(dtypes) != 1 or len(ranks) != 1:
    return None
  dtype, rank = dtypes.pop(), ranks.pop()
  if not (dtype.is_floating or dtype.is_integer) or rank not in (1, 2):
    return None
  if rank == 2 and any(t.shape[1] != 1 for t in tensors):
    return None
  if len({t.shape[0] for t in tensors if t.shape[0] is not None}) > 1:
    return None  # DenseFeatures names the mismatch.
  with tf.name_scope('input_from_feature_columns/input_layer'):
    packed = _group_batch.matrix_of_columns(tensors)
    if packed is not None:
      matrix, order, width = packed
      if order != list(range(width)):
        matrix = tf.gather(matrix, order, axis=1, name='concat')
    elif rank == 1:
      matrix = tf.stack(tensors, axis=1, name='stack')
    else:
      matrix = tf.concat(tensors, axis=1, name='concat')
    return matrix if dtype == tf.float32 else tf.cast(matrix, tf.float32)


class _DNN(tf.keras.Model):
  """canned/dnn.py's _DNNModelV2: same layers, initialisers, names and build order."""

  def __init__(
    self, units, hidden_units, feature_columns, activation, dropout, batch_norm, name='dnn'
  ):
    super().__init__(name=name)
    with tf.compat.v1.name_scope('input_from_feature_columns') as input_scope:
      self._input_layer = tf.keras.layers.DenseFeatures(
        feature_columns=feature_columns, name=input_scope + 'input_layer'
      )
    self._plain_keys = _plain_numeric_keys(feature_columns)
    self._dropout = dropout
    self._batch_norm = batch_norm
    self._hidden_layers = []
    self._dropout_layers = []
    self._batch_norm_layers = []
    self._hidden_layer_scope_names = []
    for layer_id, num_hidden_units in enumerate(hidden_units):
      with tf.compat.v1.name_scope('hiddenlayer_%d' % layer_id) as hidden_scope:
        hidden_name = _name_from_scope_name(hidden_scope)
        self._hidden_layers.append(
          tf.keras.layers.Dense(
            units=num_hidden_units,
            activation=activation,
            kernel_initializer=tf.compat.v1.glorot_uniform_initializer(),
            name=hidden_name,
          )
        )
        self._hidden_layer_scope_names.append(hidden_name)
        if dropout is not None:
          self._dropout_layers.append(tf.keras.layers.Dropout(rate=dropout))
        if batch_norm:
          # Momentum 0.999 as canned (the Keras default 0.99 is unstable on some problems).
          self._batch_norm_layers.append(
            tf.keras.layers.BatchNormalization(
              momentum=0.999, trainable=True, name=hidden_name + '/batchnorm_%d' % layer_id
            )
          )
    with tf.compat.v1.name_scope('logits') as logits_scope:
      self._logits_scope_name = _name_from_scope_name(logits_scope)
      self._logits_layer = tf.keras.layers.Dense(
        units=units,
        activation=None,
        kernel_initializer=tf.compat.v1.glorot_uniform_initializer(),
        name=self._logits_scope_name,
      )

  @tf.autograph.experimental.do_not_convert
  def call(self, features, mode):
    is_training = mode == ModeKeys.TRAIN
    net = None
    if self._plain_keys is not None:
      net = _plain_numeric_input(features, self._plain_keys)
    if net is None:
      try:
        net = self._input_layer(features, training=is_training)
      except TypeError:
        net = self._input_layer(features)
    for i, hidden_layer in enumerate(self._hidden_layers):
      net = hidden_layer(net)
      if self._dropout is not None and is_training:
        net = self._dropout_layers[i](net, training=True)
      if self._batch_norm:
        net = self._batch_norm_layers[i](net, training=is_training)
      add_layer_summary(net, self._hidden_layer_scope_names[i])
    logits = self._logits_layer(net)
    add_layer_summary(logits, self._logits_scope_name)
    return logits


def dnn_logits(
  features,
  mode,
  units,
  hidden_units,
  feature_columns,
  activation=tf.nn.relu,
  dropout=None,
  batch_norm=False,
):
  """Builds the DNN in the current graph; returns ``(logits, keras_model)``.

  Arguments are assumed checked (see the ``check_*`` functions). The model is returned so
  that the caller can collect its update ops (batch normalisation) and losses.
  """
  if not isinstance(features, dict):
    validation.fail(
      'features',
      'a dict of feature name to Tensor',
      features,
      'return a dict from the input_fn, e.g. ({"x": x}, labels)',
      error=exceptions.ArgumentTypeError,
    )
  model = _DNN(units, hidden_units, feature_columns, activation, dropout, batch_norm)
  return model(features, mode), model


def dnn_network_fn(
  hidden_units,
  feature_columns=None,
  feature_keys=None,
  activation='relu',
  dropout=None,
  batch_norm=False,
):
  """Returns a ``network_fn`` for :func:`make_model_fn`: tf.estimator.DNNClassifier's network.

  Args:
    hidden_units: list of ints, units per hidden layer (e.g. ``[10, 10]``; ``[]``: linear).
    feature_columns: dense ``tf.feature_column`` columns; or
    feature_keys: names of numeric features (exactly one of the two).
    activation: activation of the hidden layers, a name or a callable; None: none (linear).
    dropout: None, or the probability of dropping a hidden unit, in TRAIN only.
    batch_norm: batch-normalise each hidden layer.

  Returns:
    ``network_fn(features, mode, params, logits_dimension)`` returning
    ``(logits, keras_model)``: logits of shape ``[batch_size, logits_dimension]`` (the size
    the head asks for), and the Keras model whose update ops and losses the template uses.

  Example:

    model_fn = make_model_fn(
        dnn_network_fn([16, 16], feature_keys=['x1', 'x2']), 'multi_label', n_classes=4)
  """
  hidden_units = check_hidden_units('hidden_units', hidden_units)
  feature_columns = check_feature_columns(
    'feature_columns', 'feature_keys', feature_columns, feature_keys
  )
  activation = check_activation('activation', activation)
  dropout = check_dropout('dropout', dropout)
  validation.check_bool('batch_norm', batch_norm)

  def network_fn(features, mode, params, logits_dimension):
    del params  # Everything is fixed when the network_fn is built.
    return dnn_logits(
      features,
      mode,
      logits_dimension,
      hidden_units,
      feature_columns,
      activation,
      dropout,
      batch_norm,
    )

  return network_fn
