"""wide_deep_classifier_model_fn and wide_deep_regressor_model_fn: canned's wide and deep.

The model is ``canned/dnn_linear_combined.py``'s, built in its order: the DNN of the DNN
templates (``dnn/...``), then canned's linear model (``linear/linear_model/...``), their logits
added. Each part has its own optimizer (by default Ftrl for the linear part and Adagrad for the
DNN, at canned's default learning rates); one train op groups both updates. As in canned, the
DNN optimizer's step increments the global step and the linear optimizer counts its own steps
(``training/Ftrl/iter``); with only a linear part, its optimizer steps the global step.
"""

import tensorflow as tf

from tfest_adapters._core import seeding
from tfest_adapters.models import _head_spec
from tfest_adapters.models import _linear
from tfest_adapters.models import _loop_gain
from tfest_adapters.models import _networks
from tfest_adapters.models import _optimizers
from tfest_adapters.models import _spec_checks
from tfest_adapters.models import _templates
from tfest_adapters.models import _wide_deep_params


def _train_op_maker(p):
  """``make_train_op(loss, layers)``: the DNN's step, then the linear part's, grouped.

  ``layers`` are the step's ``[dnn_model, linear_model]`` (either may be absent, as its part).
  As canned's ``_train_op_fn``; the DNN's update ops (batch normalisation) are the head's.
  """

  def make_train_op(loss, layers):
    layers = list(layers)
    train_ops = []
    if p.dnn_feature_columns:
      dnn_model = layers.pop(0)
      train_ops.append(
        _optimizers.minimize(loss, p.dnn_optimizer_fn(), dnn_model.trainable_variables)
      )
    if p.linear_feature_columns:
      linear_model = layers.pop(0)
      if p.dnn_feature_columns:  # A second optimizer: its own step count.
        train_ops.append(
          _optimizers.minimize(
            loss,
            p.linear_optimizer_fn.with_own_step(),
            linear_model.trainable_variables,
            global_step=False,
          )
        )
      else:
        train_ops.append(
          _optimizers.minimize(loss, p.linear_optimizer_fn(), linear_model.trainable_variables)
        )
    return tf.group(*train_ops)

  return make_train_op


def _wide_deep_model_fn(features, labels, mode, params, config, check_params, head_fn):
  """Both wide-and-deep templates, as canned's ``_dnn_linear_combined_model_fn_v2``."""
  seeding.seed_graph(getattr(config, 'tf_random_seed', None))
  _spec_checks.mode_name(mode)
  p = check_params(params)
  _templates.check_features_present(
    features,
    p.linear_feature_columns + p.dnn_feature_columns,
    'linear_feature_columns or dnn_feature_columns',
  )
  with _optimizers.eager():  # As canned makes it, in its constructor.
    head = head_fn(p)

  def network(step_features):
    """The DNN, then the linear model, in canned's order (the same random op seeds)."""
    logits, layers = [], []
    if p.dnn_feature_columns:
      dnn_logits, dnn_model = _networks.dnn_logits(
        step_features,
        mode,
        head.logits_dimension,
        p.dnn_hidden_units,
        p.dnn_feature_columns,
        p.dnn_activation_fn,
        p.dnn_dropout,
        p.batch_norm,
      )
      logits.append(dnn_logits)
      layers.append(dnn_model)
    if p.linear_feature_columns:
      linear_logits, linear_model = _linear.linear_logits(
        step_features, head.logits_dimension, p.linear_feature_columns, p.linear_sparse_combiner
      )
      _networks.add_layer_summary(linear_logits, 'linear')
      logits.append(linear_logits)
      layers.append(linear_model)
    return (logits[0] + logits[1] if len(logits) == 2 else logits[0]), layers

  return _head_spec.model_spec(
    head,
    features,
    labels,
    mode,
    network,
    None,
    p.steps_per_run,
    make_train_op=_train_op_maker(p),
  )


