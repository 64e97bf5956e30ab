"""check_spec and mode_checked: one test per error path, matching its message."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.util import function_utils

from tfest_adapters import exceptions
from tfest_adapters.models import check_spec
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import mode_checked
from tfest_adapters.models import _spec_checks

ModeKeys = tf.estimator.ModeKeys
TRAIN, EVAL, PREDICT = ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT
PREDICT_MESSAGE = (r'PREDICT spec has no predictions: return EstimatorSpec\(mode, '
                   r'predictions=\.\.\.\) before computing a loss \(labels are None in '
                   r'PREDICT\)')


@pytest.fixture(name='graph')
def graph_fixture():
  with tf.Graph().as_default() as graph:
    tf.compat.v1.train.create_global_step()
    yield graph


def _raw_spec(mode, **fields):
  """An EstimatorSpec that skips EstimatorSpec's own checks (as _replace-built ones can)."""
  values = dict(mode=mode, predictions=None, loss=None, train_op=None, eval_metric_ops={},
                export_outputs=None, training_chief_hooks=(), training_hooks=(),
                scaffold=tf.compat.v1.train.Scaffold(), evaluation_hooks=(),
                prediction_hooks=())
  values.update(fields)
  return tf.estimator.EstimatorSpec._make(values[f] for f in tf.estimator.EstimatorSpec._fields)


def _model():
  x = tf.constant(np.ones((4, 2), np.float32))
  logits = tf.keras.layers.Dense(3)(x)
  labels = tf.constant([0, 1, 2, 0], tf.int64)
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  return x, logits, labels, loss


def _minimize(loss, global_step=True):
  optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1)
  return optimizer.minimize(
      loss, global_step=tf.compat.v1.train.get_global_step() if global_step else None)


# check_spec: valid specs.

def test_valid_specs_pass_in_every_mode(graph):
  del graph
  _, logits, labels, loss = _model()
  train = tf.estimator.EstimatorSpec(TRAIN, loss=loss, train_op=_minimize(loss))
  assert check_spec(train, TRAIN) is train
  check_spec(tf.estimator.EstimatorSpec(EVAL, loss=loss, eval_metric_ops={
      'accuracy': tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))}), EVAL)
  check_spec(tf.estimator.EstimatorSpec(PREDICT, predictions={'logits': logits}), PREDICT)
  check_spec(tf.estimator.EstimatorSpec(PREDICT, predictions=logits), PREDICT)


def test_increments_global_step_sees_v1_and_keras_optimizers(graph):
  del graph
  _, _, _, loss = _model()
  assert _spec_checks.increments_global_step(_minimize(loss)) is True
  assert _spec_checks.increments_global_step(_minimize(loss, global_step=False)) is False
  keras = tf.keras.optimizers.legacy.SGD(0.1)
  keras.iterations = tf.compat.v1.train.get_global_step()
  assert _spec_checks.increments_global_step(
      keras.get_updates(loss, tf.compat.v1.trainable_variables())[0]) is True


def test_increments_global_step_is_unknown_when_a_loop_body_writes_variables(graph):
  del graph
  global_step = tf.compat.v1.train.get_global_step()

  def body(i):
    with tf.control_dependencies([global_step.assign_add(1)]):
      return i + 1

  loop = tf.while_loop(lambda i: i < 3, body, [tf.constant(0)])[0]
  assert _spec_checks.increments_global_step(loop) is None  # Not judged: no false alarm.
  value = tf.compat.v1.placeholder(tf.int32, [1])
  guarded = tf.cond(value[0] > 0, lambda: value, lambda: -value)  # An If op writing nothing.
  assert any(op.type in ('If', 'StatelessIf') for op in tf.compat.v1.get_default_graph(
      ).get_operations())
  assert _spec_checks.increments_global_step(guarded) is False


def test_increments_global_step_is_unknown_without_a_global_step():
  with tf.Graph().as_default():
    assert _spec_checks.increments_global_step(tf.no_op()) is None


# check_spec: one test per error.

def test_non_spec_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r"model_fn returned \{'loss': 1\} \(dict\) in TRAIN; it must return a "
                           r'tf.estimator.EstimatorSpec: return tf.estimator.EstimatorSpec\('
                           r'mode, \.\.\.\)'):
    check_spec({'loss': 1}, TRAIN)


