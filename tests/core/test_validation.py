"""The shared argument checks and their messages."""

import numpy as np
import pytest

from tfest_adapters import exceptions
from tfest_adapters._core import validation as v

_ARGUMENT = exceptions.ArgumentError
_TYPE = exceptions.ArgumentTypeError


@pytest.mark.parametrize(
  'check, args, error, message',
  [
    *[
      pytest.param(
        v.check_positive_int,
        ('batch_size', value),
        _ARGUMENT,
        r'^batch_size must be a positive int, given: ',
        id='positive_int %r' % value,
      )
      for value in (0, -3, 1.5, True, '2', None)
    ],
    (
      v.check_non_negative_int,
      ('num_epochs', -1),
      _ARGUMENT,
      r'^num_epochs must be a non-negative int, given: -1$',
    ),
    (v.check_optional_positive_int, ('steps', 0), _ARGUMENT, '^steps must be a positive int'),
    (v.check_bool, ('shuffle', 1), _TYPE, r'^shuffle must be a bool, given: 1$'),
    *[
      pytest.param(
        v.check_positive_number,
        ('learning_rate', value),
        _ARGUMENT,
        '^learning_rate must be a positive finite number',
        id='positive_number %r' % value,
      )
      for value in (0, -1.0, float('nan'), float('inf'), True, 'x')
    ],
    (
      v.check_one_of,
      ('mode', 'avg', ('min', 'max')),
      _ARGUMENT,
      r"^mode must be one of 'min', 'max', given: 'avg'$",
    ),
    (v.check_callable, ('model_fn', 3), _TYPE, r'^model_fn must be callable, given: 3$'),
  ],
)
def test_refusals(check, args, error, message):
  with pytest.raises(error, match=message):
    check(*args)


@pytest.mark.parametrize(
  'check, args, expected',
  [
    (v.check_positive_int, ('n', np.int64(3)), 3),
    (v.check_non_negative_int, ('num_epochs', 0), 0),
    (v.check_optional_positive_int, ('steps', None), None),
    (v.check_bool, ('shuffle', False), False),
    (v.check_one_of, ('mode', 'min', ('min', 'max')), 'min'),
  ],
)
def test_accepted_values_are_returned(check, args, expected):
  result = check(*args)
  assert result == expected and type(result) is type(expected)


def test_check_positive_int_message_is_exact():
  with pytest.raises(exceptions.ArgumentError) as info:
    v.check_positive_int('batch_size', 0, fix='Use e.g. batch_size=32')
  assert str(info.value) == 'batch_size must be a positive int, given: 0. Use e.g. batch_size=32'


def test_describe_arrays_and_long_values():
  assert v.describe(np.zeros((2, 3), np.float32)) == ('ndarray of shape (2, 3) and dtype float32')
  assert v.describe('a' * 200).endswith('...')
  assert v.describe([1, 2]) == '[1, 2] (list)'
