"""classifier_model_fn and regressor_model_fn: the canned DNN on one of TF's heads.

Both are model_fns usable as they are (``Estimator(model_fn=classifier_model_fn, params=...)``),
configured by ``params``, which they check before building any op.
"""

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import seeding
from tfest_adapters._core import validation
from tfest_adapters.models import _head_spec
from tfest_adapters.models import _heads
from tfest_adapters.models import _loop_gain
from tfest_adapters.models import _networks
from tfest_adapters.models import _optimizers
from tfest_adapters.models import _params
from tfest_adapters.models import _spec_checks


def check_features_present(features, feature_columns, params_key):
  """Names the features ``feature_columns`` need that are missing, before TF fails deeper.

  ``params_key`` names the params key (or keys, as 'a or b') the columns came from.
  """
  if not isinstance(features, dict):
    validation.fail(
      'features',
      'a dict of feature name to Tensor',
      features,
      'return a dict from the input_fn, e.g. ({"x": x}, labels)',
      error=exceptions.ArgumentTypeError,
    )
  needed = tf.feature_column.make_parse_example_spec(feature_columns)
  present = groups.feature_keys(features)
  missing = sorted(k for k in needed if k not in present)
  if missing:
    raise exceptions.ArgumentKeyError(
      'features has no %s, which params["%s"] uses; the input_fn returned features %s: '
      'return those features from the input_fn, or fix params["%s"]'
      % (', '.join(repr(k) for k in missing), params_key, sorted(present), params_key)
    )


def _dnn_model_fn(features, labels, mode, params, config, check_params, head_fn):
  """classifier_model_fn and regressor_model_fn: the canned DNN on a head from params."""
  seeding.seed_graph(getattr(config, 'tf_random_seed', None))
  _spec_checks.mode_name(mode)
  p = check_params(params)
  check_features_present(
    features, p.feature_columns, 'feature_keys' if 'feature_keys' in params else 'feature_columns'
  )
  # The head is made eagerly, as the canned Estimator makes it in its constructor: heads are
  # graph-agnostic, and the graph then holds the same ops, in the same order, as canned's.
  with _optimizers.eager():
    head = head_fn(p)

  def network(step_features):
    logits, model = _networks.dnn_logits(
      step_features,
      mode,
      head.logits_dimension,
      p.hidden_units,
      p.feature_columns,
      p.activation,
      p.dropout,
      p.batch_norm,
    )
    return logits, [model]

  return _head_spec.model_spec(
    head, features, labels, mode, network, p.optimizer_fn, p.steps_per_run
  )


def classifier_head(p):
  """TF's head of checked classifier params ``p``: binary for 2 classes, else multi-class."""
  if p.n_classes == 2:
    return _heads.binary_class_head(p.weight_column, p.label_vocabulary, p.auc_num_thresholds)
  return tf.estimator.MultiClassHead(
    p.n_classes, weight_column=p.weight_column, label_vocabulary=p.label_vocabulary
  )


def regressor_head(p):
  """TF's regression head of checked regressor params ``p``."""
  return tf.estimator.RegressionHead(
    label_dimension=p.label_dimension, weight_column=p.weight_column
  )