def test_spec_of_another_mode_is_refused(graph):
  del graph
  _, logits, _, _ = _model()
  with pytest.raises(exceptions.SpecError,
                     match=r"EVAL spec has mode 'infer': build it with the mode the model_fn was "
                           r'called with'):
    check_spec(tf.estimator.EstimatorSpec(PREDICT, predictions=logits), EVAL)


def test_unknown_mode_is_refused(graph):
  del graph
  with pytest.raises(exceptions.ArgumentError, match=r"mode must be one of .*given: 'predict'"):
    check_spec(_raw_spec(PREDICT), 'predict')


def test_predict_without_predictions_gets_the_issue_message(graph):
  del graph
  with pytest.raises(exceptions.SpecError, match='^' + PREDICT_MESSAGE + '$'):
    check_spec(_raw_spec(PREDICT, predictions={}), PREDICT)


def test_predictions_of_wrong_type_are_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'PREDICT spec predictions must be a Tensor or a dict of str to '
                           r'Tensor, given: \[1, 2\] \(list\)'):
    check_spec(_raw_spec(PREDICT, predictions=[1, 2]), PREDICT)


def test_prediction_that_is_not_a_tensor_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r"PREDICT spec predictions\['p'\] must be a Tensor, given: ndarray of "
                           r'shape \(4,\).*Compute it with TensorFlow ops from the features'):
    check_spec(_raw_spec(PREDICT, predictions={'p': np.zeros(4)}), PREDICT)


def test_prediction_key_must_be_str(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'PREDICT spec predictions keys must be str, given: 0'):
    check_spec(_raw_spec(PREDICT, predictions={0: tf.zeros([4])}), PREDICT)


def test_prediction_without_batch_dimension_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r"PREDICT spec predictions\['mean'\] has shape \(\), but "
                           r'Estimator.predict splits every prediction along its first \(batch\) '
                           r'dimension'):
    check_spec(_raw_spec(PREDICT, predictions={'mean': tf.constant(1.0),
                                               'x': tf.zeros([4])}), PREDICT)


def test_predictions_with_different_batch_sizes_are_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r"PREDICT spec predictions have different batch sizes \('a': 4, "
                           r"'b': 1\): every prediction needs one row per example"):
    check_spec(_raw_spec(PREDICT, predictions={'a': tf.zeros([4, 3]), 'b': tf.zeros([1])}),
               PREDICT)


@pytest.mark.parametrize('mode,fix', [(TRAIN, r'train_op=optimizer.minimize\(loss, \.\.\.\)'),
                                      (EVAL, r'eval_metric_ops=\{\.\.\.\}')])
def test_missing_loss_is_refused(graph, mode, fix):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'%s spec has no loss: return EstimatorSpec\(mode, loss=loss, %s\) '
                           r'with a scalar loss computed from the labels' % (
                               mode.upper(), fix)):
    check_spec(_raw_spec(mode, train_op=tf.no_op()), mode)


def test_loss_that_is_not_a_tensor_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'EVAL spec loss must be a scalar Tensor, given: 0.5'):
    check_spec(_raw_spec(EVAL, loss=0.5), EVAL)


def test_per_example_loss_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'EVAL spec loss must be a scalar Tensor, given: \w*Tensor of shape '
                           r'\(16,\).*Reduce the per-example losses, e.g. loss = '
                           r'tf.reduce_mean\(per_example_loss\)'):
    check_spec(_raw_spec(EVAL, loss=tf.zeros([16])), EVAL)


def test_integer_loss_is_refused_in_train(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'TRAIN spec loss must be a float Tensor to have gradients'):
    check_spec(_raw_spec(TRAIN, loss=tf.constant(1), train_op=tf.no_op()), TRAIN)


def test_missing_train_op_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'TRAIN spec has no train_op: return EstimatorSpec\(mode, loss=loss, '
                           r'train_op=optimizer.minimize\(loss, global_step=tf.compat.v1.train.'
                           r'get_or_create_global_step\(\)\)\)'):
    check_spec(_raw_spec(TRAIN, loss=tf.constant(1.0)), TRAIN)


def test_train_op_of_wrong_type_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r"TRAIN spec train_op must be an Operation or a Tensor, given: 'step'"):
    check_spec(_raw_spec(TRAIN, loss=tf.constant(1.0), train_op='step'), TRAIN)


