"""The linear and wide-and-deep templates: params, every column kind, optimizers, tooling."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import dry_run
from tfest_adapters import exceptions
from tfest_adapters import group_batches
from tfest_adapters import make_estimator
from tfest_adapters import make_optimizer_fn
from tfest_adapters.keys import PredictionKeys as K
from tfest_adapters.models import _linear_params
from tfest_adapters.models import _wide_deep_params
from tfest_adapters.models import linear_classifier_model_fn
from tfest_adapters.models import linear_regressor_model_fn
from tfest_adapters.models import wide_deep_classifier_model_fn
from tfest_adapters.models import wide_deep_regressor_model_fn
import wide_data

ModeKeys = tf.estimator.ModeKeys


def _linear(**params):
  return linear_classifier_model_fn.check_params(
    dict(dict(feature_columns=wide_data.linear_columns()), **params)
  )


def _wide_deep(**params):
  base = dict(
    linear_feature_columns=wide_data.linear_columns(),
    dnn_feature_columns=wide_data.dnn_columns(),
    dnn_hidden_units=[4],
  )
  base.update(params)
  return wide_deep_classifier_model_fn.check_params({k: v for k, v in base.items() if v != 'DROP'})


def test_defaults_are_the_canned_constructors():
  p = _linear()
  assert p.optimizer_fn.description == 'tf.keras.optimizers.legacy.Ftrl(learning_rate=0.2)'
  assert (p.sparse_combiner, p.n_classes, p.steps_per_run) == ('sum', 2, 1)
  w = _wide_deep()
  # min(0.005, 1/sqrt(4 linear columns)) and 0.001, as DNNLinearCombinedClassifier.
  assert w.linear_optimizer_fn.description == 'tf.keras.optimizers.legacy.Ftrl(learning_rate=0.005)'
  assert w.dnn_optimizer_fn.description == 'tf.keras.optimizers.legacy.Adagrad(learning_rate=0.001)'
  assert (w.linear_sparse_combiner, w.dnn_activation_fn, w.dnn_dropout) == ('sum', tf.nn.relu, None)
  r = linear_regressor_model_fn.check_params(dict(feature_columns=wide_data.linear_columns()))
  assert (r.label_dimension, r.n_classes) == (1, None)
  assert (
    wide_deep_regressor_model_fn.check_params(
      dict(linear_feature_columns=wide_data.linear_columns())
    ).dnn_optimizer_fn
    is None
  )


def test_a_binary_linear_or_wide_deep_classifier_takes_a_finer_auc():
  assert _linear(auc_num_thresholds=1000).auc_num_thresholds == 1000
  assert _wide_deep(auc_num_thresholds=1000).auc_num_thresholds == 1000
  assert _linear().auc_num_thresholds is None
  with pytest.raises(exceptions.ArgumentError, match='only a binary classifier'):
    _linear(n_classes=3, auc_num_thresholds=1000)


@pytest.mark.parametrize(
  'optimizer, description',
  [
    ('adam', 'tf.keras.optimizers.legacy.Adam(learning_rate=0.001)'),
    (tf.keras.optimizers.legacy.SGD(0.1), 'tf.keras.optimizers.legacy.SGD'),
    (
      tf.keras.optimizers.Adagrad(0.1),
      'tf.keras.optimizers.legacy.Adagrad (converted from tf.keras.optimizers.Adagrad)',
    ),
    (lambda: tf.keras.optimizers.legacy.RMSprop(0.01), 'the optimizer callable <lambda>'),
    (tf.compat.v1.train.GradientDescentOptimizer(0.1), 'GradientDescentOptimizer'),
  ],
  ids=['name', 'legacy_keras', 'new_keras', 'callable', 'v1'],
)
def test_each_wide_deep_optimizer_takes_every_kind(optimizer, description):
  p = _wide_deep(linear_optimizer=optimizer, dnn_optimizer=optimizer)
  assert p.linear_optimizer_fn.description.startswith(description.split('(learning_rate')[0])
  assert p.dnn_optimizer_fn.description.startswith(description.split('(learning_rate')[0])


@pytest.mark.parametrize(
  'linear_optimizer',
  [
    'Ftrl',
    tf.keras.optimizers.legacy.Ftrl(0.05),
    # A new-style Keras optimizer cannot be deep-copied with the Estimator's params.
    make_optimizer_fn(tf.keras.optimizers.Ftrl(0.05)),
    lambda: tf.keras.optimizers.legacy.SGD(0.05),
    tf.compat.v1.train.GradientDescentOptimizer(0.05),
  ],
  ids=['name', 'legacy_keras', 'new_keras', 'callable', 'v1'],
)
def test_two_optimizers_train_and_step_the_global_step_once(linear_optimizer, tmp_path):
  features, labels = wide_data.arrays()
  estimator = make_estimator(
    wide_deep_classifier_model_fn,
    params=dict(
      linear_feature_columns=wide_data.linear_columns(),
      dnn_feature_columns=wide_data.dnn_columns(),
      dnn_hidden_units=[4],
      linear_optimizer=linear_optimizer,
      dnn_optimizer=lambda: tf.keras.optimizers.Adam(0.01),
    ),
    model_dir=str(tmp_path),
    seed=0,
  )
  estimator.train(wide_data.input_fn(features, labels), steps=3)
  values = wide_data.checkpoint(tmp_path)
  assert values['global_step'] == 3
  assert np.any(values['linear/linear_model/education/weights'] != 0)
  assert any(name.startswith('training/Adam/dnn/') for name in values)


def _all_kinds_of_columns():
  c = wide_data.columns()
  return [c[k] for k in sorted(c)]


def test_every_kind_of_column_in_the_linear_template(tmp_path):
  vocabulary_file = tmp_path / 'occupations.txt'
  vocabulary_file.write_text('\n'.join(wide_data.OCCUPATION) + '\n')
  columns = _all_kinds_of_columns() + [
    tf.feature_column.categorical_column_with_vocabulary_file(
      'job', str(vocabulary_file), num_oov_buckets=1
    )
  ]
  features, labels = wide_data.arrays()
  features['job'] = features['occupation']
  estimator = make_estimator(
    linear_classifier_model_fn,
    params=dict(feature_columns=columns, label_vocabulary=['low', 'high']),
    model_dir=str(tmp_path / 'model'),
    seed=0,
  )
  string_labels = np.array(['low', 'high'])[labels]
  estimator.train(wide_data.input_fn(features, string_labels), steps=4)
  predictions = list(estimator.predict(wide_data.input_fn(features, string_labels, repeat=False)))
  assert len(predictions) == wide_data.ROWS
  assert predictions[0][K.CLASSES][0] in (b'low', b'high')
  names = set(wide_data.checkpoint(tmp_path / 'model'))
  for column in columns:
    assert any(name.startswith('linear/linear_model/%s/' % column.name) for name in names), column


def test_dry_run_reports_each_mode(tmp_path):
  features, labels = wide_data.arrays()
  params = dict(
    linear_feature_columns=wide_data.linear_columns(),
    dnn_feature_columns=wide_data.dnn_columns(),
    dnn_hidden_units=[4],
  )
  report = dry_run(wide_deep_classifier_model_fn, wide_data.input_fn(features, labels), params)
  assert report.train.increments_global_step in (True, None)
  assert report.eval.metrics['accuracy'] >= 0
  assert report.predict.predictions[K.PROBABILITIES] == ((wide_data.BATCH, 2), 'float32')


def test_steps_per_run_with_a_sparse_feature_is_refused_clearly(tmp_path):
  """A group holds dense batches only: a SparseTensor feature cannot be grouped."""

  def input_fn(mode=None):
    del mode
    ds = tf.data.Dataset.from_tensor_slices(
      {'education': tf.constant(['Masters', 'HS-grad']), 'label': tf.constant([1, 0])}
    ).batch(2)
    return ds.map(
      lambda f: (
        {'education': tf.sparse.from_dense(tf.reshape(f['education'], [-1, 1]))},
        f['label'],
      )
    ).repeat()

  estimator = make_estimator(
    linear_classifier_model_fn,
    params=dict(feature_columns=wide_data.linear_columns()[:1], steps_per_run=2),
    model_dir=str(tmp_path),
  )
  with pytest.raises(
    exceptions.ArgumentTypeError,
    match=r"features\['education'\] must be a dense Tensor to be grouped by steps_per_run.*"
    r'densify them in the input_fn .* or use steps_per_run=1',
  ):
    estimator.train(group_batches(input_fn), steps=2)


# (check, params, error, message): check(params) refuses them.
REFUSALS = [
  pytest.param(
    _linear,
    dict(hidden_units=[3]),
    exceptions.ArgumentKeyError,
    r"params has an unknown key 'hidden_units' for linear_classifier_model_fn\. Accepted "
    r'keys: feature_columns',
    id='dnn_key_to_linear',
  ),
  pytest.param(
    lambda **p: linear_classifier_model_fn.check_params(p),
    {},
    exceptions.ArgumentKeyError,
    r'params must have "feature_columns" for linear_classifier_model_fn',
    id='no_columns',
  ),
  pytest.param(
    _linear,
    dict(feature_columns='age'),
    exceptions.ArgumentTypeError,
    r'params\["feature_columns"\] must be a non-empty list of tf.feature_column columns, '
    r"given: 'age'",
    id='columns_a_string',
  ),
  pytest.param(
    _linear,
    dict(feature_columns=['age']),
    exceptions.ArgumentTypeError,
    re.escape(
      'params["feature_columns"][0] must be a tf.feature_column column, given: \'age\'. '
      "e.g. tf.feature_column.numeric_column('age')"
    ),
    id='column_a_name',
  ),
  pytest.param(
    _linear,
    dict(feature_columns=[tf.feature_column.sequence_numeric_column('age')]),
    exceptions.ArgumentError,
    r'params\["feature_columns"\]\[0\] must be a non-sequence column',
    id='sequence_column',
  ),
  pytest.param(
    _linear,
    dict(
      feature_columns=[
        tf.feature_column.numeric_column('hours'),
        tf.feature_column.weighted_categorical_column(wide_data.columns()['workclass'], 'hours'),
      ]
    ),
    exceptions.ArgumentError,
    r'params\["feature_columns"\] read one feature in two ways: .*parse_spec for key hours',
    id='one_feature_two_ways',
  ),
  pytest.param(
    _linear,
    dict(sparse_combiner='max'),
    exceptions.ArgumentError,
    r"params\[\"sparse_combiner\"\] must be one of 'sum', 'mean', 'sqrtn', given: 'max'",
    id='sparse_combiner',
  ),
  pytest.param(
    _linear,
    dict(optimizer='Lion'),
    exceptions.ArgumentError,
    r"params\[\"optimizer\"\] must be one of 'Adagrad', 'Adam', 'Ftrl'",
    id='unknown_optimizer',
  ),
  pytest.param(
    _linear,
    dict(n_classes=1),
    exceptions.ArgumentError,
    r'params\["n_classes"\] must be an int >= 2, given: 1',
    id='one_class',
  ),
  pytest.param(
    _linear,
    dict(steps_per_run=0),
    exceptions.ArgumentError,
    r'params\["steps_per_run"\] must be a positive int, given: 0',
    id='steps_per_run',
  ),
  pytest.param(
    _wide_deep,
    dict(linear_feature_columns='DROP', dnn_feature_columns='DROP', dnn_hidden_units='DROP'),
    exceptions.ArgumentKeyError,
    r'params must have "linear_feature_columns" or "dnn_feature_columns" \(or both\)',
    id='no_part',
  ),
  pytest.param(
    _wide_deep,
    dict(dnn_feature_columns=[wide_data.columns()['education']]),
    exceptions.ArgumentError,
    r'params\["dnn_feature_columns"\]\[0\] must be a dense column, .*indicator_column',
    id='categorical_column_to_the_dnn',
  ),
  pytest.param(
    _wide_deep,
    dict(dnn_hidden_units='DROP'),
    exceptions.ArgumentError,
    r'params\["dnn_hidden_units"\] must be a non-empty list of positive ints with '
    r'params\["dnn_feature_columns"\], given: None',
    id='dnn_without_hidden_units',
  ),
  pytest.param(
    _wide_deep,
    dict(dnn_feature_columns='DROP', dnn_hidden_units='DROP', dnn_optimizer='Adam'),
    exceptions.ArgumentError,
    r'params\["dnn_optimizer"\] must be absent without params\["dnn_feature_columns"\], '
    r"given: 'Adam'\. give the dnn part its columns, or drop dnn_optimizer",
    id='dnn_option_without_dnn',
  ),
  pytest.param(
    _wide_deep,
    dict(dnn_dropout=1.5),
    exceptions.ArgumentError,
    r'params\["dnn_dropout"\] must be None or a drop probability in \[0, 1\), given: 1.5',
    id='dropout',
  ),
  pytest.param(
    _wide_deep,
    dict(linear_learning_rate=-1),
    exceptions.ArgumentError,
    r'params\["linear_learning_rate"\] must be a positive finite number, given: -1',
    id='learning_rate',
  ),
  pytest.param(
    _wide_deep,
    dict(linear_optimizer=tf.keras.optimizers.legacy.Ftrl(), linear_learning_rate=0.1),
    exceptions.ArgumentError,
    r'params\["linear_learning_rate"\] must be None when params\["linear_optimizer"\] is '
    r'not a name',
    id='learning_rate_with_an_instance',
  ),
]


@pytest.mark.parametrize('check, params, error, message', REFUSALS)
def test_refusals(check, params, error, message):
  with pytest.raises(error, match=message):
    check(**params)


def test_make_estimator_checks_the_params_before_any_graph(tmp_path):
  with pytest.raises(exceptions.ArgumentKeyError, match="did you mean 'dnn_hidden_units'"):
    make_estimator(
      wide_deep_classifier_model_fn,
      params=dict(dnn_feature_columns=wide_data.dnn_columns(), dnn_hiden_units=[3]),
      model_dir=str(tmp_path),
    )
  assert not list(tmp_path.iterdir())


def test_missing_feature_is_named(tmp_path):
  features, labels = wide_data.arrays()
  del features['education']
  estimator = make_estimator(
    linear_classifier_model_fn,
    params=dict(feature_columns=wide_data.linear_columns()),
    model_dir=str(tmp_path),
  )
  with pytest.raises(exceptions.ArgumentKeyError, match=r"features has no 'education'"):
    estimator.train(wide_data.input_fn(features, labels), steps=1)


def test_param_keys_are_the_canned_constructor_arguments():
  import inspect

  for canned, keys in (
    (tf.estimator.LinearClassifier, _linear_params.LINEAR_CLASSIFIER_KEYS),
    (tf.estimator.LinearRegressor, _linear_params.LINEAR_REGRESSOR_KEYS),
    (tf.estimator.DNNLinearCombinedClassifier, _wide_deep_params.WIDE_DEEP_CLASSIFIER_KEYS),
    (tf.estimator.DNNLinearCombinedRegressor, _wide_deep_params.WIDE_DEEP_REGRESSOR_KEYS),
  ):
    # Beyond canned's: K steps per run, learning rates by name, a finer binary auc.
    ours = set(keys) - {'steps_per_run', 'learning_rate', 'auc_num_thresholds'}
    ours = {k for k in ours if not k.endswith('_learning_rate')}
    assert ours <= set(inspect.signature(canned.__init__).parameters), canned
