"""check_spec and mode_checked: one table of cases per rule, matching each message."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.util import function_utils

from tfest_adapters import exceptions
from tfest_adapters.models import _spec_checks
from tfest_adapters.models import check_spec
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import mode_checked

ModeKeys = tf.estimator.ModeKeys
TRAIN, EVAL, PREDICT = ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT
PREDICT_MESSAGE = (
  r'PREDICT spec has no predictions: return EstimatorSpec\(mode, '
  r'predictions=\.\.\.\) before computing a loss \(labels are None in '
  r'PREDICT\)'
)


@pytest.fixture(name='graph')
def graph_fixture():
  with tf.Graph().as_default() as graph:
    tf.compat.v1.train.create_global_step()
    yield graph


def _raw_spec(mode, **fields):
  """An EstimatorSpec that skips EstimatorSpec's own checks (as _replace-built ones can)."""
  values = dict(
    mode=mode,
    predictions=None,
    loss=None,
    train_op=None,
    eval_metric_ops={},
    export_outputs=None,
    training_chief_hooks=(),
    training_hooks=(),
    scaffold=tf.compat.v1.train.Scaffold(),
    evaluation_hooks=(),
    prediction_hooks=(),
  )
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
    loss, global_step=tf.compat.v1.train.get_global_step() if global_step else None
  )


# check_spec: valid specs.


def test_valid_specs_pass_in_every_mode(graph):
  del graph
  _, logits, labels, loss = _model()
  train = tf.estimator.EstimatorSpec(TRAIN, loss=loss, train_op=_minimize(loss))
  assert check_spec(train, TRAIN) is train
  check_spec(
    tf.estimator.EstimatorSpec(
      EVAL,
      loss=loss,
      eval_metric_ops={'accuracy': tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))},
    ),
    EVAL,
  )
  check_spec(tf.estimator.EstimatorSpec(PREDICT, predictions={'logits': logits}), PREDICT)
  check_spec(tf.estimator.EstimatorSpec(PREDICT, predictions=logits), PREDICT)


def test_increments_global_step_sees_v1_and_keras_optimizers(graph):
  del graph
  _, _, _, loss = _model()
  assert _spec_checks.increments_global_step(_minimize(loss)) is True
  assert _spec_checks.increments_global_step(_minimize(loss, global_step=False)) is False
  keras = tf.keras.optimizers.legacy.SGD(0.1)
  keras.iterations = tf.compat.v1.train.get_global_step()
  assert (
    _spec_checks.increments_global_step(
      keras.get_updates(loss, tf.compat.v1.trainable_variables())[0]
    )
    is True
  )


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
  assert any(
    op.type in ('If', 'StatelessIf') for op in tf.compat.v1.get_default_graph().get_operations()
  )
  assert _spec_checks.increments_global_step(guarded) is False


def test_increments_global_step_is_unknown_without_a_global_step():
  with tf.Graph().as_default():
    assert _spec_checks.increments_global_step(tf.no_op()) is None


# check_spec: one case per refusal.


def test_check_spec_refuses_an_unknown_mode(graph):
  del graph
  with pytest.raises(exceptions.ArgumentError, match=r"mode must be one of .*given: 'predict'"):
    check_spec(_raw_spec(PREDICT), 'predict')


def _spec_of_another_mode(mode):
  del mode
  return tf.estimator.EstimatorSpec(PREDICT, predictions=_model()[1])


def _train_op_without_global_step(mode):
  loss = _model()[3]
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=_minimize(loss, global_step=False))


def _metric_named_loss(mode):
  loss = _model()[3]
  return tf.estimator.EstimatorSpec(
    mode, loss=loss, eval_metric_ops={'loss': tf.compat.v1.metrics.mean(loss)}
  )