def test_train_op_that_does_not_increment_the_global_step_is_refused(graph):
  del graph
  _, _, _, loss = _model()
  with pytest.raises(exceptions.SpecError,
                     match=r'TRAIN spec train_op does not increment the global step, so '
                           r'train\(steps=N\) would never stop: pass global_step=tf.compat.v1.'
                           r'train.get_or_create_global_step\(\) to optimizer.minimize'):
    check_spec(tf.estimator.EstimatorSpec(TRAIN, loss=loss,
                                          train_op=_minimize(loss, global_step=False)), TRAIN)


def test_eval_metric_named_loss_is_refused(graph):
  del graph
  _, _, _, loss = _model()
  with pytest.raises(exceptions.SpecError,
                     match=r"EVAL spec eval_metric_ops has a metric named 'loss', a name the "
                           r"Estimator reserves for its own mean loss: rename it, e.g. "
                           r"'my_loss'"):
    check_spec(tf.estimator.EstimatorSpec(EVAL, loss=loss, eval_metric_ops={
        'loss': tf.compat.v1.metrics.mean(loss)}), EVAL)


def test_eval_metric_that_is_not_a_pair_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r"EVAL spec eval_metric_ops\['acc'\] must be a \(value, update_op\) "
                           r'pair, as tf.compat.v1.metrics.accuracy\(labels, predictions\) '
                           r'returns, or an updated tf.keras.metrics.Metric, given: '):
    check_spec(_raw_spec(EVAL, loss=tf.constant(1.0), eval_metric_ops={
        'acc': tf.constant(1.0)}), EVAL)


def test_eval_metric_ops_must_be_a_dict(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r'EVAL spec eval_metric_ops must be a dict of name to metric'):
    check_spec(_raw_spec(EVAL, loss=tf.constant(1.0), eval_metric_ops=[1]), EVAL)


def test_keras_metric_never_updated_is_refused(graph):
  del graph
  with pytest.raises(exceptions.SpecError,
                     match=r"EVAL spec eval_metric_ops\['auc'\] is a Keras metric that was never "
                           r'updated: call metric.update_state\(labels, predictions\)'):
    check_spec(_raw_spec(EVAL, loss=tf.constant(1.0), eval_metric_ops={
        'auc': tf.keras.metrics.AUC()}), EVAL)


def test_export_output_of_wrong_type_is_refused(graph):
  del graph
  logits = tf.zeros([4, 3])
  with pytest.raises(exceptions.SpecError,
                     match=r"PREDICT spec export_outputs\['serving_default'\] must be a "
                           r'tf.estimator.export.ExportOutput \(ClassificationOutput, '
                           r'RegressionOutput or PredictOutput\), given: '):
    check_spec(_raw_spec(PREDICT, predictions=logits,
                         export_outputs={'serving_default': logits}), PREDICT)


def test_export_outputs_without_a_default_are_refused(graph):
  del graph
  logits = tf.zeros([4, 3])
  output = tf.estimator.export.PredictOutput({'logits': logits})
  with pytest.raises(exceptions.SpecError,
                     match=r"PREDICT spec export_outputs has 2 signatures \(a, b\) and none "
                           r"named 'serving_default': name the one served by default"):
    check_spec(_raw_spec(PREDICT, predictions=logits,
                         export_outputs={'a': output, 'b': output}), PREDICT)


def test_export_outputs_must_be_a_dict(graph):
  del graph
  logits = tf.zeros([4, 3])
  with pytest.raises(exceptions.SpecError,
                     match=r'PREDICT spec export_outputs must be a dict of signature name to '
                           r'ExportOutput'):
    check_spec(_raw_spec(PREDICT, predictions=logits, export_outputs=[logits]), PREDICT)


# mode_checked: deep errors re-raised clearly.

def _call(model_fn, mode, labels=True):
  """Calls a checked model_fn in a new graph with the arguments it takes, as the Estimator."""
  with tf.Graph().as_default():
    tf.compat.v1.train.create_global_step()
    available = dict(features={'x': tf.constant(np.ones((4, 2), np.float32))},
                     labels=tf.constant([0, 1, 2, 0], tf.int64) if labels else None,
                     mode=mode, params={}, config=None)
    return model_fn(**{a: available[a] for a in function_utils.fn_args(model_fn)})


