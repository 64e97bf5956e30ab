"""steps_per_run with class names as labels (label_vocabulary): the same weights as one step.

The heads look class names up in a table; a table made inside the loop body could not be
initialized (the Scaffold's ``init_all_tables`` failed with a loop body's op), so the group's
names are looked up once, before the loop.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import make_estimator
from tfest_adapters import tensor_slices_input_fn
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import linear_classifier_model_fn
from tfest_adapters.models import wide_deep_classifier_model_fn
import wide_data

NAMES = {2: ['low', 'high'], 3: ['low', 'mid', 'high']}


def _params(template, n_classes):
  if template is classifier_model_fn:
    params = dict(feature_keys=['age', 'hours'], hidden_units=[3])
  elif template is linear_classifier_model_fn:
    params = dict(feature_columns=wide_data.linear_columns())
  else:
    params = dict(
      linear_feature_columns=wide_data.linear_columns(),
      dnn_feature_columns=wide_data.dnn_columns(),
      dnn_hidden_units=[3],
    )
  return dict(params, label_vocabulary=NAMES[n_classes])


def _assert_groups_train_as_single_steps(template, n_classes, tmp_path, **extra):
  features, labels = wide_data.arrays()
  if n_classes == 3:
    labels = features['workclass'] % 3
  names = np.array(NAMES[n_classes])[labels]
  values = {}
  for steps_per_run in (1, 3):
    model_dir = tmp_path / str(steps_per_run)
    estimator = make_estimator(
      template,
      params=dict(_params(template, n_classes), steps_per_run=steps_per_run, **extra),
      model_dir=str(model_dir),
      seed=0,
    )
    input_fn = tensor_slices_input_fn(features, names, batch_size=8, shuffle=True, seed=0)
    estimator.train(input_fn, steps=4)
    estimator.train(input_fn, steps=3)  # A second call: the kept session.
    values[steps_per_run] = wide_data.checkpoint(model_dir)
    predictions = next(estimator.predict(tensor_slices_input_fn(features, batch_size=4)))
    assert predictions['classes'][0].decode() in NAMES[n_classes]
  assert sorted(values[3]) == sorted(values[1])
  for name, value in values[1].items():
    np.testing.assert_array_equal(values[3][name], value, err_msg=name)
  assert values[3]['global_step'] == 7


@pytest.mark.parametrize(
  'template', [classifier_model_fn, linear_classifier_model_fn, wide_deep_classifier_model_fn]
)
@pytest.mark.parametrize('n_classes', [2, 3])
def test_class_names_train_in_groups_as_in_single_steps(template, n_classes, tmp_path):
  _assert_groups_train_as_single_steps(template, n_classes, tmp_path)


def test_class_names_with_a_finer_auc_train_in_groups_as_in_single_steps(tmp_path):
  """auc_num_thresholds gives the binary head a class of its own: it needs its twin too."""
  _assert_groups_train_as_single_steps(classifier_model_fn, 2, tmp_path, auc_num_thresholds=1000)


def test_a_name_outside_the_vocabulary_is_refused(tmp_path):
  features, labels = wide_data.arrays()
  names = np.array(['low', 'high'])[labels]
  names[::4] = 'unknown'  # In every batch, however shuffled.
  estimator = make_estimator(
    linear_classifier_model_fn,
    params=dict(_params(linear_classifier_model_fn, 2), steps_per_run=2),
    model_dir=str(tmp_path),
  )
  with pytest.raises(tf.errors.InvalidArgumentError, match='labels must be class ids from 0'):
    estimator.train(tensor_slices_input_fn(features, names, batch_size=8), steps=2)
