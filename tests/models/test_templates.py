"""The templates through real Estimators: classifier_model_fn, regressor_model_fn, make_model_fn.

What each mode returns (prediction keys and shapes, metrics, signatures), exports, Keras
update ops and regularizers, reproducibility, and the errors a wrong network_fn gets.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.keys import MetricKeys
from tfest_adapters.keys import PredictionKeys as K
from tfest_adapters.keys import SignatureKeys
from tfest_adapters.models import _spec_checks
from tfest_adapters.models import check_spec
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import make_model_fn
from tfest_adapters.models import regressor_model_fn

ModeKeys = tf.estimator.ModeKeys
IRIS_KEYS = ['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth']
IRIS_PARAMS = dict(feature_keys=IRIS_KEYS, hidden_units=[10, 10], n_classes=3, learning_rate=0.1)


def _input_fn(features, labels=None, repeat=False, batch_size=32):
  def input_fn():
    ds = tf.data.Dataset.from_tensor_slices(
      dict(features) if labels is None else (dict(features), labels)
    )
    return (ds.repeat() if repeat else ds).batch(batch_size)

  return input_fn


def _graph_inputs(n=8, keys=IRIS_KEYS):
  features = {k: tf.constant(np.linspace(0, 1, n, dtype=np.float32)) for k in keys}
  return features, tf.constant(np.arange(n) % 3, dtype=tf.int64)


@pytest.fixture(scope='module')
def iris_estimator(iris, tmp_path_factory):
  (train_x, train_y), _ = iris
  estimator = tf.estimator.Estimator(
    classifier_model_fn,
    params=IRIS_PARAMS,
    model_dir=str(tmp_path_factory.mktemp('iris')),
    config=tf.estimator.RunConfig(tf_random_seed=0),
  )
  estimator.train(_input_fn(train_x, train_y, repeat=True), steps=150)
  return estimator


def test_classifier_predictions_have_the_seed_keys_and_shapes(iris_estimator, iris):
  _, (test_x, _) = iris
  predictions = list(iris_estimator.predict(_input_fn(test_x)))
  assert len(predictions) == 30
  first = predictions[0]
  assert {k: v.shape for k, v in first.items()} == {
    K.CLASS_IDS: (1,),
    K.CLASSES: (1,),
    K.PROBABILITIES: (3,),
    K.LOGITS: (3,),
    K.ALL_CLASS_IDS: (3,),
    K.ALL_CLASSES: (3,),
  }
  assert first[K.CLASS_IDS].dtype == np.int64
  assert first[K.CLASSES][0] == str(first[K.CLASS_IDS][0]).encode()
  assert np.sum(first[K.PROBABILITIES]) == pytest.approx(1.0, abs=1e-5)
  assert first[K.CLASS_IDS][0] == np.argmax(first[K.LOGITS])


def test_classifier_evaluates_accuracy_and_average_loss(iris_estimator, iris):
  _, (test_x, test_y) = iris
  metrics = iris_estimator.evaluate(_input_fn(test_x, test_y))
  assert {
    MetricKeys.ACCURACY,
    MetricKeys.LOSS_MEAN,
    MetricKeys.LOSS,
    MetricKeys.GLOBAL_STEP,
  } <= set(metrics)
  assert metrics[MetricKeys.GLOBAL_STEP] == 150
  assert metrics[MetricKeys.ACCURACY] >= 0.9


def test_classifier_exports_classification_as_serving_default_with_tf_examples(
  iris_estimator, iris, tmp_path
):
  _, (test_x, _) = iris
  receiver = tf.estimator.export.build_parsing_serving_input_receiver_fn(
    tf.feature_column.make_parse_example_spec(
      [tf.feature_column.numeric_column(k) for k in IRIS_KEYS]
    )
  )
  export_dir = iris_estimator.export_saved_model(str(tmp_path), receiver).decode()
  loaded = tf.saved_model.load(export_dir)
  assert set(loaded.signatures) == {
    SignatureKeys.SERVING_DEFAULT,
    SignatureKeys.CLASSIFY,
    SignatureKeys.PREDICT,
  }
  examples = [
    tf.train.Example(
      features=tf.train.Features(
        feature={
          k: tf.train.Feature(float_list=tf.train.FloatList(value=[test_x[k][i]]))
          for k in IRIS_KEYS
        }
      )
    ).SerializeToString()
    for i in range(5)
  ]
  served = loaded.signatures[SignatureKeys.SERVING_DEFAULT](inputs=tf.constant(examples))
  assert set(served) == {'classes', 'scores'}
  expected = np.stack(
    [
      p[K.PROBABILITIES]
      for p in iris_estimator.predict(_input_fn({k: v[:5] for k, v in test_x.items()}))
    ]
  )
  np.testing.assert_allclose(served['scores'].numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('mode', [ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT])
def test_every_template_spec_passes_check_spec(mode):
  with tf.Graph().as_default():
    tf.compat.v1.train.create_global_step()
    features, labels = _graph_inputs()
    spec = classifier_model_fn(
      features, None if mode == ModeKeys.PREDICT else labels, mode, dict(IRIS_PARAMS)
    )
    check_spec(spec, mode)
    if mode == ModeKeys.TRAIN:
      assert _spec_checks.increments_global_step(spec.train_op) is True
    if mode == ModeKeys.PREDICT:
      assert isinstance(
        spec.export_outputs[SignatureKeys.SERVING_DEFAULT], tf.estimator.export.ClassificationOutput
      )
      assert isinstance(
        spec.export_outputs[SignatureKeys.PREDICT], tf.estimator.export.PredictOutput
      )


def test_two_classes_use_the_binary_head():
  with tf.Graph().as_default():
    features, _ = _graph_inputs()
    spec = classifier_model_fn(features, None, ModeKeys.PREDICT, dict(IRIS_PARAMS, n_classes=2))
  assert spec.predictions[K.LOGITS].shape[-1] == 1
  assert K.LOGISTIC in spec.predictions


def test_classifier_options_train_evaluate_and_predict(tmp_path):
  """Label vocabulary (string labels), dropout, tanh, batch norm, weight column, Adam."""
  rng = np.random.RandomState(0)
  x = rng.normal(size=(64, 2)).astype(np.float32)
  features = {'a': x[:, 0], 'b': x[:, 1], 'w': np.ones(64, np.float32)}
  labels = np.array(['no', 'yes'])[(x[:, 0] + x[:, 1] > 0).astype(int)]
  estimator = tf.estimator.Estimator(
    classifier_model_fn,
    model_dir=str(tmp_path),
    params=dict(
      feature_keys=['a', 'b'],
      hidden_units=[8],
      label_vocabulary=['no', 'yes'],
      dropout=0.1,
      activation='tanh',
      batch_norm=True,
      weight_column='w',
      optimizer='Adam',
      learning_rate=0.05,
    ),
    config=tf.estimator.RunConfig(tf_random_seed=0),
  )
  estimator.train(_input_fn(features, labels, repeat=True), steps=40)
  metrics = estimator.evaluate(_input_fn(features, labels))
  assert metrics[MetricKeys.ACCURACY] >= 0.8
  assert metrics[MetricKeys.AUC] >= 0.8
  classes = {p[K.CLASSES][0] for p in estimator.predict(_input_fn(features))}
  assert classes <= {b'no', b'yes'}
  names = estimator.get_variable_names()
  assert 'dnn/hiddenlayer_0/batchnorm_0/moving_mean' in names
  assert not np.allclose(
    estimator.get_variable_value('dnn/hiddenlayer_0/batchnorm_0/moving_mean'), 0.0
  )  # Update ops ran in TRAIN.


def test_regressor_trains_evaluates_predicts_and_exports(tmp_path):
  rng = np.random.RandomState(0)
  x = rng.normal(size=(64, 2)).astype(np.float32)
  features = {'a': x[:, 0], 'b': x[:, 1]}
  y = (2 * x[:, 0] - x[:, 1]).astype(np.float32)
  estimator = tf.estimator.Estimator(
    regressor_model_fn,
    model_dir=str(tmp_path / 'model'),
    params=dict(feature_keys=['a', 'b'], hidden_units=[16], optimizer='Adam', learning_rate=0.05),
    config=tf.estimator.RunConfig(tf_random_seed=0),
  )
  loss_at_start = estimator.evaluate(_input_fn(features, y), steps=1)[MetricKeys.LOSS]
  estimator.train(_input_fn(features, y, repeat=True), steps=60)
  metrics = estimator.evaluate(_input_fn(features, y))
  assert {MetricKeys.LOSS_MEAN, MetricKeys.PREDICTION_MEAN, MetricKeys.LABEL_MEAN} <= set(metrics)
  assert metrics[MetricKeys.LOSS] < loss_at_start / 2
  predictions = list(estimator.predict(_input_fn(features)))
  assert {k: v.shape for k, v in predictions[0].items()} == {K.PREDICTIONS: (1,)}
  with tf.Graph().as_default():
    receiver = tf.estimator.export.build_raw_serving_input_receiver_fn(
      {k: tf.compat.v1.placeholder(tf.float32, [None], name=k) for k in features}
    )
  export_dir = estimator.export_saved_model(str(tmp_path / 'export'), receiver).decode()
  served = tf.saved_model.load(export_dir).signatures[SignatureKeys.SERVING_DEFAULT](
    a=tf.constant(x[:4, 0]), b=tf.constant(x[:4, 1])
  )
  np.testing.assert_allclose(
    served[K.PREDICTIONS].numpy()[:, 0], [p[K.PREDICTIONS][0] for p in predictions[:4]], rtol=1e-5
  )


def test_regressor_label_dimension_sets_the_prediction_width():
  with tf.Graph().as_default():
    features, _ = _graph_inputs(keys=['a'])
    spec = regressor_model_fn(
      features,
      None,
      ModeKeys.PREDICT,
      dict(feature_keys=['a'], hidden_units=[4], label_dimension=2),
    )
  assert spec.predictions[K.PREDICTIONS].shape.as_list() == [8, 2]
  assert isinstance(
    spec.export_outputs[SignatureKeys.SERVING_DEFAULT], tf.estimator.export.RegressionOutput
  )


def _keras_network_fn(features, mode, params):
  del params
  x = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
  x = tf.keras.layers.Dense(8, activation='relu')(x)
  x = tf.keras.layers.Dropout(0.2)(x, training=mode == ModeKeys.TRAIN)
  return tf.keras.layers.Dense(3)(x)


def _weights(estimator):
  return {n: estimator.get_variable_value(n) for n in estimator.get_variable_names()}


def test_same_seed_gives_bitwise_identical_keras_weights(small_data, boring_input_fn, tmp_path):
  x, y = small_data

  def train(seed, name):
    estimator = tf.estimator.Estimator(
      make_model_fn(
        _keras_network_fn, 'multi_class', n_classes=3, optimizer='Adam', learning_rate=0.01
      ),
      model_dir=str(tmp_path / name),
      config=tf.estimator.RunConfig(tf_random_seed=seed),
    )
    estimator.train(boring_input_fn(x, y), steps=5)
    return _weights(estimator)

  first, second, other = train(7, 'a'), train(7, 'b'), train(8, 'c')
  assert sorted(first) == sorted(second) and len(first) > 5
  for name in first:
    assert np.array_equal(first[name], second[name]), name
  assert not np.array_equal(first['dense/kernel'], other['dense/kernel'])


def test_keras_update_ops_and_regularizers_returned_with_the_logits_are_used(
  small_data, boring_input_fn, tmp_path
):
  x, y = small_data

  def network_fn(features, mode):
    model = tf.keras.Sequential(
      [
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.Dense(3, kernel_regularizer=tf.keras.regularizers.l2(1.0)),
      ]
    )
    inputs = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
    return model(inputs, training=mode == ModeKeys.TRAIN), model

  estimator = tf.estimator.Estimator(
    make_model_fn(network_fn, 'multi_class', n_classes=3, optimizer='SGD', learning_rate=0.01),
    model_dir=str(tmp_path),
    config=tf.estimator.RunConfig(tf_random_seed=0),
  )
  estimator.train(boring_input_fn(x, y), steps=3)
  moving_mean = [n for n in estimator.get_variable_names() if n.endswith('moving_mean')]
  assert len(moving_mean) == 1
  assert not np.allclose(estimator.get_variable_value(moving_mean[0]), 0.0)
  metrics = estimator.evaluate(boring_input_fn(x, y, repeat=False))
  assert metrics['regularization_loss'] > 0
  assert metrics[MetricKeys.LOSS] == pytest.approx(
    metrics[MetricKeys.LOSS_MEAN] + metrics['regularization_loss'], rel=1e-4
  )


@pytest.mark.filterwarnings('ignore:`tf.layers')
def test_v1_layers_update_ops_run_with_the_train_op():
  def network_fn(features, mode):
    x = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
    x = tf.compat.v1.layers.batch_normalization(x, training=mode == ModeKeys.TRAIN)
    return tf.compat.v1.layers.dense(x, 3)

  model_fn = make_model_fn(network_fn, 'multi_class', n_classes=3)
  with tf.Graph().as_default():
    tf.compat.v1.train.create_global_step()
    features, labels = _graph_inputs(keys=['f0', 'f1', 'f2', 'f3'])
    spec = model_fn(features, labels, ModeKeys.TRAIN, {}, None)
    updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    assert updates
    train_op = spec.train_op if isinstance(spec.train_op, tf.Operation) else spec.train_op.op
    assert set(updates) <= set(train_op.control_inputs) | {i.op for i in train_op.inputs}


def test_make_model_fn_exposes_its_head_and_optimizer():
  model_fn = make_model_fn(_keras_network_fn, 'regression', optimizer='adam', learning_rate=0.5)
  assert isinstance(model_fn.head, tf.estimator.RegressionHead)
  assert model_fn.network_fn is _keras_network_fn
  assert model_fn.optimizer == 'tf.keras.optimizers.legacy.Adam(learning_rate=0.5)'


def _build(model_fn, mode=ModeKeys.TRAIN, labels=True, features=None):
  with tf.Graph().as_default():
    tf.compat.v1.train.create_global_step()
    graph_features, graph_labels = _graph_inputs(keys=['f0', 'f1', 'f2', 'f3'])
    return model_fn(
      graph_features if features is None else features,
      graph_labels if labels else None,
      mode,
      {},
      None,
    )


def test_network_fn_must_be_callable():
  with pytest.raises(exceptions.ArgumentTypeError, match=r'network_fn must be callable, given: 3'):
    make_model_fn(3, 'regression')


def test_network_fn_with_unknown_arguments_is_refused():
  with pytest.raises(
    exceptions.ArgumentTypeError,
    match=r'network_fn must be a function \(features, ...\) whose other '
    r'arguments are among mode, params, config, logits_dimension.*it '
    r'also takes units',
  ):
    make_model_fn(lambda features, units: None, 'regression')


def test_network_fn_returning_no_tensor_is_refused():
  with pytest.raises(
    exceptions.ArgumentTypeError,
    match=r'what network_fn returned in TRAIN must be a logits Tensor '
    r'\[batch_size, 3\], or \(logits, keras_model\), given: None',
  ):
    _build(make_model_fn(lambda features: None, 'multi_class', n_classes=3))


def test_logits_of_the_wrong_width_are_refused():
  def network_fn(features):
    return tf.keras.layers.Dense(4)(tf.stack([features['f0']], axis=1))

  with pytest.raises(
    exceptions.ArgumentError,
    match=r'the logits network_fn returned in EVAL must be \[batch_size, 3\] '
    r'for the MultiClassHead.*shape \(8, 4\).*end the network with '
    r'tf.keras.layers.Dense\(3\)',
  ):
    _build(make_model_fn(network_fn, 'multi_class', n_classes=3), mode=ModeKeys.EVAL)


def test_rank_one_logits_are_refused():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'the logits network_fn returned in PREDICT must be \[batch_size, 1\] '
    r'for the RegressionHead.*shape \(8,\)',
  ):
    _build(
      make_model_fn(lambda features: features['f0'], 'regression'),
      mode=ModeKeys.PREDICT,
      labels=False,
    )


def test_integer_logits_are_refused():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'the logits network_fn returned in TRAIN must be a float Tensor.*'
    r'not argmax or a cast',
  ):
    _build(make_model_fn(lambda features: tf.zeros([8, 1], tf.int32), 'regression'))


def test_second_item_must_be_keras_layers():
  with pytest.raises(
    exceptions.ArgumentTypeError,
    match=r'the second item network_fn returned must be a Keras layer or model',
  ):
    _build(make_model_fn(lambda features: (tf.zeros([8, 1]), 'layer'), 'regression'))


def test_missing_labels_in_train_are_refused():
  model_fn = make_model_fn(
    lambda features: tf.keras.layers.Dense(1)(tf.stack([features['f0']], axis=1)), 'regression'
  )
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'TRAIN needs labels, but the input_fn returned none: return '
    r'\(features, labels\) from the input_fn',
  ):
    _build(model_fn, labels=False)


def test_unknown_mode_is_refused():
  model_fn = make_model_fn(_keras_network_fn, 'regression')
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'mode must be one of tf.estimator.ModeKeys.TRAIN, EVAL, PREDICT '
    r"\('train', 'eval', 'infer'\), given: 'predict'",
  ):
    _build(model_fn, mode='predict')


def test_classifier_names_missing_features():
  with pytest.raises(
    exceptions.ArgumentKeyError,
    match=r"features has no 'PetalWidth', which params\[\"feature_keys\"\] "
    r"uses; the input_fn returned features \['PetalLength', "
    r"'SepalLength', 'SepalWidth'\]",
  ):
    with tf.Graph().as_default():
      features, labels = _graph_inputs(keys=IRIS_KEYS[:3])
      classifier_model_fn(features, labels, ModeKeys.TRAIN, dict(IRIS_PARAMS))


def test_classifier_needs_a_features_dict():
  with pytest.raises(
    exceptions.ArgumentTypeError,
    match=r'features must be a dict of feature name to Tensor, given: \w*Tensor '
    r'of shape \(8, 4\).*return a dict from the input_fn',
  ):
    with tf.Graph().as_default():
      classifier_model_fn(tf.zeros([8, 4]), None, ModeKeys.PREDICT, dict(IRIS_PARAMS))


def test_check_params_is_available_without_a_graph():
  params = classifier_model_fn.check_params(dict(IRIS_PARAMS))
  assert params.n_classes == 3 and params.hidden_units == (10, 10)
  with pytest.raises(exceptions.ArgumentKeyError, match=r'hiden_units'):
    regressor_model_fn.check_params(dict(feature_keys=['a'], hiden_units=[3]))


def _exact_auc(labels, scores):
  """The exact ROC AUC: P(score of a positive > score of a negative), ties counting half."""
  positives, negatives = scores[labels == 1][:, None], scores[labels == 0][None, :]
  return float(np.mean((positives > negatives) + 0.5 * (positives == negatives)))


def test_binary_auc_is_tfs_200_thresholds_unless_auc_num_thresholds(tmp_path):
  rng = np.random.RandomState(0)
  x = rng.normal(size=(400, 2)).astype(np.float32)
  y = (x[:, 0] + 0.7 * rng.normal(size=400) > 0).astype(np.int64)
  features = {'a': x[:, 0], 'b': x[:, 1]}
  params = dict(feature_keys=['a', 'b'], hidden_units=[8], n_classes=2, learning_rate=0.5)
  config = tf.estimator.RunConfig(tf_random_seed=0)
  model_dir = str(tmp_path / 'm')
  tf.estimator.Estimator(classifier_model_fn, model_dir, config, params).train(
    _input_fn(features, y, repeat=True), steps=300
  )
  # The same checkpoint, evaluated with TF's default and with a finer AUC.
  coarse, fine = [
    tf.estimator.Estimator(classifier_model_fn, model_dir, config, dict(params, **extra))
    for extra in ({}, {'auc_num_thresholds': 100000})
  ]
  logistic = np.concatenate(
    [p[K.LOGISTIC] for p in coarse.predict(_input_fn(features), yield_single_examples=False)]
  )[:, 0]
  exact = _exact_auc(y, logistic)
  coarse_auc = coarse.evaluate(_input_fn(features, y))[MetricKeys.AUC]
  fine_auc = fine.evaluate(_input_fn(features, y))[MetricKeys.AUC]
  assert abs(fine_auc - exact) < 1e-4, (fine_auc, exact)
  assert abs(coarse_auc - exact) > 10 * abs(fine_auc - exact), (coarse_auc, fine_auc, exact)


@pytest.mark.parametrize(
  'extra, error, match',
  [
    (dict(auc_num_thresholds=1), exceptions.ArgumentError, r'auc_num_thresholds.*int >= 2'),
    (dict(auc_num_thresholds=1.5), exceptions.ArgumentTypeError, r'int >= 2, given: 1\.5'),
    (
      dict(auc_num_thresholds=1000, n_classes=3),
      exceptions.ArgumentError,
      r'None with n_classes=3.*only a binary classifier',
    ),
  ],
)
def test_auc_num_thresholds_refusals(extra, error, match):
  params = dict(dict(feature_keys=['a'], hidden_units=[4], n_classes=2), **extra)
  with pytest.raises(error, match=match):
    classifier_model_fn.check_params(params)
