"""The DNN network: tf.estimator.DNNClassifier's, variable for variable, and its checks."""

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.models import _group_batch
from tfest_adapters.models import _networks
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import dnn_network_fn
from tfest_adapters.models import make_model_fn

ModeKeys = tf.estimator.ModeKeys
KEYS = ['x0', 'x1', 'x2']


def _features(n=6):
  rng = np.random.RandomState(0)
  return {k: tf.constant(rng.normal(size=n).astype(np.float32)) for k in KEYS}


def _initial_weights(model_fn, mode=ModeKeys.TRAIN, seed=3):
  """Builds the graph and returns {name: initial value} of the network's variables."""
  with tf.Graph().as_default():
    tf.compat.v1.random.set_random_seed(seed)
    tf.compat.v1.train.create_global_step()
    labels = tf.constant([0, 1, 2, 0, 1, 2], tf.int64)
    model_fn(_features(), labels if mode != ModeKeys.PREDICT else None, mode)
    variables = [v for v in tf.compat.v1.global_variables() if v.name.startswith('dnn/')]
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return dict(zip([v.name for v in variables], session.run(variables)))


def _canned_model_fn(hidden_units, dropout=None, **activation):
  canned = tf.estimator.DNNClassifier(
    hidden_units,
    [tf.feature_column.numeric_column(k) for k in KEYS],
    **{'activation_fn': activation['activation']} if activation else {},
    n_classes=3,
    dropout=dropout,
    optimizer=lambda: tf.keras.optimizers.legacy.Adagrad(0.1),
  )
  return lambda features, labels, mode: canned.model_fn(features, labels, mode, canned.config)


def _template_model_fn(hidden_units, dropout=None, **activation):
  params = dict(
    feature_keys=KEYS, hidden_units=hidden_units, n_classes=3, dropout=dropout, learning_rate=0.1
  )
  params.update(activation)
  return lambda features, labels, mode: classifier_model_fn(features, labels, mode, params)


def test_same_variables_and_same_initial_values_as_the_canned_dnn():
  canned = _initial_weights(_canned_model_fn([5, 4]))
  ours = _initial_weights(_template_model_fn([5, 4]))
  assert (
    sorted(ours)
    == sorted(canned)
    == [
      'dnn/hiddenlayer_0/bias:0',
      'dnn/hiddenlayer_0/kernel:0',
      'dnn/hiddenlayer_1/bias:0',
      'dnn/hiddenlayer_1/kernel:0',
      'dnn/logits/bias:0',
      'dnn/logits/kernel:0',
    ]
  )
  for name, value in canned.items():
    assert value.shape == ours[name].shape, name
    assert np.array_equal(value, ours[name]), name  # Same glorot init, same op seeds.
  assert np.any(canned['dnn/hiddenlayer_0/kernel:0'] != 0)


def _predicted_logits(model_fn, seed=3):
  with tf.Graph().as_default():
    tf.compat.v1.random.set_random_seed(seed)
    tf.compat.v1.train.create_global_step()
    spec = model_fn(_features(), None, ModeKeys.PREDICT)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return session.run(spec.predictions['logits'])


@pytest.mark.parametrize('activation', [None, 'tanh'])
def test_activation_gives_the_canned_logits_none_meaning_no_activation(activation):
  canned_activation = tf.keras.activations.get(activation) if activation else None
  canned = _predicted_logits(_canned_model_fn([5, 4], activation=canned_activation))
  ours = _predicted_logits(_template_model_fn([5, 4], activation=activation))
  relu = _predicted_logits(_template_model_fn([5, 4]))
  np.testing.assert_array_equal(ours, canned)
  assert not np.array_equal(ours, relu)  # The default (no key) is relu.


def _op_names(mode, dropout):
  with tf.Graph().as_default() as graph:
    tf.compat.v1.train.create_global_step()
    labels = tf.constant([0, 1, 2, 0, 1, 2], tf.int64)
    _template_model_fn([4], dropout)(
      _features(), None if mode == ModeKeys.PREDICT else labels, mode
    )
    return [op.name for op in graph.get_operations()]


