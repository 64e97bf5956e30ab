"""Prediction and metric keys, in one place.

The values are the ones TensorFlow's canned heads use
(``tensorflow_estimator/python/estimator/canned/prediction_keys.py`` and
``metric_keys.py``), so predictions from the templates here and from
``tf.estimator.DNNClassifier`` can be read with the same keys.
"""


class PredictionKeys:
  """Keys of the predictions dict a model_fn returns in PREDICT mode."""

  CLASSES = 'classes'
  CLASS_IDS = 'class_ids'
  ALL_CLASSES = 'all_classes'
  ALL_CLASS_IDS = 'all_class_ids'
  LOGISTIC = 'logistic'
  LOGITS = 'logits'
  PREDICTIONS = 'predictions'
  PROBABILITIES = 'probabilities'


class MetricKeys:
  """Keys of the metrics dict an evaluation returns."""

  LOSS = 'loss'
  LOSS_MEAN = 'average_loss'
  ACCURACY = 'accuracy'
  PREDICTION_MEAN = 'prediction/mean'
  LABEL_MEAN = 'label/mean'
  AUC = 'auc'
  AUC_PR = 'auc_precision_recall'
  GLOBAL_STEP = 'global_step'


class SignatureKeys:
  """Names of the signatures in an exported SavedModel."""

  SERVING_DEFAULT = 'serving_default'
  CLASSIFY = 'classification'
  REGRESS = 'regression'
  PREDICT = 'predict'


class HeadNames:
  """Names accepted wherever a head is given by name."""

  MULTI_CLASS = 'multi_class'
  BINARY = 'binary'
  REGRESSION = 'regression'
  MULTI_LABEL = 'multi_label'
  ALL = (MULTI_CLASS, BINARY, REGRESSION, MULTI_LABEL)


class GroupKeys:
  """Reserved feature keys of a group of batches (``steps_per_run``).

  See ``tfest_adapters.input_fns._grouping``: a group's features dict holds its row counts
  under ``ROWS``, features given as one tensor under ``FEATURES``, and features sent as one
  matrix under ``PACKED_PREFIX`` followed by the JSON list of their keys.
  """

  ROWS = '__tfest_group_rows__'
  FEATURES = '__tfest_group_features__'
  PACKED_PREFIX = '__tfest_group_packed__'
