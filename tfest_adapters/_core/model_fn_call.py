"""Calling a model_fn as ``tf.estimator.Estimator._call_model_fn`` calls it.

The Estimator passes a model_fn only the arguments its signature names, among
:data:`VALID_ARGS`, and refuses labels to a model_fn without a ``labels`` argument. The
seeding wrapper of ``make_estimator`` and ``models.dry_run`` call model_fns the same way,
through :func:`call_model_fn`.
"""

# The arguments TF's Estimator passes to a model_fn (estimator.py, _VALID_MODEL_FN_ARGS).
VALID_ARGS = ('features', 'labels', 'mode', 'params', 'config')


def estimator_labels_error():
  """The Estimator's own error for labels given to a model_fn without a labels argument."""
  # estimator.py, Estimator._call_model_fn.
  return ValueError('model_fn does not take labels, but input_fn returns labels.')


def call_model_fn(
  model_fn, args, features, labels, mode, params, config, labels_error=estimator_labels_error
):
  """Returns ``model_fn(features=features, ...)`` with the arguments it takes.

  Args:
    model_fn: the function to call.
    args: the names of its arguments (``tensorflow.python.util.function_utils.fn_args``),
      found once by the caller.
    features, labels, mode, params, config: what the Estimator would pass.
    labels_error: called with no argument when ``labels`` is given to a model_fn without a
      ``labels`` argument; returns the exception to raise (default: the Estimator's).

  Returns:
    What ``model_fn`` returns.
  """
  kwargs = {}
  if 'labels' in args:
    kwargs['labels'] = labels
  elif labels is not None:
    raise labels_error()
  for name, value in (('mode', mode), ('params', params), ('config', config)):
    if name in args:
      kwargs[name] = value
  return model_fn(features=features, **kwargs)