# (mode, make, message): make(mode) -> what a model_fn returned in mode, built in a graph with
# a global step (_raw_spec skips EstimatorSpec's own checks, as _replace-built specs can).
SPEC_REFUSALS = [
  pytest.param(
    TRAIN,
    lambda mode: {'loss': 1},
    r"model_fn returned \{'loss': 1\} \(dict\) in TRAIN; it "
    r'must return a tf.estimator.EstimatorSpec: return tf.estimator.EstimatorSpec\(mode, '
    r'\.\.\.\)',
    id='not_a_spec',
  ),
  pytest.param(
    EVAL,
    _spec_of_another_mode,
    r"EVAL spec has mode 'infer': build it with the mode the model_fn was called with",
    id='spec_of_another_mode',
  ),
  # Predictions.
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(mode, predictions={}),
    '^' + PREDICT_MESSAGE + '$',
    id='predict_without_predictions',
  ),
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(mode, predictions=[1, 2]),
    r'PREDICT spec predictions must be a Tensor or a dict of str to Tensor, given: '
    r'\[1, 2\] \(list\)',
    id='predictions_of_wrong_type',
  ),
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(mode, predictions={'p': np.zeros(4)}),
    r"PREDICT spec predictions\['p'\] must be a Tensor, given: ndarray of shape \(4,\).*"
    r'Compute it with TensorFlow ops from the features',
    id='prediction_not_a_tensor',
  ),
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(mode, predictions={0: tf.zeros([4])}),
    r'PREDICT spec predictions keys must be str, given: 0',
    id='prediction_key_not_str',
  ),
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(mode, predictions={'mean': tf.constant(1.0), 'x': tf.zeros([4])}),
    r"PREDICT spec predictions\['mean'\] has shape \(\), but Estimator.predict splits "
    r'every prediction along its first \(batch\) dimension',
    id='prediction_without_batch_dimension',
  ),
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(mode, predictions={'a': tf.zeros([4, 3]), 'b': tf.zeros([1])}),
    r"PREDICT spec predictions have different batch sizes \('a': 4, 'b': 1\): every "
    r'prediction needs one row per example',
    id='predictions_of_different_batch_sizes',
  ),
  # Loss.
  pytest.param(
    TRAIN,
    lambda mode: _raw_spec(mode, train_op=tf.no_op()),
    r'TRAIN spec has no loss: return EstimatorSpec\(mode, loss=loss, '
    r'train_op=optimizer.minimize\(loss, \.\.\.\)\) with a scalar loss computed from the '
    r'labels',
    id='train_without_loss',
  ),
  pytest.param(
    EVAL,
    lambda mode: _raw_spec(mode, train_op=tf.no_op()),
    r'EVAL spec has no loss: return EstimatorSpec\(mode, loss=loss, '
    r'eval_metric_ops=\{\.\.\.\}\) with a scalar loss computed from the labels',
    id='eval_without_loss',
  ),
  pytest.param(
    EVAL,
    lambda mode: _raw_spec(mode, loss=0.5),
    r'EVAL spec loss must be a scalar Tensor, given: 0.5',
    id='loss_not_a_tensor',
  ),
  pytest.param(
    EVAL,
    lambda mode: _raw_spec(mode, loss=tf.zeros([16])),
    r'EVAL spec loss must be a scalar Tensor, given: \w*Tensor of shape \(16,\).*Reduce '
    r'the per-example losses, e.g. loss = tf.reduce_mean\(per_example_loss\)',
    id='per_example_loss',
  ),
  pytest.param(
    TRAIN,
    lambda mode: _raw_spec(mode, loss=tf.constant(1), train_op=tf.no_op()),
    r'TRAIN spec loss must be a float Tensor to have gradients',
    id='integer_loss_in_train',
  ),
  # Train op.
  pytest.param(
    TRAIN,
    lambda mode: _raw_spec(mode, loss=tf.constant(1.0)),
    r'TRAIN spec has no train_op: return EstimatorSpec\(mode, loss=loss, '
    r'train_op=optimizer.minimize\(loss, global_step=tf.compat.v1.train.'
    r'get_or_create_global_step\(\)\)\)',
    id='no_train_op',
  ),
  pytest.param(
    TRAIN,
    lambda mode: _raw_spec(mode, loss=tf.constant(1.0), train_op='step'),
    r"TRAIN spec train_op must be an Operation or a Tensor, given: 'step'",
    id='train_op_of_wrong_type',
  ),
  pytest.param(
    TRAIN,
    _train_op_without_global_step,
    r'TRAIN spec train_op does not increment the global step, so train\(steps=N\) would '
    r'never stop: pass global_step=tf.compat.v1.train.get_or_create_global_step\(\) to '
    r'optimizer.minimize',
    id='train_op_without_global_step',
  ),
  # Eval metrics.
  pytest.param(
    EVAL,
    _metric_named_loss,
    r"EVAL spec eval_metric_ops has a metric named 'loss', a name the Estimator reserves "
    r"for its own mean loss: rename it, e.g. 'my_loss'",
    id='metric_named_loss',
  ),
  pytest.param(
    EVAL,
    lambda mode: _raw_spec(mode, loss=tf.constant(1.0), eval_metric_ops={'acc': tf.constant(1.0)}),
    r"EVAL spec eval_metric_ops\['acc'\] must be a \(value, update_op\) pair, as "
    r'tf.compat.v1.metrics.accuracy\(labels, predictions\) returns, or an updated '
    r'tf.keras.metrics.Metric, given: ',
    id='metric_not_a_pair',
  ),
  pytest.param(
    EVAL,
    lambda mode: _raw_spec(mode, loss=tf.constant(1.0), eval_metric_ops=[1]),
    r'EVAL spec eval_metric_ops must be a dict of name to metric',
    id='metrics_not_a_dict',
  ),
  pytest.param(
    EVAL,
    lambda mode: _raw_spec(
      mode, loss=tf.constant(1.0), eval_metric_ops={'auc': tf.keras.metrics.AUC()}
    ),
    r"EVAL spec eval_metric_ops\['auc'\] is a Keras metric that was never updated: call "
    r'metric.update_state\(labels, predictions\)',
    id='keras_metric_never_updated',
  ),
  # Export outputs.
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(
      mode, predictions=tf.zeros([4, 3]), export_outputs={'serving_default': tf.zeros([4, 3])}
    ),
    r"PREDICT spec export_outputs\['serving_default'\] must be a "
    r'tf.estimator.export.ExportOutput \(ClassificationOutput, RegressionOutput or '
    r'PredictOutput\), given: ',
    id='export_output_of_wrong_type',
  ),
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(
      mode,
      predictions=tf.zeros([4, 3]),
      export_outputs=dict.fromkeys(
        'ab', tf.estimator.export.PredictOutput({'logits': tf.zeros([4, 3])})
      ),
    ),
    r'PREDICT spec export_outputs has 2 signatures \(a, b\) and none named '
    r"'serving_default': name the one served by default",
    id='export_without_default',
  ),
  pytest.param(
    PREDICT,
    lambda mode: _raw_spec(mode, predictions=tf.zeros([4, 3]), export_outputs=[tf.zeros([4, 3])]),
    r'PREDICT spec export_outputs must be a dict of signature name to ExportOutput',
    id='export_outputs_not_a_dict',
  ),
]


