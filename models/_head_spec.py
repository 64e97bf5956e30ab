"""The EstimatorSpec of a template from the network's logits, made by TF's head.

:func:`estimator_spec` is the spec of one batch in any mode (PREDICT, EVAL, TRAIN, in that
order, as TF's own heads write it); :func:`model_spec` is that of one step, or of the in-graph
loop of steps when the input_fn yields groups of batches.
"""

import warnings

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.models import _optimizers
from tfest_adapters.models import _spec_checks
from tfest_adapters.models import _steps_per_run

ModeKeys = tf.estimator.ModeKeys


def _train_op_fn(optimizer_fn, make_train_op, layers):
  """Returns the head's ``train_op_fn``: one optimizer step, incrementing the global step.

  ``optimizer_fn``'s step over all trainable variables, or ``make_train_op(loss, layers)``
  when a template has one (wide and deep: one optimizer per part).
  """

  def train_op_fn(loss):
    if make_train_op is not None:
      return make_train_op(loss, layers)
    return _optimizers.minimize(loss, optimizer_fn())

  return train_op_fn


def _layer_attr(layers, attr):
  """Collects ``updates`` or ``losses`` of Keras layers (the Estimator's graph keeps neither)."""
  values = []
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # `layer.updates` is deprecated, but the way in graphs.
    for layer in layers:
      values.extend(getattr(layer, attr))
  return values


def _unique(values):
  seen, result = set(), []
  for value in values:
    if id(value) not in seen:
      seen.add(id(value))
      result.append(value)
  return result


_DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
_PREDICT_SIGNATURE = 'predict'  # base_head.PREDICT_SERVING_KEY


def _servable_by_default(spec, features):
  """Makes the predict signature the default one when a raw receiver feeds the features.

  TF's heads make the classification (or regression) signature ``serving_default``, but that
  signature takes a single string Tensor of serialized tf.Examples: with a raw serving
  receiver (features fed as they are, ``build_raw_serving_input_receiver_fn``) the SavedModel
  builder drops it and the export has no default signature at all. In that case only,
  ``serving_default`` becomes the head's predict signature; with a tf.Example receiver it
  stays classification/regression.
  """
  outputs = spec.export_outputs or {}
  if (
    isinstance(outputs.get(_DEFAULT_SIGNATURE), tf.estimator.export.PredictOutput)
    or _PREDICT_SIGNATURE not in outputs
  ):
    return spec
  tensors = tf.nest.flatten(features)
  raw = tensors and all(
    getattr(getattr(t, 'op', None), 'type', None) in ('Placeholder', 'PlaceholderWithDefault')
    for t in tensors
  )
  if not raw or (len(tensors) == 1 and tensors[0].dtype == tf.string):
    return spec
  outputs = dict(outputs)
  outputs[_DEFAULT_SIGNATURE] = outputs[_PREDICT_SIGNATURE]
  return spec._replace(export_outputs=outputs)


def _validate_labels(labels, mode):
  if labels is None:
    raise exceptions.ArgumentError(
      '%s needs labels, but the input_fn returned none: return (features, labels) from the '
      'input_fn, or a tf.data.Dataset of (features, labels) pairs' % _spec_checks.mode_name(mode)
    )


def _class_labels(head):
  """(n_classes, label_vocabulary) of TF's single-label classification heads, else None."""
  if isinstance(head, tf.estimator.MultiClassHead):
    return head._n_classes, head._label_vocabulary  # TF's heads have no public ones.
  if isinstance(head, tf.estimator.BinaryClassHead):
    return 2, head._label_vocabulary
  return None


