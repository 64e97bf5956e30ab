"""TF's own heads (``tf.estimator.Head``), by name or as given, their arguments checked.

A head turns logits into the loss, the eval metrics, the predictions and the export signatures
of an EstimatorSpec; the templates use TF's instead of re-writing any of that.
"""

import numbers

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.keys import HeadNames
from tfest_adapters.keys import MetricKeys


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_vocabulary(name, vocabulary):
  """Accepts None or a non-empty list of distinct str; returns it as a tuple."""
  if vocabulary is None:
    return None
  if (
    not isinstance(vocabulary, (list, tuple))
    or not vocabulary
    or not all(isinstance(v, str) for v in vocabulary)
  ):
    validation.fail(
      name,
      'a non-empty list of str',
      vocabulary,
      "e.g. ['setosa', 'versicolor', 'virginica']",
      error=exceptions.ArgumentTypeError,
    )
  if len(set(vocabulary)) != len(vocabulary):
    validation.fail(name, 'a list of distinct str', vocabulary, 'remove the duplicates')
  return tuple(vocabulary)


def check_weight_column(name, weight_column):
  """Accepts None, a feature name, or a ``tf.feature_column.numeric_column``."""
  if weight_column is None:
    return None
  if isinstance(weight_column, str):
    if not weight_column:
      validation.fail(name, 'a feature name', weight_column)
    return weight_column
  if type(weight_column).__name__ != 'NumericColumn':
    validation.fail(
      name,
      'None, a feature name or a tf.feature_column.numeric_column',
      weight_column,
      error=exceptions.ArgumentTypeError,
    )
  return weight_column


class _BinaryClassHead(tf.estimator.BinaryClassHead):
  """TF's BinaryClassHead whose ``auc`` and ``auc_precision_recall`` use more thresholds."""

  def __init__(self, auc_num_thresholds, **kwargs):
    super().__init__(**kwargs)
    self.auc_num_thresholds = auc_num_thresholds

  def metrics(self, regularization_losses=None):
    eval_metrics = super().metrics(regularization_losses)
    with tf.name_scope('metrics'):
      # The head's own (200 thresholds) stay unused in the graph: they are made in there.
      eval_metrics[self._auc_key] = tf.keras.metrics.AUC(
        num_thresholds=self.auc_num_thresholds, name=MetricKeys.AUC
      )
      eval_metrics[self._auc_pr_key] = tf.keras.metrics.AUC(
        num_thresholds=self.auc_num_thresholds, curve='PR', name=MetricKeys.AUC_PR
      )
    return eval_metrics


def check_auc_num_thresholds(name, value):
  """Accepts None (TF's 200) or an int >= 2."""
  if value is None:
    return None
  if not _is_int(value):
    validation.fail(name, 'None or an int >= 2', value, error=exceptions.ArgumentTypeError)
  if value < 2:
    validation.fail(name, 'None or an int >= 2', value, 'e.g. 10000 for a finer auc')
  return int(value)


def binary_class_head(weight_column=None, label_vocabulary=None, auc_num_thresholds=None):
  """TF's ``BinaryClassHead``; with ``auc_num_thresholds``, its AUC metrics use that many.

  TF's head computes ``auc`` and ``auc_precision_recall`` with Keras' ``AUC`` at 200 evenly
  spaced thresholds: an approximation, low when many probabilities lie close to 0 or 1. More
  thresholds come closer to the exact AUC (each costs 4 counters in the eval graph).
  """
  if auc_num_thresholds is None or auc_num_thresholds == 200:
    return tf.estimator.BinaryClassHead(
      weight_column=weight_column, label_vocabulary=label_vocabulary
    )
  return _BinaryClassHead(
    auc_num_thresholds, weight_column=weight_column, label_vocabulary=label_vocabulary
  )