@pytest.mark.parametrize('mode,make,message', SPEC_REFUSALS)
def test_check_spec_refuses(graph, mode, make, message):
  del graph
  spec = make(mode)
  with pytest.raises(exceptions.SpecError, match=message):
    check_spec(spec, mode)


# mode_checked: deep errors re-raised clearly.


def _call(model_fn, mode, labels=True):
  """Calls a checked model_fn in a new graph with the arguments it takes, as the Estimator."""
  with tf.Graph().as_default():
    tf.compat.v1.train.create_global_step()
    available = dict(
      features={'x': tf.constant(np.ones((4, 2), np.float32))},
      labels=tf.constant([0, 1, 2, 0], tf.int64) if labels else None,
      mode=mode,
      params={},
      config=None,
    )
    return model_fn(**{a: available[a] for a in function_utils.fn_args(model_fn)})


def _loss_first_model_fn(features, labels, mode, params):
  """Computes the loss before its PREDICT return: a common mistake."""
  del params
  logits = tf.keras.layers.Dense(3)(features['x'])
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  if mode == PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions={'logits': logits})
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=_minimize(loss))


def _keras_loss_first_model_fn(features, labels, mode):
  logits = tf.keras.layers.Dense(3)(features['x'])
  tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
  return tf.estimator.EstimatorSpec(mode, predictions=logits)


def _without_predictions(features, mode):
  return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features['x']))


def _without_loss(features, labels, mode):
  del labels
  return tf.estimator.EstimatorSpec(mode, predictions=features['x'])


