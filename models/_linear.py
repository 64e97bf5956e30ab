"""linear_classifier_model_fn and linear_regressor_model_fn: canned's linear model on TF's heads.

The model is ``canned/linear.py``'s own ``LinearModel`` (``linear/linear_model/<column>/weights``,
one zero-initialised weight per bucket of a categorical column, ``bias_weights``), built and
summarised as ``_linear_model_fn_builder_v2`` builds it: with the same optimizer, data and
steps a template trains to the canned Estimator's checkpoint, and either warm-starts the other.
"""

import tensorflow as tf
from tensorflow_estimator.python.estimator.canned import linear as canned_linear

from tfest_adapters._core import seeding
from tfest_adapters.models import _group_batch
from tfest_adapters.models import _head_spec
from tfest_adapters.models import _linear_params
from tfest_adapters.models import _loop_gain
from tfest_adapters.models import _networks
from tfest_adapters.models import _optimizers
from tfest_adapters.models import _spec_checks
from tfest_adapters.models import _templates


def _fraction_of_zero(variables):
  """The fraction of zero weights: canned/linear.py's ``_compute_fraction_of_zero``."""
  with tf.name_scope('zero_fraction'):
    with tf.name_scope('total_size'):
      sizes = [tf.compat.v1.size(x, out_type=tf.int64) for x in variables]
      total_size = tf.math.add_n(sizes)
    with tf.name_scope('total_zero'):
      total_zero = tf.math.add_n(
        [
          tf.compat.v1.cond(
            tf.math.equal(size, tf.constant(0, dtype=tf.int64)),
            true_fn=lambda: tf.constant(0, dtype=tf.float32),
            false_fn=lambda x=x, size=size: _networks.zero_fraction(x) * tf.cast(size, tf.float32),
            name='zero_count',
          )
          for x, size in zip(variables, sizes)
        ]
      )
    with tf.name_scope('compute'):
      fraction = total_zero / tf.cast(total_size, tf.float32, name='float32_size')
    return tf.identity(fraction, name='zero_fraction_or_nan')


def linear_logits(features, units, feature_columns, sparse_combiner='sum'):
  """Builds canned's linear model in the current graph; returns ``(logits, linear_model)``.

  As ``canned/linear.py``'s ``_linear_model_fn_builder_v2``: a ``LinearModel`` named
  ``linear/linear_model`` (so that its variables are named as canned's), then the ``bias`` and
  ``fraction_of_zero_weights`` summaries (not built in a group's training loop). Arguments are
  assumed checked.

  Args:
    features: dict of feature name to Tensor or SparseTensor.
    units: the logits' width (the head's ``logits_dimension``).
    feature_columns: tf.feature_column columns, dense or categorical.
    sparse_combiner: 'sum', 'mean' or 'sqrtn': how a multivalent categorical column's weights
      are combined.

  Returns:
    The logits ``[batch_size, units]`` and the model (a Keras layer; its ``variables`` are
    the weights and the bias, all trainable).
  """
  model = canned_linear.LinearModel(
    feature_columns=feature_columns,
    units=units,
    sparse_combiner=sparse_combiner,
    name='linear/linear_model',
  )
  logits = model(features)
  if not _group_batch.in_group_step():
    bias = model.bias
    weights = [v for v in model.variables if v is not bias]
    if units > 1:
      tf.compat.v1.summary.histogram('bias', bias)
    else:
      tf.compat.v1.summary.scalar('bias', bias[0])
    tf.compat.v1.summary.scalar('fraction_of_zero_weights', _fraction_of_zero(weights))
  return logits, model


def _linear_model_fn(features, labels, mode, params, config, check_params, head_fn):
  """Both linear templates, as canned's ``_linear_model_fn_v2``."""
  seeding.seed_graph(getattr(config, 'tf_random_seed', None))
  _spec_checks.mode_name(mode)
  p = check_params(params)
  _templates.check_features_present(features, p.feature_columns, 'feature_columns')
  with _optimizers.eager():  # As canned makes it, in its constructor.
    head = head_fn(p)

  def network(step_features):
    logits, model = linear_logits(
      step_features, head.logits_dimension, p.feature_columns, p.sparse_combiner
    )
    return logits, [model]

  return _head_spec.model_spec(
    head, features, labels, mode, network, p.optimizer_fn, p.steps_per_run
  )


