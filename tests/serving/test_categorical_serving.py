"""String and integer categorical features through export and Predictor, raw and tf.Example.

A wide-and-deep model trained on a DataFrame with a string column, a pandas Categorical and an
int category is exported with each receiver; the Predictor, given a DataFrame or a dict of
arrays, predicts what the Estimator predicts.
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfest_adapters as tfa
import wide_data


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  features, labels = wide_data.arrays()
  frame = pd.DataFrame(features)
  frame['education'] = pd.Categorical(frame['education'])
  columns = wide_data.linear_columns() + [wide_data.columns()['workclass']]
  estimator = tfa.make_estimator(
    tfa.wide_deep_classifier_model_fn,
    params=dict(
      linear_feature_columns=columns,
      dnn_feature_columns=wide_data.dnn_columns(),
      dnn_hidden_units=[4],
    ),
    model_dir=str(tmp_path_factory.mktemp('model')),
    seed=0,
  )
  estimator.train(
    tfa.pandas_input_fn(
      frame, pd.Series(labels), batch_size=8, num_epochs=None, shuffle=True, seed=0
    ),
    steps=4,
  )
  expected = np.array(
    [p['probabilities'] for p in estimator.predict(tfa.pandas_input_fn(frame[:5], shuffle=False))]
  )
  return estimator, frame, features, expected


@pytest.mark.parametrize('parse_examples', [False, True], ids=['raw', 'tf_example'])
def test_predictor_takes_string_and_categorical_features(parse_examples, trained, tmp_path):
  estimator, frame, features, expected = trained
  export_dir = tfa.export_saved_model(
    estimator, str(tmp_path), sample_features=frame[:3], parse_examples=parse_examples
  )
  with tfa.Predictor.from_saved_model(export_dir) as predictor:
    from_frame = predictor(frame[:5])
    from_dict = predictor({k: v[:5] for k, v in features.items()})
  np.testing.assert_allclose(from_frame['probabilities'], expected, rtol=0, atol=1e-6)
  np.testing.assert_allclose(from_dict['probabilities'], expected, rtol=0, atol=1e-6)
  assert from_frame['classes'].dtype == object and from_frame['classes'].shape == (5, 1)
  if not parse_examples:
    loaded = tf.saved_model.load(export_dir)
    inputs = loaded.signatures['serving_default'].structured_input_signature[1]
    assert inputs['education'].dtype == tf.string
    assert inputs['workclass'].dtype == tf.int64