def _checked_labels(head, labels, mode):
  """Classifier labels checked with clear messages: dtype now, class id range per batch.

  TF's heads say "Labels dtype should be integer" for float or string labels, and check the
  range with an assertion on the tensor name. Here the dtype error names what to do, and the
  range check (run with every step, before the head's) gives the smallest and largest label
  of the offending batch.
  """
  classes = _class_labels(head)
  if classes is None or not isinstance(labels, tf.Tensor):
    return labels
  n_classes, vocabulary = classes
  name = 'labels (%s)' % _spec_checks.mode_name(mode)
  if vocabulary is not None:
    if labels.dtype != tf.string:
      validation.fail(
        name,
        'strings from label_vocabulary %s' % list(vocabulary),
        labels,
        'Give the class names as strings, or drop label_vocabulary to use '
        'int class ids 0..%d' % (n_classes - 1),
        error=exceptions.ArgumentTypeError,
      )
    return labels
  if labels.dtype == tf.string:
    validation.fail(
      name,
      'int class ids 0..%d (n_classes=%d)' % (n_classes - 1, n_classes),
      labels,
      'String labels need label_vocabulary (the class names, e.g. '
      "params['label_vocabulary']=['setosa', 'versicolor', 'virginica']), or "
      'map them to int ids first',
      error=exceptions.ArgumentTypeError,
    )
  if not labels.dtype.is_integer:
    validation.fail(
      name,
      'int class ids 0..%d (n_classes=%d)' % (n_classes - 1, n_classes),
      labels,
      'Cast whole-number labels to int (y.astype("int64")); a '
      'classifier does not take fractional labels',
      error=exceptions.ArgumentTypeError,
    )
  in_range = tf.reduce_all(tf.logical_and(labels >= 0, labels < n_classes))
  check = tf.debugging.Assert(
    in_range,
    [
      'labels must be class ids from 0 to %d (n_classes=%d); given a batch with labels from'
      % (n_classes - 1, n_classes),
      tf.reduce_min(labels),
      'to',
      tf.reduce_max(labels),
    ],
    name='check_label_ids',
  )
  with tf.control_dependencies([check]):
    return tf.identity(labels)


def _regularization_losses(layers):
  """The losses added to the training loss: Keras layers' and the graph collection's."""
  return _unique(
    _layer_attr(layers, 'losses')
    + tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
  )


def estimator_spec(
  head, features, labels, mode, logits, optimizer_fn, layers=(), make_train_op=None
):
  """The EstimatorSpec for ``mode``, from the network's logits, by TF's ``head``.

  Args:
    head: a ``tf.estimator.Head``.
    features: the features the model_fn got (the head reads its weight column there).
    labels: the labels the model_fn got (None in PREDICT).
    mode: a ``tf.estimator.ModeKeys`` value.
    logits: the network's output, ``[batch_size, head.logits_dimension]``.
    optimizer_fn: makes the optimizer in TRAIN (see ``_optimizers.make_optimizer_fn``).
    layers: Keras layers of the network, whose update ops (batch normalisation) run with the
      train op and whose losses (regularizers) are added to the loss.
    make_train_op: None, or ``make_train_op(loss, layers)`` returning the train op of one
      step (it increments the global step once), used instead of ``optimizer_fn``.

  Returns:
    A ``tf.estimator.EstimatorSpec``.
  """
  head_features = features if isinstance(features, dict) else {}
  # Predict.
  if mode == ModeKeys.PREDICT:
    return _servable_by_default(
      head.create_estimator_spec(features=head_features, mode=mode, logits=logits), features
    )
  _validate_labels(labels, mode)
  labels = _checked_labels(head, labels, mode)
  regularization_losses = _regularization_losses(layers) or None
  # Eval.
  if mode == ModeKeys.EVAL:
    return head.create_estimator_spec(
      features=head_features,
      mode=mode,
      logits=logits,
      labels=labels,
      regularization_losses=regularization_losses,
    )
  # Train.
  update_ops = _unique(
    _layer_attr(layers, 'updates') + tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  )
  return head.create_estimator_spec(
    features=head_features,
    mode=mode,
    logits=logits,
    labels=labels,
    train_op_fn=_train_op_fn(optimizer_fn, make_train_op, layers),
    update_ops=update_ops,
    regularization_losses=regularization_losses,
  )


def model_spec(
  head, features, labels, mode, network, optimizer_fn, steps_per_run=1, make_train_op=None
):
  """The spec of one step; of a loop of steps when the input_fn yields groups of batches.

  ``network(features)`` builds the network and returns ``(logits, keras_layers)``. With a
  group of batches (``steps_per_run``, see :mod:`._steps_per_run`), TRAIN runs one
  :func:`estimator_spec` step per batch of the group in an in-graph loop. ``make_train_op``:
  as for :func:`estimator_spec`.
  """

  def make_spec(step_features, step_labels, logits, layers, step_head=None):
    return estimator_spec(
      step_head or head,
      step_features,
      step_labels,
      mode,
      logits,
      optimizer_fn,
      layers,
      make_train_op,
    )

  return _steps_per_run.model_spec(
    features, labels, mode, network, make_spec, head, _regularization_losses, steps_per_run
  )
