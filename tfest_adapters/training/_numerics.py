"""check_numerics: an input_fn whose float features and labels are checked to be finite."""

import re

import tensorflow as tf

CHECK_NUMERICS_TAG = 'tfest check_numerics: '


def _checked(value, name):
  if isinstance(value, tf.Tensor) and value.dtype.is_floating:
    return tf.debugging.check_numerics(value, CHECK_NUMERICS_TAG + name)
  if isinstance(value, tf.SparseTensor) and value.values.dtype.is_floating:
    return tf.SparseTensor(
      value.indices,
      tf.debugging.check_numerics(value.values, CHECK_NUMERICS_TAG + name),
      value.dense_shape,
    )
  return value


def _check_structure(value, group):
  if isinstance(value, dict):
    return {key: _check_structure(v, '%s[%r]' % (group, key)) for key, v in value.items()}
  return _checked(value, group)


def _check_element(element):
  if isinstance(element, tuple) and len(element) == 2:
    return (_check_structure(element[0], 'features'), _check_structure(element[1], 'labels'))
  if isinstance(element, tuple) and len(element) == 1:
    return (_check_structure(element[0], 'features'),)
  return _check_structure(element, 'features')


def check_numerics_input_fn(input_fn):
  """Wraps an input_fn so that its float features and labels are checked to be finite.

  Every float Tensor (and SparseTensor's values) of ``(features, labels)`` goes through
  ``tf.debugging.check_numerics``: the first batch holding a NaN or Inf fails before the
  model sees it, with an ``InvalidArgumentError`` naming it (``features['x']``); :func:`fit`
  turns that into a TrainingError with the step.

  Args:
    input_fn: an Estimator input_fn (returning a ``tf.data.Dataset`` or a
      ``(features, labels)`` pair).

  Returns:
    An input_fn taking what ``input_fn`` takes among ``mode``, ``params``, ``config`` and
    ``input_context`` and returning the same structure, checked.
  """
  from tensorflow.python.util import function_utils

  args = set(function_utils.fn_args(input_fn))

  def checked_input_fn(mode=None, params=None, config=None, input_context=None):
    given = dict(mode=mode, params=params, config=config, input_context=input_context)
    result = input_fn(**{k: v for k, v in given.items() if k in args})
    if isinstance(result, tf.data.Dataset):

      @tf.autograph.experimental.do_not_convert
      def check(*element):
        return _check_element(element[0] if len(element) == 1 else element)

      return result.map(check)
    return _check_element(result)

  return checked_input_fn


_CHECK_NUMERICS_RE = re.compile(re.escape(CHECK_NUMERICS_TAG) + r'(.+?) : Tensor had (.+?) values')


def check_numerics_failure(error):
  """(input name, 'NaN'/'Inf'/...) when ``error`` comes from check_numerics_input_fn."""
  match = _CHECK_NUMERICS_RE.search(str(getattr(error, 'message', error)))
  if not match:
    return None
  return match.group(1), match.group(2)
