"""TF's heads by name or instance: checks, and each head through a real Estimator.

Each head trains, evaluates, predicts and exports (raw serving receiver) through
``tf.estimator.Estimator(make_model_fn(network_fn, head, ...))``, and the SavedModel
predicts what the Estimator predicts.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.keys import MetricKeys
from tfest_adapters.keys import PredictionKeys
from tfest_adapters.keys import SignatureKeys
from tfest_adapters.models import make_head
from tfest_adapters.models import make_model_fn

K = PredictionKeys
N = 48
FEATURES = ('f0', 'f1', 'f2', 'f3')


def _data():
  rng = np.random.RandomState(1)
  x = rng.normal(size=(N, 4)).astype(np.float32)
  return {k: x[:, i] for i, k in enumerate(FEATURES)}, x


def _labels(head_name, x):
  if head_name == 'multi_class':
    return np.argmax(x[:, :3], axis=1).astype(np.int64)
  if head_name == 'binary':
    return (x[:, 0] > 0).astype(np.int64)
  if head_name == 'regression':
    return (x[:, 0] - 2 * x[:, 1]).astype(np.float32)
  if head_name == 'multi_label':
    return (x > 0).astype(np.int64)
  return np.array(['neg', 'pos'])[(x[:, 0] > 0).astype(int)]  # String labels.


def _network_fn(features, mode, logits_dimension):
  del mode
  x = tf.stack([features[k] for k in FEATURES], axis=1)
  x = tf.keras.layers.Dense(8, activation='relu')(x)
  return tf.keras.layers.Dense(logits_dimension)(x)


def _input_fn(features, labels=None, repeat=False):
  def input_fn():
    ds = tf.data.Dataset.from_tensor_slices(
      dict(features) if labels is None else (dict(features), labels)
    )
    return (ds.repeat() if repeat else ds).batch(16)

  return input_fn


CASES = {
  'multi_class': dict(
    head='multi_class',
    kwargs=dict(n_classes=3),
    predictions={
      K.CLASS_IDS: (1,),
      K.CLASSES: (1,),
      K.PROBABILITIES: (3,),
      K.LOGITS: (3,),
      K.ALL_CLASS_IDS: (3,),
      K.ALL_CLASSES: (3,),
    },
    metrics={MetricKeys.ACCURACY, MetricKeys.LOSS_MEAN},
    signatures={SignatureKeys.SERVING_DEFAULT, SignatureKeys.CLASSIFY, SignatureKeys.PREDICT},
  ),
  'binary': dict(
    head='binary',
    kwargs={},
    predictions={
      K.CLASS_IDS: (1,),
      K.CLASSES: (1,),
      K.PROBABILITIES: (2,),
      K.LOGITS: (1,),
      K.LOGISTIC: (1,),
      K.ALL_CLASS_IDS: (2,),
      K.ALL_CLASSES: (2,),
    },
    metrics={MetricKeys.ACCURACY, MetricKeys.LOSS_MEAN, MetricKeys.AUC},
    signatures={
      SignatureKeys.SERVING_DEFAULT,
      SignatureKeys.CLASSIFY,
      SignatureKeys.REGRESS,
      SignatureKeys.PREDICT,
    },
  ),
  'regression': dict(
    head='regression',
    kwargs={},
    predictions={K.PREDICTIONS: (1,)},
    metrics={MetricKeys.LOSS_MEAN, MetricKeys.PREDICTION_MEAN, MetricKeys.LABEL_MEAN},
    signatures={SignatureKeys.SERVING_DEFAULT, SignatureKeys.REGRESS, SignatureKeys.PREDICT},
  ),
  'multi_label': dict(
    head='multi_label',
    kwargs=dict(n_classes=4),
    predictions={K.PROBABILITIES: (4,), K.LOGITS: (4,), K.CLASSES: (4,)},
    metrics={MetricKeys.LOSS_MEAN, MetricKeys.AUC, MetricKeys.AUC_PR},
    signatures={SignatureKeys.SERVING_DEFAULT, SignatureKeys.CLASSIFY, SignatureKeys.PREDICT},
  ),
  'head_instance': dict(
    head=lambda: tf.estimator.BinaryClassHead(label_vocabulary=['neg', 'pos']),
    kwargs={},
    predictions={
      K.CLASS_IDS: (1,),
      K.CLASSES: (1,),
      K.PROBABILITIES: (2,),
      K.LOGITS: (1,),
      K.LOGISTIC: (1,),
      K.ALL_CLASS_IDS: (2,),
      K.ALL_CLASSES: (2,),
    },
    metrics={MetricKeys.ACCURACY, MetricKeys.LOSS_MEAN},
    signatures={
      SignatureKeys.SERVING_DEFAULT,
      SignatureKeys.CLASSIFY,
      SignatureKeys.REGRESS,
      SignatureKeys.PREDICT,
    },
  ),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_head_trains_evaluates_predicts_and_exports(case, tmp_path):
  spec = CASES[case]
  features, x = _data()
  labels = _labels(case, x)
  head = spec['head']() if callable(spec['head']) else spec['head']
  estimator = tf.estimator.Estimator(
    make_model_fn(_network_fn, head, optimizer='Adam', learning_rate=0.05, **spec['kwargs']),
    model_dir=str(tmp_path / 'model'),
    config=tf.estimator.RunConfig(tf_random_seed=0),
  )

  estimator.train(_input_fn(features, labels, repeat=True), steps=20)
  assert estimator.get_variable_value('global_step') == 20

  metrics = estimator.evaluate(_input_fn(features, labels))
  assert spec['metrics'] <= set(metrics), sorted(metrics)
  assert np.isfinite(metrics[MetricKeys.LOSS])

  predictions = list(estimator.predict(_input_fn(features)))
  assert len(predictions) == N
  assert {k: v.shape for k, v in predictions[0].items()} == spec['predictions']
  if case == 'head_instance':  # Classes come from the label vocabulary.
    assert {p[K.CLASSES][0] for p in predictions} == {b'neg', b'pos'}
    assert list(predictions[0][K.ALL_CLASSES]) == [b'neg', b'pos']

  with tf.Graph().as_default():  # The receiver only reads names, dtypes and shapes.
    receiver = tf.estimator.export.build_raw_serving_input_receiver_fn(
      {k: tf.compat.v1.placeholder(tf.float32, [None], name=k) for k in FEATURES}
    )
  export_dir = estimator.export_saved_model(str(tmp_path / 'export'), receiver).decode()
  loaded = tf.saved_model.load(export_dir)
  # TF's classification/regression signatures take serialized tf.Examples; with a raw receiver
  # the predict signature is the default one (test_templates checks a tf.Example receiver).
  assert set(loaded.signatures) == {SignatureKeys.SERVING_DEFAULT, SignatureKeys.PREDICT}
  assert spec['signatures'] >= set(loaded.signatures)
  served = loaded.signatures[SignatureKeys.SERVING_DEFAULT](
    **{k: tf.constant(v[:5]) for k, v in features.items()}
  )
  key = K.PREDICTIONS if case == 'regression' else K.PROBABILITIES
  np.testing.assert_allclose(
    served[key].numpy(), np.stack([p[key] for p in predictions[:5]]), rtol=1e-5, atol=1e-6
  )


@pytest.mark.parametrize(
  'name,cls,logits_dimension,kwargs',
  [
    ('multi_class', tf.estimator.MultiClassHead, 5, dict(n_classes=5)),
    ('multi_class', tf.estimator.MultiClassHead, 3, dict(label_vocabulary=['a', 'b', 'c'])),
    ('binary', tf.estimator.BinaryClassHead, 1, {}),
    ('binary', tf.estimator.BinaryClassHead, 1, dict(n_classes=2)),
    ('regression', tf.estimator.RegressionHead, 1, {}),
    ('regression', tf.estimator.RegressionHead, 2, dict(label_dimension=2)),
    ('multi_label', tf.estimator.MultiLabelHead, 4, dict(n_classes=4, weight_column='w')),
  ],
)
def test_make_head_builds_tf_heads(name, cls, logits_dimension, kwargs):
  head = make_head(name, **kwargs)
  assert type(head) is cls
  assert head.logits_dimension == logits_dimension


def test_head_instance_is_returned_as_is():
  head = tf.estimator.RegressionHead()
  assert make_head(head) is head


# (head, kwargs, error, message): make_head(head, **kwargs) refuses it.
MAKE_HEAD_REFUSALS = [
  pytest.param(
    'softmax',
    {},
    exceptions.ArgumentError,
    r"head must be one of 'multi_class', 'binary', 'regression', 'multi_label', given: "
    r"'softmax'. or pass a tf.estimator.Head",
    id='unknown_name',
  ),
  pytest.param(
    3,
    {},
    exceptions.ArgumentTypeError,
    r"head must be one of 'multi_class'.* or a tf.estimator.Head, given: 3",
    id='head_of_wrong_type',
  ),
  pytest.param(
    tf.estimator.MultiClassHead(3),
    dict(n_classes=3),
    exceptions.ArgumentError,
    r'n_classes must be None when head is a Head instance.*set them when creating the '
    r'MultiClassHead',
    id='head_instance_with_name_options',
  ),
  # n_classes.
  pytest.param(
    'multi_class',
    dict(n_classes=2),
    exceptions.ArgumentError,
    r"n_classes must be an int > 2 for the 'multi_class' head, given: 2. use head='binary' "
    r'for 2 classes',
    id='multi_class_with_two_classes',
  ),
  pytest.param(
    'multi_class',
    {},
    exceptions.ArgumentError,
    r"n_classes must be an int > 2 for the 'multi_class' head, given: None. give the "
    r'number of classes',
    id='multi_class_without_n_classes',
  ),
  pytest.param(
    'binary',
    dict(n_classes=3),
    exceptions.ArgumentError,
    r"n_classes must be 2 \(or None\) for the 'binary' head, given: 3. use "
    r"head='multi_class'",
    id='binary_with_three_classes',
  ),
  pytest.param(
    'multi_label',
    {},
    exceptions.ArgumentError,
    r"n_classes must be an int >= 2 for the 'multi_label' head",
    id='multi_label_without_n_classes',
  ),
  pytest.param(
    'regression',
    dict(n_classes=3),
    exceptions.ArgumentError,
    r"n_classes must be None for the 'regression' head, given: 3. regression has "
    r'label_dimension instead',
    id='n_classes_for_regression',
  ),
  pytest.param(
    'multi_class',
    dict(n_classes=3.0),
    exceptions.ArgumentTypeError,
    r'n_classes must be an int, given: 3.0',
    id='non_int_n_classes',
  ),
  # label_dimension.
  pytest.param(
    'binary',
    dict(label_dimension=2),
    exceptions.ArgumentError,
    r"label_dimension must be None for the 'binary' head, given: 2",
    id='label_dimension_for_a_classifier',
  ),
  pytest.param(
    'regression',
    dict(label_dimension=0),
    exceptions.ArgumentError,
    r'label_dimension must be a positive int, given: 0',
    id='bad_label_dimension',
  ),
  # label_vocabulary.
  pytest.param(
    'multi_class',
    dict(n_classes=3, label_vocabulary=['a', 'b']),
    exceptions.ArgumentError,
    r"label_vocabulary must be a list of n_classes=3 names, given: \('a', 'b'\).*give one "
    r'name per class',
    id='vocabulary_of_wrong_size',
  ),
  pytest.param(
    'binary',
    dict(label_vocabulary=[0, 1]),
    exceptions.ArgumentTypeError,
    r'label_vocabulary must be a non-empty list of str, given: \[0, 1\]',
    id='vocabulary_of_non_strings',
  ),
  pytest.param(
    'binary',
    dict(label_vocabulary=['a', 'a']),
    exceptions.ArgumentError,
    r'label_vocabulary must be a list of distinct str.*remove the duplicates',
    id='vocabulary_with_duplicates',
  ),
  # weight_column.
  pytest.param(
    'binary',
    dict(weight_column=3),
    exceptions.ArgumentTypeError,
    r'weight_column must be None, a feature name or a tf.feature_column.numeric_column, '
    r'given: 3',
    id='bad_weight_column',
  ),
]


@pytest.mark.parametrize('head,kwargs,error,message', MAKE_HEAD_REFUSALS)
def test_make_head_refuses(head, kwargs, error, message):
  with pytest.raises(error, match=message):
    make_head(head, **kwargs)