def test_dropout_only_in_train():
  def has_dropout(mode, dropout):
    return any('dropout' in name for name in _op_names(mode, dropout))

  assert has_dropout(ModeKeys.TRAIN, 0.5)
  assert not has_dropout(ModeKeys.EVAL, 0.5)
  assert not has_dropout(ModeKeys.PREDICT, 0.5)
  assert not has_dropout(ModeKeys.TRAIN, None)


def test_dnn_network_fn_serves_any_head():
  model_fn = make_model_fn(dnn_network_fn([4], feature_keys=KEYS), 'multi_label', n_classes=5)
  with tf.Graph().as_default():
    spec = model_fn(_features(), None, ModeKeys.PREDICT, {}, None)
  assert spec.predictions['logits'].shape.as_list() == [6, 5]


def test_dnn_network_fn_with_feature_columns():
  columns = [tf.feature_column.numeric_column(k) for k in KEYS]
  network_fn = dnn_network_fn([3], feature_columns=columns, activation=tf.nn.elu)
  with tf.Graph().as_default():
    logits, model = network_fn(_features(), ModeKeys.EVAL, {}, 2)
  assert logits.shape.as_list() == [6, 2]
  assert isinstance(model, tf.keras.Model)


def test_dnn_network_fn_refuses_bad_hidden_units():
  with pytest.raises(
    exceptions.ArgumentError, match=r'hidden_units must be a list of positive ints, given: \[0\]'
  ):
    dnn_network_fn([0], feature_keys=KEYS)


def test_dnn_network_fn_needs_features():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'feature_columns or feature_keys must be given \(exactly one of '
    r'them\), given: neither',
  ):
    dnn_network_fn([3])


def test_dnn_network_fn_refuses_bad_dropout():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'dropout must be None or a drop probability in \[0, 1\), given: 2',
  ):
    dnn_network_fn([3], feature_keys=KEYS, dropout=2)


def test_dnn_network_fn_refuses_bad_activation():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'activation must be a tf.keras.activations name, a callable or None, '
    r"given: 'nope'",
  ):
    dnn_network_fn([3], feature_keys=KEYS, activation='nope')


def test_dnn_network_fn_refuses_non_bool_batch_norm():
  with pytest.raises(exceptions.ArgumentTypeError, match=r'batch_norm must be a bool, given: '):
    dnn_network_fn([3], feature_keys=KEYS, batch_norm='yes')


def test_dnn_network_needs_a_features_dict():
  network_fn = dnn_network_fn([3], feature_keys=KEYS)
  with tf.Graph().as_default():
    with pytest.raises(
      exceptions.ArgumentTypeError, match=r'features must be a dict of feature name to Tensor'
    ):
      network_fn(tf.zeros([6, 3]), ModeKeys.TRAIN, {}, 3)


# The input layer's fast path for plain numeric columns: DenseFeatures' values, fewer ops.


def _input_layer(features, keys, fast):
  """(value of the DNN's input layer, its op count) for numeric columns ``keys``."""
  columns = [tf.feature_column.numeric_column(k) for k in keys]
  graph = tf.Graph()
  with graph.as_default():
    tensors = {k: tf.constant(v) for k, v in features.items()}
    before = len(graph.get_operations())
    if fast:
      net = _networks._plain_numeric_input(tensors, _networks._plain_numeric_keys(columns))
      if net is None:
        return None, None
    else:
      net = tf.keras.layers.DenseFeatures(columns)(tensors)
    ops = len(graph.get_operations()) - before
    with tf.compat.v1.Session() as session:
      return session.run(net), ops


@pytest.mark.parametrize(
  'shape, dtype', [((5,), np.float32), ((5, 1), np.float32), ((5,), np.float64), ((5,), np.int64)]
)
def test_plain_numeric_columns_give_dense_features_values_in_one_op(shape, dtype):
  rng = np.random.RandomState(1)
  keys = ['b', 'c', 'a']  # DenseFeatures sorts the columns by name.
  features = {k: (rng.normal(size=shape) * 10).astype(dtype) for k in keys}
  fast, fast_ops = _input_layer(features, keys, fast=True)
  slow, slow_ops = _input_layer(features, keys, fast=False)
  assert fast.dtype == slow.dtype == np.float32 and fast.shape == slow.shape == (5, 3)
  np.testing.assert_array_equal(fast, slow)
  assert fast_ops <= 2 < slow_ops