def _loss_first_model_fn(features, labels, mode, params):
  """Computes the loss before its PREDICT return: a common mistake."""
  del params
  logits = tf.keras.layers.Dense(3)(features['x'])
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  if mode == PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions={'logits': logits})
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=_minimize(loss))


def test_loss_from_none_labels_in_predict_gets_the_clear_message():
  with pytest.raises(exceptions.SpecError,
                     match=PREDICT_MESSAGE + r'. The model_fn failed on labels=None with '
                           r'ValueError: Argument `labels` must not be None') as info:
    _call(mode_checked(_loss_first_model_fn), PREDICT, labels=False)
  assert isinstance(info.value.__cause__, ValueError)  # The original error is chained.


def test_keras_loss_from_none_labels_in_predict_gets_the_clear_message():
  def model_fn(features, labels, mode):
    logits = tf.keras.layers.Dense(3)(features['x'])
    tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    return tf.estimator.EstimatorSpec(mode, predictions=logits)
  with pytest.raises(exceptions.SpecError,
                     match=PREDICT_MESSAGE + r'.*None values not supported'):
    _call(mode_checked(model_fn), PREDICT, labels=False)


def test_none_labels_in_train_point_to_the_input_fn():
  with pytest.raises(exceptions.ArgumentError,
                     match=r'TRAIN model_fn got labels=None and failed on it \(ValueError: '
                           r'Argument `labels` must not be None.\): in TRAIN and EVAL the '
                           r'input_fn must return \(features, labels\)'):
    _call(mode_checked(_loss_first_model_fn), TRAIN, labels=False)


def test_missing_predictions_refused_by_estimator_spec_is_explained():
  def model_fn(features, mode):
    return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features['x']))
  with pytest.raises(exceptions.SpecError, match='^' + PREDICT_MESSAGE + '$') as info:
    _call(mode_checked(model_fn), PREDICT, labels=False)
  assert str(info.value.__cause__) == 'Missing predictions.'


def test_missing_loss_refused_by_estimator_spec_is_explained():
  def model_fn(features, labels, mode):
    del labels
    return tf.estimator.EstimatorSpec(mode, predictions=features['x'])
  with pytest.raises(exceptions.SpecError, match=r'^EVAL spec has no loss: return EstimatorSpec'):
    _call(mode_checked(model_fn), EVAL)


def test_missing_train_op_refused_by_estimator_spec_is_explained():
  def model_fn(features, labels, mode):
    del labels
    return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features['x']))
  with pytest.raises(exceptions.SpecError, match=r'^TRAIN spec has no train_op: return'):
    _call(mode_checked(model_fn), TRAIN)


def test_non_scalar_loss_refused_by_estimator_spec_is_explained():
  def model_fn(features, labels, mode):
    del labels
    return tf.estimator.EstimatorSpec(mode, loss=features['x'])
  with pytest.raises(exceptions.SpecError,
                     match=r'^EVAL spec loss must be a scalar Tensor \(Loss must be scalar, '
                           r'given: .*\). Reduce the per-example losses'):
    _call(mode_checked(model_fn), EVAL)


def test_several_export_outputs_refused_by_estimator_spec_are_explained():
  def model_fn(features, mode):
    output = tf.estimator.export.PredictOutput({'x': features['x']})
    return tf.estimator.EstimatorSpec(mode, predictions=features['x'],
                                      export_outputs={'a': output, 'b': output})
  with pytest.raises(exceptions.SpecError,
                     match=r"^PREDICT spec export_outputs has several signatures and none named "
                           r"'serving_default'"):
    _call(mode_checked(model_fn), PREDICT, labels=False)


def test_eval_metric_of_wrong_kind_refused_by_estimator_spec_is_explained():
  def model_fn(features, labels, mode):
    del labels
    loss = tf.reduce_sum(features['x'])
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={'m': loss})
  with pytest.raises(exceptions.SpecError,
                     match=r'^EVAL spec eval_metric_ops values must be \(value, update_op\) '
                           r'pairs'):
    _call(mode_checked(model_fn), EVAL)


