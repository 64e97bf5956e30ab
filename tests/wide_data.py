"""A tiny census-like table and the columns of every kind the linear templates take.

Shared by the linear and wide-and-deep tests (template and parity tests alike).
"""

import numpy as np
import tensorflow as tf

EDUCATION = ['Bachelors', 'HS-grad', 'Masters', 'Doctorate']
OCCUPATION = ['tech', 'sales', 'craft', 'admin', 'other']
ROWS = 48
BATCH = 8


def arrays(rows=ROWS, seed=0):
  """(features, labels): string, int and float columns; a label learnable from them."""
  rng = np.random.RandomState(seed)
  education = np.array(EDUCATION)[rng.randint(0, len(EDUCATION), rows)]
  features = {
    'education': education,
    'occupation': np.array(OCCUPATION)[rng.randint(0, len(OCCUPATION), rows)],
    'workclass': rng.randint(0, 4, rows).astype(np.int64),
    'age': rng.uniform(18, 70, rows).astype(np.float32),
    'hours': rng.uniform(10, 60, rows).astype(np.float32),
    'weight': rng.uniform(0.5, 2.0, rows).astype(np.float32),
  }
  labels = ((features['age'] > 40) ^ (education == 'Masters')).astype(np.int64)
  return features, labels


def input_fn(features, labels, batch_size=BATCH, repeat=True):
  """A fixed-order input_fn (takes an optional mode, as group_batches asks)."""

  def fn(mode=None):
    del mode
    ds = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    return (ds.repeat() if repeat else ds).batch(batch_size)

  return fn


def columns():
  """A dict of named columns, of every kind."""
  education = tf.feature_column.categorical_column_with_vocabulary_list('education', EDUCATION)
  occupation = tf.feature_column.categorical_column_with_hash_bucket('occupation', 20)
  workclass = tf.feature_column.categorical_column_with_identity('workclass', 4)
  age = tf.feature_column.numeric_column('age')
  age_buckets = tf.feature_column.bucketized_column(age, [25, 40, 60])
  return dict(
    education=education,
    occupation=occupation,
    workclass=workclass,
    age=age,
    hours=tf.feature_column.numeric_column('hours'),
    age_buckets=age_buckets,
    cross=tf.feature_column.crossed_column([education, age_buckets], 30),
    cross_hashed=tf.feature_column.crossed_column(['occupation', education], 40),
    occupation_embedding=tf.feature_column.embedding_column(occupation, 3),
    education_indicator=tf.feature_column.indicator_column(education),
    weighted=tf.feature_column.weighted_categorical_column(workclass, 'weight'),
  )


def linear_columns():
  c = columns()
  return [c['education'], c['occupation'], c['age_buckets'], c['cross']]


def dnn_columns():
  c = columns()
  return [c['hours'], c['occupation_embedding'], c['education_indicator']]


def checkpoint(model_dir):
  """{variable name: value} of the latest checkpoint in model_dir."""
  reader = tf.train.load_checkpoint(str(model_dir))
  return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(model_dir))}


def assert_same_checkpoints(expected_dir, actual_dir, atol=0.0):
  """Same variable names; values equal (bitwise with atol=0)."""
  expected, actual = checkpoint(expected_dir), checkpoint(actual_dir)
  assert sorted(actual) == sorted(expected)
  for name, value in expected.items():
    np.testing.assert_allclose(actual[name], value, rtol=0, atol=atol, err_msg=name)
  return expected