def test_columns_of_one_packed_matrix_are_taken_as_the_matrix():
  with tf.Graph().as_default():
    matrix = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3))
    a, c, b = _group_batch.unstack_columns(matrix, 3)  # Columns in pack order a, c, b.
    in_order = _networks._plain_numeric_input({'a': a, 'c': c, 'b': b}, ('a', 'c', 'b'))
    assert in_order is matrix
    sorted_keys = _networks._plain_numeric_input({'a': a, 'c': c, 'b': b}, ('a', 'b', 'c'))
    assert sorted_keys.op.type == 'GatherV2'
    with tf.compat.v1.Session() as session:
      np.testing.assert_array_equal(session.run(sorted_keys), session.run(matrix)[:, [0, 2, 1]])


def test_only_columns_unstack_columns_made_are_taken_as_a_matrix():
  with tf.Graph().as_default():
    matrix = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3))
    other = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3))
    a, b, c = tf.unstack(matrix, axis=1)  # Not recorded: the input layer stacks them again.
    assert _group_batch.matrix_of_columns([a, b, c]) is None
    net = _networks._plain_numeric_input({'a': a, 'b': b, 'c': c}, ('a', 'b', 'c'))
    assert net.op.type == 'Pack'
    x, y, _ = _group_batch.unstack_columns(matrix, 3)
    z = _group_batch.unstack_columns(other, 3)[0]
    assert _group_batch.matrix_of_columns([x, y]) == (matrix, [0, 1], 3)
    assert _group_batch.matrix_of_columns([x, z]) is None  # Columns of two matrices.
    assert _group_batch.matrix_of_columns([x, a]) is None


@pytest.mark.parametrize(
  'column',
  [
    tf.feature_column.numeric_column('a', shape=(2,)),
    tf.feature_column.numeric_column('a', normalizer_fn=lambda x: x * 2),
    tf.feature_column.bucketized_column(tf.feature_column.numeric_column('a'), [0.0]),
  ],
)
def test_other_columns_go_through_dense_features(column):
  assert _networks._plain_numeric_keys([tf.feature_column.numeric_column('b'), column]) is None


@pytest.mark.parametrize(
  'features',
  [
    {'a': np.ones(3, np.float32), 'b': np.ones(3, np.float64)},
    {'a': np.ones(3, np.float32), 'b': np.ones((3, 1), np.float32)},
    {'a': np.ones(3, np.float32), 'b': np.ones((3, 2), np.float32)},
    {'a': np.ones(3, np.float32), 'b': np.ones(4, np.float32)},
    {'a': np.ones(3, np.float32), 'b': np.array([b'x'] * 3)},
  ],
)
def test_other_features_go_through_dense_features(features):
  keys = ('a', 'b')
  with tf.Graph().as_default():
    assert (
      _networks._plain_numeric_input({k: tf.constant(v) for k, v in features.items()}, keys) is None
    )


def test_the_fast_input_layer_trains_as_dense_features_does():
  """Same initial weights and the same logits as the canned DNN (which uses DenseFeatures)."""
  template, canned = _template_model_fn([4]), _canned_model_fn([4])
  values = []
  for model_fn in (template, canned):
    with tf.Graph().as_default():
      tf.compat.v1.random.set_random_seed(3)
      tf.compat.v1.train.create_global_step()
      spec = model_fn(_features(), None, ModeKeys.PREDICT)
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        values.append(session.run(spec.predictions['logits']))
  np.testing.assert_allclose(values[0], values[1], rtol=1e-6)


@pytest.mark.parametrize(
  'values',
  [
    np.zeros((3, 4), np.float32),
    np.ones((2, 5), np.float32),
    np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0], [0.0, 0.0, 3.0]], np.float32),
  ],
)
def test_zero_fraction_is_tfs_value_without_its_cond(values):
  # tf.math.zero_fraction's cond makes TF 2.15 log a false 25-line type inference warning.
  with tf.Graph().as_default() as graph:
    ours = _networks.zero_fraction(tf.constant(values))
    assert not [op for op in graph.get_operations() if op.type in ('If', 'StatelessIf')]
    tfs = tf.math.zero_fraction(tf.constant(values))
    with tf.compat.v1.Session() as session:
      ours, tfs = session.run([ours, tfs])
  assert ours.dtype == tfs.dtype == np.float32
  assert ours.tobytes() == tfs.tobytes()