def _without_train_op(features, labels, mode):
  del labels
  return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features['x']))


def _non_scalar_loss(features, labels, mode):
  del labels
  return tf.estimator.EstimatorSpec(mode, loss=features['x'])


def _several_export_outputs(features, mode):
  output = tf.estimator.export.PredictOutput({'x': features['x']})
  return tf.estimator.EstimatorSpec(
    mode, predictions=features['x'], export_outputs={'a': output, 'b': output}
  )


def _eval_metric_of_wrong_kind(features, labels, mode):
  del labels
  loss = tf.reduce_sum(features['x'])
  return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={'m': loss})


def _keras_metric_not_updated(features, labels, mode):
  del labels
  return tf.estimator.EstimatorSpec(
    mode, loss=tf.reduce_sum(features['x']), eval_metric_ops={'m': tf.keras.metrics.Mean()}
  )


def _head_model_fn(optimizer):
  """A model_fn giving ``optimizer()`` to TF's MultiClassHead."""

  def model_fn(features, labels, mode):
    logits = tf.keras.layers.Dense(3)(features['x'])
    return tf.estimator.MultiClassHead(3).create_estimator_spec(
      features=features,
      mode=mode,
      logits=logits,
      labels=labels,
      optimizer=optimizer(),
      trainable_variables=tf.compat.v1.trainable_variables(),
    )

  return model_fn


def _own_error(features, labels, mode):
  raise ValueError('my own problem with %s' % features['x'].shape)


# (model_fn, mode, labels, error, message, cause): what the checked model_fn raises when called
# as the Estimator calls it; cause: the class of the chained original error, or its text.
MODE_CHECKED_REFUSALS = [
  # A loss computed from labels=None.
  pytest.param(
    _loss_first_model_fn,
    PREDICT,
    False,
    exceptions.SpecError,
    PREDICT_MESSAGE + r'. The model_fn failed on labels=None with ValueError: Argument '
    r'`labels` must not be None',
    ValueError,
    id='loss_from_none_labels_in_predict',
  ),
  pytest.param(
    _keras_loss_first_model_fn,
    PREDICT,
    False,
    exceptions.SpecError,
    PREDICT_MESSAGE + r'.*None values not supported',
    None,
    id='keras_loss_from_none_labels_in_predict',
  ),
  pytest.param(
    _loss_first_model_fn,
    TRAIN,
    False,
    exceptions.ArgumentError,
    r'TRAIN model_fn got labels=None and failed on it \(ValueError: Argument `labels` must '
    r'not be None.\): in TRAIN and EVAL the input_fn must return \(features, labels\)',
    None,
    id='none_labels_in_train',
  ),
  # Specs EstimatorSpec refuses.
  pytest.param(
    _without_predictions,
    PREDICT,
    False,
    exceptions.SpecError,
    '^' + PREDICT_MESSAGE + '$',
    'Missing predictions.',
    id='missing_predictions',
  ),
  pytest.param(
    _without_loss,
    EVAL,
    True,
    exceptions.SpecError,
    r'^EVAL spec has no loss: return EstimatorSpec',
    None,
    id='missing_loss',
  ),
  pytest.param(
    _without_train_op,
    TRAIN,
    True,
    exceptions.SpecError,
    r'^TRAIN spec has no train_op: return',
    None,
    id='missing_train_op',
  ),
  pytest.param(
    _non_scalar_loss,
    EVAL,
    True,
    exceptions.SpecError,
    r'^EVAL spec loss must be a scalar Tensor \(Loss must be scalar, given: .*\). Reduce '
    r'the per-example losses',
    None,
    id='non_scalar_loss',
  ),
  pytest.param(
    _several_export_outputs,
    PREDICT,
    False,
    exceptions.SpecError,
    r'^PREDICT spec export_outputs has several signatures and none named '
    r"'serving_default'",
    None,
    id='several_export_outputs',
  ),
  pytest.param(
    _eval_metric_of_wrong_kind,
    EVAL,
    True,
    exceptions.SpecError,
    r'^EVAL spec eval_metric_ops values must be \(value, update_op\) pairs',
    None,
    id='eval_metric_of_wrong_kind',
  ),
  pytest.param(
    _keras_metric_not_updated,
    EVAL,
    True,
    exceptions.SpecError,
    r'^EVAL spec eval_metric_ops has a Keras metric that was never updated',
    None,
    id='keras_metric_not_updated',
  ),
  # Optimizers given to a head.
  pytest.param(
    _head_model_fn(tf.keras.optimizers.Adam),
    TRAIN,
    True,
    exceptions.ArgumentError,
    r'TRAIN: a new-style Keras optimizer was given to a TF head, which calls get_updates '
    r"\('Adam' object has no attribute 'get_updates'\): pass the legacy one",
    AttributeError,
    id='new_keras_optimizer_given_to_a_head',
  ),
  pytest.param(  # Its iterations are not the global step: caught before train() hangs.
    _head_model_fn(tf.keras.optimizers.legacy.Adam),
    TRAIN,
    True,
    exceptions.SpecError,
    r'TRAIN spec train_op does not increment the global step, so train\(steps=N\) would '
    r'never stop.*or set keras_optimizer.iterations = '
    r'tf.compat.v1.train.get_or_create_global_step\(\)',
    None,
    id='legacy_keras_optimizer_without_global_step',
  ),
  # Not translated.
  pytest.param(
    _own_error,
    PREDICT,
    False,
    ValueError,
    r'^my own problem with \(4, 2\)$',
    None,
    id='other_errors_pass_through_unchanged',
  ),
  pytest.param(
    _loss_first_model_fn,
    'training',
    True,
    exceptions.ArgumentError,
    r"mode must be one of .*given: 'training'",
    None,
    id='unknown_mode',
  ),
]