def linear_classifier_model_fn(features, labels, mode, params, config=None):
  """tf.estimator.LinearClassifier as a model_fn: ``Estimator(linear_classifier_model_fn)``.

  The model is canned's linear model, with the same variables; loss, metrics, predictions
  and signatures come from TF's ``BinaryClassHead`` (``n_classes`` 2, the default) or
  ``MultiClassHead``.

  Args:
    features: dict of feature name to Tensor or SparseTensor, from the input_fn; a
      categorical feature may be strings or ints.
    labels: int class ids ``[batch_size]`` or ``[batch_size, 1]`` (strings with
      ``label_vocabulary``); None in PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: dict with ``feature_columns`` (tf.feature_column columns of any kind: numeric,
      bucketized, categorical by vocabulary list or file, identity or hash bucket, crossed,
      weighted categorical, embedding, indicator); optional ``n_classes`` (default 2),
      ``label_vocabulary``, ``weight_column``, ``optimizer`` (default ``'Ftrl'``: a name, a
      Keras or tf.compat.v1 optimizer, or a callable returning one; None: canned's Ftrl
      with its rate capped by the number of columns), ``learning_rate`` (with a name;
      default 0.2 as canned), ``sparse_combiner`` (``'sum'``, the default, ``'mean'`` or
      ``'sqrtn'``) and ``steps_per_run`` (as for classifier_model_fn). Unknown keys and bad
      values raise before any op is built; ``linear_classifier_model_fn.check_params(params)``
      runs the same check without a graph.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph.

  Returns:
    A ``tf.estimator.EstimatorSpec``, as classifier_model_fn's: PREDICT ``class_ids``,
    ``classes``, ``probabilities``, ``logits``, ... and classification and predict
    signatures; EVAL ``loss``, ``accuracy``, ``average_loss``, ... (binary adds auc,
    precision, recall, ...); TRAIN ``loss`` and a train op incrementing the global step.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    education = tf.feature_column.categorical_column_with_vocabulary_list(
        'education', ['Bachelors', 'HS-grad', 'Masters'])
    age = tf.feature_column.bucketized_column(
        tf.feature_column.numeric_column('age'), [25, 40, 60])
    estimator = tf.estimator.Estimator(
        model_fn=linear_classifier_model_fn,
        params=dict(feature_columns=[
            education, age, tf.feature_column.crossed_column([education, age], 50)]))
  """
  return _linear_model_fn(
    features,
    labels,
    mode,
    params,
    config,
    _linear_params.linear_classifier_params,
    _templates.classifier_head,
  )


def linear_regressor_model_fn(features, labels, mode, params, config=None):
  """tf.estimator.LinearRegressor as a model_fn: ``Estimator(linear_regressor_model_fn)``.

  Loss (mean squared error), metrics, predictions and signatures come from TF's
  ``RegressionHead``.

  Args:
    features: dict of feature name to Tensor or SparseTensor, from the input_fn.
    labels: float targets ``[batch_size]`` or ``[batch_size, label_dimension]``; None in
      PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: dict with ``feature_columns``; optional ``label_dimension`` (default 1),
      ``weight_column``, ``optimizer``, ``learning_rate``, ``sparse_combiner`` and
      ``steps_per_run``, as for linear_classifier_model_fn.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph.

  Returns:
    A ``tf.estimator.EstimatorSpec``: PREDICT ``predictions`` ``[batch_size,
    label_dimension]`` with regression and predict signatures; EVAL ``loss``,
    ``average_loss``, ``prediction/mean`` and ``label/mean``; TRAIN ``loss`` and a train op
    incrementing the global step.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    estimator = tf.estimator.Estimator(
        model_fn=linear_regressor_model_fn,
        params=dict(feature_columns=[
            tf.feature_column.numeric_column('sqft'),
            tf.feature_column.categorical_column_with_hash_bucket('zip_code', 1000)]))
  """
  return _linear_model_fn(
    features,
    labels,
    mode,
    params,
    config,
    _linear_params.linear_regressor_params,
    _templates.regressor_head,
  )


_loop_gain.register_template(
  linear_classifier_model_fn, _linear_params.linear_classifier_params, 'feature_columns'
)
_loop_gain.register_template(
  linear_regressor_model_fn, _linear_params.linear_regressor_params, 'feature_columns'
)
