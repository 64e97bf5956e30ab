"""Categorical data through the in-memory builders: str and int categories, never in the graph.

numpy (object and unicode arrays), pandas (object, ``string`` and ``Categorical`` columns) and
tensor_slices give a categorical feature as its values (strings or ints, not a Categorical's
codes), which the linear template reads with its categorical columns, one step per run or in
groups (``steps_per_run``).
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters import make_estimator
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.input_fns import pandas_input_fn
from tfest_adapters.input_fns import tensor_slices_input_fn
from tfest_adapters.models import linear_classifier_model_fn

ModeKeys = tf.estimator.ModeKeys
ROWS = 24
EDUCATION = ['Bachelors', 'HS-grad', 'Masters']


def _frame():
  rng = np.random.RandomState(0)
  education = np.array(EDUCATION)[rng.randint(0, 3, ROWS)]
  return pd.DataFrame(
    {
      'education_object': education.astype(object),
      'education_string': pd.array(education, dtype='string'),
      'education_category': pd.Categorical(education),
      'workclass_category': pd.Categorical(rng.randint(0, 4, ROWS) * 10),  # Ints, not codes.
      'workclass_int': rng.randint(0, 4, ROWS),
      'age': rng.uniform(18, 70, ROWS).astype(np.float32),
    }
  ), pd.Series((education == 'Masters').astype(np.int64))


def _columns():
  vocabulary = tf.feature_column.categorical_column_with_vocabulary_list
  return [
    vocabulary('education_object', EDUCATION),
    vocabulary('education_string', EDUCATION),
    vocabulary('education_category', EDUCATION),
    vocabulary('workclass_category', [0, 10, 20, 30], dtype=tf.int64),
    tf.feature_column.categorical_column_with_identity('workclass_int', 4),
    tf.feature_column.numeric_column('age'),
  ]


def _builder(kind, x, y):
  if kind == 'numpy':
    arrays = {k: x[k].to_numpy() for k in x}
    arrays['education_string'] = arrays['education_string'].astype(str)  # A '<U' array.
    return numpy_input_fn(arrays, y.to_numpy(), batch_size=4, num_epochs=None, shuffle=True)
  if kind == 'pandas':
    return pandas_input_fn(x, y, batch_size=4, num_epochs=None, shuffle=True, seed=0)
  return tensor_slices_input_fn(x, y, batch_size=4, shuffle=True, seed=0)


def _biggest_constant(graph_def):
  sizes = [n.ByteSize() for n in graph_def.node if n.op == 'Const']
  for function in graph_def.library.function:
    sizes += [n.ByteSize() for n in function.node_def if n.op == 'Const']
  return max(sizes)


@pytest.mark.parametrize('kind', ['numpy', 'pandas', 'tensor_slices'])
def test_categories_are_fed_as_their_values(kind):
  x, y = _frame()
  features, _ = next(iter(_builder(kind, x, y)(mode=ModeKeys.TRAIN)))
  assert features['education_category'].dtype == tf.string
  assert set(features['education_category'].numpy()) <= {e.encode() for e in EDUCATION}
  assert features['education_string'].dtype == tf.string
  assert features['education_object'].dtype == tf.string
  assert features['workclass_category'].dtype == tf.int64
  assert set(features['workclass_category'].numpy()) <= {0, 10, 20, 30}


@pytest.mark.parametrize('kind', ['numpy', 'pandas', 'tensor_slices'])
@pytest.mark.parametrize('steps_per_run', [1, 3])
def test_linear_template_trains_on_categories(kind, steps_per_run, tmp_path):
  x, y = _frame()
  input_fn = _builder(kind, x, y)
  with tf.Graph().as_default() as graph:
    tf.compat.v1.data.make_one_shot_iterator(input_fn(mode=ModeKeys.TRAIN)).get_next()
    assert _biggest_constant(graph.as_graph_def()) < 1024  # No column went into the graph.
  estimator = make_estimator(
    linear_classifier_model_fn,
    params=dict(feature_columns=_columns(), steps_per_run=steps_per_run),
    model_dir=str(tmp_path),
    seed=0,
  )
  estimator.train(input_fn, steps=6)
  assert estimator.get_variable_value('global_step') == 6
  weights = estimator.get_variable_value('linear/linear_model/education_category/weights')
  assert weights.shape == (3, 1) and np.any(weights != 0)


@pytest.mark.parametrize(
  'builder', [tensor_slices_input_fn, lambda x: pandas_input_fn(x, shuffle=False)]
)
def test_missing_category_is_refused_with_a_fix(builder):
  x = pd.DataFrame({'c': pd.Categorical(['x', None, 'y'])})
  with pytest.raises(
    exceptions.ArgumentError,
    match=r"x?\[?'?c'?\]? must be values without missing entries.*add_categories",
  ):
    builder(x)