@pytest.mark.parametrize('model_fn,mode,labels,error,message,cause', MODE_CHECKED_REFUSALS)
def test_mode_checked_explains_what_the_model_fn_got_wrong(
  model_fn, mode, labels, error, message, cause
):
  with pytest.raises(error, match=message) as info:
    _call(mode_checked(model_fn), mode, labels=labels)
  if isinstance(cause, str):
    assert str(info.value.__cause__) == cause
  elif cause is not None:  # The original error is chained.
    assert isinstance(info.value.__cause__, cause)


@pytest.mark.parametrize(
  'model_fn,error,message',
  [
    pytest.param(
      lambda x, labels: None,
      exceptions.ArgumentTypeError,
      r'model_fn must be a function taking a features argument',
      id='no_features',
    ),
    pytest.param(
      lambda features, hparams: None,
      exceptions.ArgumentTypeError,
      r'model_fn must be a function taking only features, labels, mode, params, '
      r'config.*it also takes hparams',
      id='unknown_arguments',
    ),
    pytest.param(
      1, exceptions.ArgumentTypeError, r'model_fn must be callable, given: 1', id='not_callable'
    ),
  ],
)
def test_mode_checked_refuses_a_bad_model_fn(model_fn, error, message):
  with pytest.raises(error, match=message):
    mode_checked(model_fn)


def test_wrapper_shows_the_estimator_the_same_arguments_plus_mode():
  def model_fn(features, labels, params):
    del features, labels, params

  checked = mode_checked(model_fn)
  assert function_utils.fn_args(checked) == ('features', 'labels', 'mode', 'params')
  assert checked.__name__ == 'model_fn'
  assert function_utils.fn_args(mode_checked(classifier_model_fn)) == (
    'features',
    'labels',
    'mode',
    'params',
    'config',
  )
  assert mode_checked(classifier_model_fn).check_params is classifier_model_fn.check_params


def test_checked_model_fn_works_in_a_real_estimator_and_explains_its_predict_error(
  small_data, boring_input_fn, tmp_path
):
  x, y = small_data

  def model_fn(features, labels, mode, params):
    del params
    inputs = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
    return _loss_first_model_fn({'x': inputs}, labels, mode, {})

  estimator = tf.estimator.Estimator(mode_checked(model_fn), model_dir=str(tmp_path), params={})
  estimator.train(boring_input_fn(x, y), steps=2)
  assert estimator.get_variable_value('global_step') == 2

  def predict_input_fn():
    return tf.data.Dataset.from_tensor_slices(dict(x)).batch(16)

  with pytest.raises(exceptions.SpecError, match=PREDICT_MESSAGE):
    next(estimator.predict(predict_input_fn))