def wide_deep_classifier_model_fn(features, labels, mode, params, config=None):
  """tf.estimator.DNNLinearCombinedClassifier as a model_fn.

  Usable as it is: ``Estimator(model_fn=wide_deep_classifier_model_fn, params=...)``. The
  model is canned's wide and deep one, with the same variables and two optimizers; loss,
  metrics, predictions and signatures come from TF's ``BinaryClassHead`` (``n_classes`` 2,
  the default) or ``MultiClassHead``.

  Args:
    features: dict of feature name to Tensor or SparseTensor, from the input_fn; a
      categorical feature may be strings or ints.
    labels: int class ids ``[batch_size]`` or ``[batch_size, 1]`` (strings with
      ``label_vocabulary``); None in PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: dict with ``linear_feature_columns`` (any kind: categorical, crossed, bucketized,
      numeric, ...) or ``dnn_feature_columns`` (dense: numeric, embedding, indicator,
      bucketized) or both, and ``dnn_hidden_units`` with DNN columns. Optional:
      ``linear_optimizer`` (default ``'Ftrl'``) and ``linear_learning_rate`` (with a name;
      default ``min(0.005, 1/sqrt(len(linear_feature_columns)))`` as canned),
      ``linear_sparse_combiner`` (default ``'sum'``), ``dnn_optimizer`` (default
      ``'Adagrad'``) and ``dnn_learning_rate`` (with a name; default 0.001 as canned),
      ``dnn_activation_fn`` (default relu), ``dnn_dropout``, ``batch_norm``, ``n_classes``
      (default 2), ``label_vocabulary``, ``weight_column``, ``steps_per_run``. Each optimizer
      is a name, a Keras or tf.compat.v1 optimizer, or a callable returning one. Unknown keys
      and bad values raise before any op is built;
      ``wide_deep_classifier_model_fn.check_params(params)`` runs the same check without a
      graph.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph and Keras.

  Returns:
    A ``tf.estimator.EstimatorSpec``, as classifier_model_fn's; the TRAIN op updates both
    parts and increments the global step once.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    occupation = tf.feature_column.categorical_column_with_hash_bucket('occupation', 100)
    education = tf.feature_column.categorical_column_with_vocabulary_list(
        'education', ['Bachelors', 'HS-grad', 'Masters'])
    estimator = tf.estimator.Estimator(
        model_fn=wide_deep_classifier_model_fn,
        params=dict(
            linear_feature_columns=[
                occupation, education,
                tf.feature_column.crossed_column([occupation, education], 1000)],
            dnn_feature_columns=[tf.feature_column.numeric_column('age'),
                                 tf.feature_column.embedding_column(occupation, 8)],
            dnn_hidden_units=[32, 16]))
  """
  return _wide_deep_model_fn(
    features,
    labels,
    mode,
    params,
    config,
    _wide_deep_params.wide_deep_classifier_params,
    _templates.classifier_head,
  )


def wide_deep_regressor_model_fn(features, labels, mode, params, config=None):
  """tf.estimator.DNNLinearCombinedRegressor as a model_fn.

  Usable as it is: ``Estimator(model_fn=wide_deep_regressor_model_fn, params=...)``; loss
  (mean squared error), metrics, predictions and signatures come from TF's
  ``RegressionHead``.

  Args:
    features: dict of feature name to Tensor or SparseTensor, from the input_fn.
    labels: float targets ``[batch_size]`` or ``[batch_size, label_dimension]``; None in
      PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: the columns, hidden units and optimizers as for wide_deep_classifier_model_fn;
      optional ``label_dimension`` (default 1), ``weight_column`` and ``steps_per_run``.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph and Keras.

  Returns:
    A ``tf.estimator.EstimatorSpec``, as regressor_model_fn's; the TRAIN op updates both
    parts and increments the global step once.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    estimator = tf.estimator.Estimator(
        model_fn=wide_deep_regressor_model_fn,
        params=dict(
            linear_feature_columns=[
                tf.feature_column.categorical_column_with_hash_bucket('zip_code', 1000)],
            dnn_feature_columns=[tf.feature_column.numeric_column('sqft')],
            dnn_hidden_units=[16], dnn_optimizer='Adam', dnn_learning_rate=0.01))
  """
  return _wide_deep_model_fn(
    features,
    labels,
    mode,
    params,
    config,
    _wide_deep_params.wide_deep_regressor_params,
    _templates.regressor_head,
  )


_loop_gain.register_template(
  wide_deep_classifier_model_fn,
  _wide_deep_params.wide_deep_classifier_params,
  'linear_feature_columns',
)
_loop_gain.register_template(
  wide_deep_regressor_model_fn,
  _wide_deep_params.wide_deep_regressor_params,
  'linear_feature_columns',
)