def test_keras_metric_not_updated_refused_by_estimator_spec_is_explained():
  def model_fn(features, labels, mode):
    del labels
    return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features['x']),
                                      eval_metric_ops={'m': tf.keras.metrics.Mean()})
  with pytest.raises(exceptions.SpecError,
                     match=r'^EVAL spec eval_metric_ops has a Keras metric that was never '
                           r'updated'):
    _call(mode_checked(model_fn), EVAL)


def test_new_keras_optimizer_given_to_a_head_is_explained():
  def model_fn(features, labels, mode):
    logits = tf.keras.layers.Dense(3)(features['x'])
    return tf.estimator.MultiClassHead(3).create_estimator_spec(
        features=features, mode=mode, logits=logits, labels=labels,
        optimizer=tf.keras.optimizers.Adam(), trainable_variables=(
            tf.compat.v1.trainable_variables()))
  with pytest.raises(exceptions.ArgumentError,
                     match=r"TRAIN: a new-style Keras optimizer was given to a TF head, which "
                           r"calls get_updates \('Adam' object has no attribute 'get_updates'\): "
                           r'pass the legacy one') as info:
    _call(mode_checked(model_fn), TRAIN)
  assert isinstance(info.value.__cause__, AttributeError)


def test_legacy_keras_optimizer_without_global_step_is_caught_before_it_hangs():
  def model_fn(features, labels, mode):
    logits = tf.keras.layers.Dense(3)(features['x'])
    return tf.estimator.MultiClassHead(3).create_estimator_spec(
        features=features, mode=mode, logits=logits, labels=labels,
        optimizer=tf.keras.optimizers.legacy.Adam(),  # iterations not set to the global step
        trainable_variables=tf.compat.v1.trainable_variables())
  with pytest.raises(exceptions.SpecError,
                     match=r'TRAIN spec train_op does not increment the global step, so '
                           r'train\(steps=N\) would never stop.*or set keras_optimizer.'
                           r'iterations = tf.compat.v1.train.get_or_create_global_step\(\)'):
    _call(mode_checked(model_fn), TRAIN)


def test_other_errors_pass_through_unchanged():
  def model_fn(features, labels, mode):
    raise ValueError('my own problem with %s' % features['x'].shape)
  with pytest.raises(ValueError, match=r'^my own problem with \(4, 2\)$'):
    _call(mode_checked(model_fn), PREDICT, labels=False)


def test_checked_model_fn_checks_its_mode():
  with pytest.raises(exceptions.ArgumentError, match=r"mode must be one of .*given: 'training'"):
    _call(mode_checked(_loss_first_model_fn), 'training')


def test_model_fn_without_features_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'model_fn must be a function taking a features argument'):
    mode_checked(lambda x, labels: None)


def test_model_fn_with_unknown_arguments_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'model_fn must be a function taking only features, labels, mode, '
                           r'params, config.*it also takes hparams'):
    mode_checked(lambda features, hparams: None)


def test_model_fn_must_be_callable():
  with pytest.raises(exceptions.ArgumentTypeError, match=r'model_fn must be callable, given: 1'):
    mode_checked(1)


def test_wrapper_shows_the_estimator_the_same_arguments_plus_mode():
  def model_fn(features, labels, params):
    del features, labels, params
  checked = mode_checked(model_fn)
  assert function_utils.fn_args(checked) == ('features', 'labels', 'mode', 'params')
  assert checked.__name__ == 'model_fn'
  assert function_utils.fn_args(mode_checked(classifier_model_fn)) == (
      'features', 'labels', 'mode', 'params', 'config')
  assert mode_checked(classifier_model_fn).check_params is classifier_model_fn.check_params


def test_checked_model_fn_works_in_a_real_estimator_and_explains_its_predict_error(
    small_data, boring_input_fn, tmp_path):
  x, y = small_data

  def model_fn(features, labels, mode, params):
    del params
    inputs = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
    return _loss_first_model_fn({'x': inputs}, labels, mode, {})

  estimator = tf.estimator.Estimator(mode_checked(model_fn), model_dir=str(tmp_path),
                                     params={})
  estimator.train(boring_input_fn(x, y), steps=2)
  assert estimator.get_variable_value('global_step') == 2

  def predict_input_fn():
    return tf.data.Dataset.from_tensor_slices(dict(x)).batch(16)

  with pytest.raises(exceptions.SpecError, match=PREDICT_MESSAGE):
    next(estimator.predict(predict_input_fn))