def make_head(
  head, n_classes=None, label_dimension=None, label_vocabulary=None, weight_column=None
):
  """Returns a ``tf.estimator.Head``: the one given, or TF's head for a name.

  Args:
    head: a ``tf.estimator.Head`` instance (returned as it is), or one of
      ``tfest_adapters.keys.HeadNames``: ``'multi_class'`` (``MultiClassHead``, softmax
      cross-entropy, n_classes > 2), ``'binary'`` (``BinaryClassHead``, sigmoid, one logit),
      ``'regression'`` (``RegressionHead``, mean squared error), ``'multi_label'``
      (``MultiLabelHead``, one sigmoid per class, multi-hot labels).
    n_classes: number of classes of 'multi_class' (> 2; defaults to the vocabulary size) and
      'multi_label' (>= 2); None or 2 for 'binary'.
    label_dimension: number of regression targets of 'regression' (default 1).
    label_vocabulary: for the classification heads, the str class names, when labels are
      strings; then predictions carry them in ``classes``.
    weight_column: a feature name or ``numeric_column`` giving a per-example loss weight.

  Returns:
    A ``tf.estimator.Head``.

  Raises:
    ArgumentError, ArgumentTypeError: with the argument, what was expected, and a fix.

  Example:

    head = make_head('multi_class', n_classes=3)
    head.logits_dimension  # 3
  """
  options = dict(
    n_classes=n_classes,
    label_dimension=label_dimension,
    label_vocabulary=label_vocabulary,
    weight_column=weight_column,
  )
  if isinstance(head, tf.estimator.Head):
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
      validation.fail(
        ', '.join(given),
        'None when head is a Head instance',
        head,
        'they apply only to a head given by name: set them when creating the %s'
        % type(head).__name__,
      )
    return head
  if not isinstance(head, str):
    validation.fail(
      'head',
      'one of %s or a tf.estimator.Head' % ', '.join(repr(n) for n in HeadNames.ALL),
      head,
      error=exceptions.ArgumentTypeError,
    )
  validation.check_one_of('head', head, HeadNames.ALL, 'or pass a tf.estimator.Head instance')
  label_vocabulary = check_vocabulary('label_vocabulary', label_vocabulary)
  weight_column = check_weight_column('weight_column', weight_column)

  if head == HeadNames.REGRESSION:
    for key in ('n_classes', 'label_vocabulary'):
      if options[key] is not None:
        validation.fail(
          key,
          "None for the 'regression' head",
          options[key],
          'regression has label_dimension instead',
        )
    label_dimension = 1 if label_dimension is None else label_dimension
    validation.check_positive_int('label_dimension', label_dimension)
    return tf.estimator.RegressionHead(label_dimension=label_dimension, weight_column=weight_column)

  if label_dimension is not None:
    validation.fail(
      'label_dimension',
      "None for the '%s' head" % head,
      label_dimension,
      'label_dimension is for the regression head; classifiers take n_classes',
    )
  if n_classes is None and label_vocabulary is not None:
    n_classes = len(label_vocabulary)
  if n_classes is not None and not _is_int(n_classes):
    validation.fail('n_classes', 'an int', n_classes, error=exceptions.ArgumentTypeError)
  if label_vocabulary is not None and n_classes is not None and len(label_vocabulary) != n_classes:
    validation.fail(
      'label_vocabulary',
      'a list of n_classes=%d names' % n_classes,
      label_vocabulary,
      'give one name per class',
    )

  if head == HeadNames.BINARY:
    if n_classes not in (None, 2):
      validation.fail(
        'n_classes',
        "2 (or None) for the 'binary' head",
        n_classes,
        "use head='multi_class' for more than 2 classes",
      )
    return binary_class_head(weight_column, label_vocabulary)
  if head == HeadNames.MULTI_CLASS:
    if n_classes is None or n_classes < 3:
      validation.fail(
        'n_classes',
        "an int > 2 for the 'multi_class' head",
        n_classes,
        "use head='binary' for 2 classes" if n_classes == 2 else 'give the number of classes',
      )
    return tf.estimator.MultiClassHead(
      n_classes, weight_column=weight_column, label_vocabulary=label_vocabulary
    )
  # Multi-label.
  if n_classes is None or n_classes < 2:
    validation.fail(
      'n_classes',
      "an int >= 2 for the 'multi_label' head",
      n_classes,
      'give the number of labels each example can have',
    )
  return tf.estimator.MultiLabelHead(
    n_classes, weight_column=weight_column, label_vocabulary=label_vocabulary
  )
