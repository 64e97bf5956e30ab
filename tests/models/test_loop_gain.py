"""Each template's steps_per_run_pays(params): whether the in-graph loop is worth trying."""

import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters import models

fc = tf.feature_column
AGE = fc.numeric_column('age')
EDUCATION = fc.categorical_column_with_vocabulary_list('education', ['a', 'b'])
ZIP = fc.categorical_column_with_hash_bucket('zip', 10)
AGE_BUCKETS = fc.bucketized_column(AGE, [30, 50])


@pytest.mark.parametrize(
  'model_fn, params, pays',
  [
    (models.classifier_model_fn, dict(feature_keys=['x'], hidden_units=[4], n_classes=2), True),
    (models.regressor_model_fn, dict(feature_columns=[AGE], hidden_units=[4]), True),
    (models.linear_classifier_model_fn, dict(feature_columns=[AGE]), True),
    (models.linear_classifier_model_fn, dict(feature_columns=[AGE, EDUCATION]), False),
    (models.linear_regressor_model_fn, dict(feature_columns=[AGE_BUCKETS]), False),
    (
      models.linear_regressor_model_fn,
      dict(feature_columns=[fc.crossed_column([EDUCATION, 'zip'], 20)]),
      False,
    ),
    (
      models.wide_deep_classifier_model_fn,
      dict(dnn_feature_columns=[AGE, fc.embedding_column(ZIP, 2)], dnn_hidden_units=[4]),
      True,
    ),
    (
      models.wide_deep_classifier_model_fn,
      dict(linear_feature_columns=[AGE], dnn_feature_columns=[AGE], dnn_hidden_units=[4]),
      True,
    ),
    (
      models.wide_deep_classifier_model_fn,
      dict(linear_feature_columns=[ZIP], dnn_feature_columns=[AGE], dnn_hidden_units=[4]),
      False,
    ),
    (models.wide_deep_regressor_model_fn, dict(linear_feature_columns=[EDUCATION]), False),
  ],
)
def test_steps_per_run_pays(model_fn, params, pays):
  assert model_fn.steps_per_run_pays(params) is pays


@pytest.mark.parametrize(
  'model_fn',
  [
    models.classifier_model_fn,
    models.linear_classifier_model_fn,
    models.wide_deep_regressor_model_fn,
  ],
)
def test_steps_per_run_pays_checks_params(model_fn):
  with pytest.raises(exceptions.ArgumentKeyError, match='bogus_key'):
    model_fn.steps_per_run_pays(dict(bogus_key=1))
