"""dry_run: the three modes built and run on one batch, nothing trained or written."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.keys import PredictionKeys as K
from tfest_adapters.models import DryRunReport
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import dry_run

ModeKeys = tf.estimator.ModeKeys
PARAMS = dict(
  feature_keys=['f0', 'f1', 'f2', 'f3'], hidden_units=[5], n_classes=3, learning_rate=0.1
)


@pytest.fixture(scope='module')
def data():
  rng = np.random.RandomState(0)
  x = rng.normal(size=(40, 4)).astype(np.float32)
  return {'f%d' % i: x[:, i] for i in range(4)}, np.argmax(x[:, :3], axis=1).astype(np.int64)


@pytest.fixture(scope='module')
def report(data, tmp_path_factory):
  x, y = data
  model_dir = tmp_path_factory.mktemp('never_written')

  def input_fn():
    return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(16)

  result = dry_run(
    classifier_model_fn,
    input_fn,
    params=PARAMS,
    config=tf.estimator.RunConfig(model_dir=str(model_dir), tf_random_seed=1),
  )
  assert os.listdir(model_dir) == []  # Nothing read or written there.
  return result


def test_report_has_the_three_modes_in_order(report):
  assert isinstance(report, DryRunReport)
  assert [r.name for r in report] == ['TRAIN', 'EVAL', 'PREDICT']
  assert report['train'] is report.train is report[ModeKeys.TRAIN] is report['TRAIN']
  assert report['infer'] is report.predict


def test_train_report(report):
  train = report.train
  assert np.isfinite(train.loss) and train.loss > 0
  assert train.increments_global_step is True
  assert train.trainable_variables == 4  # Hidden and logits kernels and biases.
  assert train.trainable_parameters == 4 * 5 + 5 + 5 * 3 + 3
  assert train.features == {'f%d' % i: '(None,) float32' for i in range(4)}
  assert train.labels == '(None,) int64'


def test_eval_report_has_metric_values(report):
  assert set(report.eval.metrics) == {'accuracy', 'average_loss'}
  assert 0 <= report.eval.metrics['accuracy'] <= 1
  assert report.eval.metrics['average_loss'] == pytest.approx(report.eval.loss, rel=1e-5)


def test_predict_report_has_keys_shapes_and_signatures(report):
  predictions = report.predict.predictions
  assert predictions[K.CLASS_IDS] == ((16, 1), 'int64')
  assert predictions[K.PROBABILITIES] == ((16, 3), 'float32')
  assert predictions[K.CLASSES] == ((16, 1), 'string')
  assert report.predict.export_outputs == {
    'serving_default': 'ClassificationOutput',
    'classification': 'ClassificationOutput',
    'predict': 'PredictOutput',
  }
  assert report.predict.labels is None and report.predict.loss is None


def test_report_reads_as_text_and_html(report):
  text = str(report)
  assert text.startswith('dry run: TRAIN, EVAL, PREDICT built on one batch each, nothing trained')
  assert 'train_op increments the global step' in text
  assert 'metrics: accuracy=' in text
  assert 'class_ids (16, 1) int64' in text
  assert 'serving_default (ClassificationOutput)' in text
  html = report._repr_html_()
  assert html.startswith('<table>') and '<th' in html and 'PREDICT' in html
  assert repr(report).startswith('<DryRunReport <ModeReport TRAIN: loss ')


def test_missing_mode_is_refused(data):
  x, _ = data
  report = dry_run(
    classifier_model_fn,
    lambda: tf.data.Dataset.from_tensor_slices(x).batch(4),
    params=PARAMS,
    modes=[ModeKeys.PREDICT],
  )
  assert len(report) == 1
  with pytest.raises(
    exceptions.ArgumentKeyError, match=r"this dry run has no mode 'train'; it has PREDICT"
  ):
    report['train']


def test_input_fn_gets_mode_params_and_config_as_from_the_estimator(data):
  x, y = data
  seen = []

  def input_fn(mode, params, config):
    seen.append((mode, params['n_classes'], config.tf_random_seed))
    features = {k: tf.constant(v[:8]) for k, v in x.items()}  # A (features, labels) tuple.
    return features, tf.constant(y[:8])

  report = dry_run(
    classifier_model_fn, input_fn, params=PARAMS, config=tf.estimator.RunConfig(tf_random_seed=5)
  )
  assert seen == [(ModeKeys.TRAIN, 3, 5), (ModeKeys.EVAL, 3, 5), (ModeKeys.PREDICT, 3, 5)]
  assert report.predict.predictions[K.LOGITS] == ((8, 3), 'float32')


def test_the_train_op_is_never_run(data):
  x, y = data

  def model_fn(features, labels, mode):
    logits = tf.keras.layers.Dense(3)(tf.stack([features['f0'], features['f1']], axis=1))
    if mode == ModeKeys.PREDICT:
      return tf.estimator.EstimatorSpec(mode, predictions=logits)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    step = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(
      loss, global_step=tf.compat.v1.train.get_global_step()
    )
    never = tf.debugging.Assert(False, ['the train op ran'])
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=tf.group(step, never))

  report = dry_run(
    model_fn, lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8), modes=[ModeKeys.TRAIN]
  )
  assert report.train.increments_global_step is True


def test_a_wrong_model_fn_gets_the_same_clear_error(data):
  x, y = data

  def model_fn(features, labels, mode):
    logits = tf.keras.layers.Dense(3)(tf.stack([features['f0'], features['f1']], axis=1))
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == ModeKeys.PREDICT:
      return tf.estimator.EstimatorSpec(mode, predictions=logits)
    return tf.estimator.EstimatorSpec(mode, loss=loss)

  input_fn = lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8)  # noqa: E731
  with pytest.raises(
    exceptions.SpecError,
    match=r'PREDICT spec has no predictions: return EstimatorSpec\(mode, '
    r'predictions=\.\.\.\) before computing a loss \(labels are None in '
    r'PREDICT\)',
  ):
    dry_run(model_fn, input_fn, modes=[ModeKeys.PREDICT])
  with pytest.raises(exceptions.SpecError, match=r'^TRAIN spec has no train_op'):
    dry_run(model_fn, input_fn, modes=[ModeKeys.TRAIN])


def test_input_fn_returning_three_items_is_refused():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'what input_fn returned in TRAIN must be a tf.data.Dataset, a '
    r'\(features, labels\) pair or the features, given: ',
  ):
    dry_run(classifier_model_fn, lambda: ({}, None, None), params=PARAMS)


def test_empty_dataset_is_refused(data):
  x, y = data
  with pytest.raises(
    exceptions.ArgumentError, match=r'the input_fn gave no batch in EVAL: its Dataset is empty'
  ):
    dry_run(
      classifier_model_fn,
      lambda: tf.data.Dataset.from_tensor_slices((x, y)).take(0).batch(8),
      params=PARAMS,
      modes=[ModeKeys.EVAL],
    )


def test_model_fn_without_labels_given_labels_is_refused(data):
  x, y = data

  def model_fn(features, mode):
    return tf.estimator.EstimatorSpec(mode, predictions=features['f0'])

  with pytest.raises(
    exceptions.ArgumentError,
    match=r'model_fn does not take labels, but the input_fn returns labels in '
    r'EVAL',
  ):
    dry_run(
      model_fn, lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8), modes=[ModeKeys.EVAL]
    )


def test_params_for_a_model_fn_without_params_are_refused():
  def model_fn(features, labels, mode):
    del features, labels, mode

  with pytest.raises(
    exceptions.ArgumentError, match=r'params were given, but model_fn takes no params argument'
  ):
    dry_run(model_fn, lambda: None, params={'a': 1})


def test_bad_config_is_refused():
  with pytest.raises(
    exceptions.ArgumentTypeError, match=r'config must be a tf.estimator.RunConfig, given: '
  ):
    dry_run(classifier_model_fn, lambda: None, params=PARAMS, config={'tf_random_seed': 1})


def test_bad_params_are_refused():
  with pytest.raises(
    exceptions.ArgumentTypeError, match=r'params must be None or a dict, given: \[1\]'
  ):
    dry_run(classifier_model_fn, lambda: None, params=[1])


def test_bad_mode_is_refused():
  with pytest.raises(exceptions.ArgumentError, match=r"mode must be one of .*given: 'fit'"):
    dry_run(classifier_model_fn, lambda: None, params=PARAMS, modes=['fit'])


def test_input_fn_must_be_callable():
  with pytest.raises(exceptions.ArgumentTypeError, match=r'input_fn must be callable, given: '):
    dry_run(classifier_model_fn, [1, 2], params=PARAMS)


def test_a_dry_run_takes_no_seed_so_training_reads_what_it_would_without(data, tmp_path):
  import tfest_adapters as tfa

  x, y = data
  weights = {}
  for name in ('plain', 'after_dry_run'):
    input_fn = tfa.numpy_input_fn(x, y, batch_size=4, num_epochs=None, shuffle=True, seed=3)
    if name == 'after_dry_run':
      dry_run(classifier_model_fn, input_fn, params=PARAMS, modes=[ModeKeys.TRAIN])
    est = tfa.make_estimator(classifier_model_fn, PARAMS, str(tmp_path / name), seed=0)
    est.train(input_fn, max_steps=5)
    weights[name] = {v: est.get_variable_value(v) for v in est.get_variable_names()}
  for variable, value in weights['plain'].items():
    np.testing.assert_array_equal(weights['after_dry_run'][variable], value, err_msg=variable)