def classifier_model_fn(features, labels, mode, params, config=None):
  """A DNN classifier model_fn, usable as it is: ``Estimator(model_fn=classifier_model_fn)``.

  The network is tf.estimator.DNNClassifier's (same layers, initialisation, variable names,
  dropout only in TRAIN); loss, metrics, predictions and signatures come from TF's
  ``MultiClassHead`` (``BinaryClassHead`` when ``n_classes`` is 2).

  Args:
    features: dict of feature name to Tensor, from the input_fn.
    labels: int class ids ``[batch_size]`` or ``[batch_size, 1]`` (strings with
      ``label_vocabulary``); None in PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: dict with ``feature_keys`` (numeric feature names) or ``feature_columns``,
      ``hidden_units`` (e.g. ``[10, 10]``) and ``n_classes`` (or ``label_vocabulary``);
      optional ``optimizer`` (default ``'Adagrad'``), ``learning_rate`` (default: the
      optimizer's own), ``dropout``, ``activation`` (default relu), ``batch_norm``,
      ``weight_column``, ``steps_per_run`` (default 1: training steps per ``session.run``;
      the input builders of ``tfest_adapters.input_fns`` then yield groups of that many
      batches, which TRAIN trains in an in-graph loop, with the same maths as one step per
      run; see ``tfest_adapters.models._steps_per_run``). Unknown keys and bad values raise
      before any op is built
      (``classifier_model_fn.check_params(params)`` runs the same check without a graph).
      The Estimator deep-copies params, which a new-style Keras optimizer refuses:
      ``make_estimator`` converts an optimizer object there with ``make_optimizer_fn``; with
      ``tf.estimator.Estimator`` put a name, ``make_optimizer_fn(optimizer)`` or a callable
      such as ``lambda: tf.keras.optimizers.Adam(0.01)`` there. Without ``learning_rate`` the
      optimizer is tf.estimator.DNNClassifier's default, Adagrad at Keras' 0.001: slow for a
      small network (README.md shows what it costs); 0.05 to 0.1 suit small data.
      ``auc_num_thresholds`` (binary only, default TF's 200): see EVAL below.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph and Keras.

  Returns:
    A ``tf.estimator.EstimatorSpec``. PREDICT: ``predictions`` with ``class_ids``
    ``[batch_size, 1]``, ``classes`` (str), ``probabilities``, ``logits``, ``all_class_ids``,
    ``all_classes`` (binary adds ``logistic``), and ``export_outputs`` with a classification
    signature as ``serving_default`` (and as ``classification``) and a ``predict`` signature.
    EVAL: ``loss`` and ``eval_metric_ops`` with ``accuracy`` and ``average_loss`` (binary adds
    auc, precision, recall, ...). ``evaluate`` reports ``loss`` as the mean of the batches'
    mean losses and ``average_loss`` as the mean over examples (weighted by
    ``weight_column``): they differ when the last batch is smaller than the others, or with
    weights. Binary
    ``auc`` and ``auc_precision_recall`` are TF's approximation with 200 evenly spaced
    thresholds, which reads low when many probabilities lie close to 0 or 1;
    ``params['auc_num_thresholds']`` (e.g. 10000) makes it finer. TRAIN: ``loss`` and a
    ``train_op`` that increments the global step.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    estimator = tf.estimator.Estimator(
        model_fn=classifier_model_fn,
        params=dict(feature_keys=['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth'],
                    hidden_units=[10, 10], n_classes=3, optimizer='Adagrad',
                    learning_rate=0.1))
    estimator.train(train_input_fn, steps=1000)
  """
  return _dnn_model_fn(
    features, labels, mode, params, config, _params.classifier_params, classifier_head
  )


def regressor_model_fn(features, labels, mode, params, config=None):
  """A DNN regressor model_fn, usable as it is: ``Estimator(model_fn=regressor_model_fn)``.

  The network is tf.estimator.DNNRegressor's; loss (mean squared error), metrics,
  predictions and signatures come from TF's ``RegressionHead``.

  Args:
    features: dict of feature name to Tensor, from the input_fn.
    labels: float targets ``[batch_size]`` or ``[batch_size, label_dimension]``; None in
      PREDICT.
    mode: a ``tf.estimator.ModeKeys`` value.
    params: dict with ``feature_keys`` or ``feature_columns`` and ``hidden_units``; optional
      ``label_dimension`` (default 1), ``optimizer``, ``learning_rate``, ``dropout``,
      ``activation``, ``batch_norm``, ``weight_column``, ``steps_per_run``, as for
      classifier_model_fn.
    config: the Estimator's RunConfig; its ``tf_random_seed`` seeds the graph and Keras.

  Returns:
    A ``tf.estimator.EstimatorSpec``. PREDICT: ``predictions`` with ``predictions``
    ``[batch_size, label_dimension]`` and ``export_outputs`` with a regression signature as
    ``serving_default`` (and as ``regression``) and a ``predict`` signature. EVAL: ``loss``
    and ``eval_metric_ops`` with ``average_loss``, ``prediction/mean`` and ``label/mean``
    (``loss`` is the mean of the batches' mean losses, ``average_loss`` the mean over
    examples).
    TRAIN: ``loss`` and a ``train_op`` that increments the global step.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad params, missing features or labels.

  Example:

    estimator = tf.estimator.Estimator(
        model_fn=regressor_model_fn,
        params=dict(feature_keys=['x1', 'x2'], hidden_units=[16], optimizer='Adam',
                    learning_rate=0.01))
  """
  return _dnn_model_fn(
    features, labels, mode, params, config, _params.regressor_params, regressor_head
  )


_loop_gain.register_template(classifier_model_fn, _params.classifier_params)
_loop_gain.register_template(regressor_model_fn, _params.regressor_params)
