"""The shared argument checks and their messages."""

import numpy as np
import pytest

from tfest_adapters._core import validation as v
from tfest_adapters import exceptions


@pytest.mark.parametrize('value', [0, -3, 1.5, True, '2', None])
def test_check_positive_int_refuses(value):
  with pytest.raises(exceptions.ArgumentError,
                     match=r'^batch_size must be a positive int, given: '):
    v.check_positive_int('batch_size', value)


def test_check_positive_int_message_is_exact():
  with pytest.raises(exceptions.ArgumentError) as info:
    v.check_positive_int('batch_size', 0, fix='Use e.g. batch_size=32')
  assert str(info.value) == 'batch_size must be a positive int, given: 0. Use e.g. batch_size=32'


def test_check_positive_int_accepts_numpy_ints():
  assert v.check_positive_int('n', np.int64(3)) == 3


def test_check_non_negative_int():
  assert v.check_non_negative_int('num_epochs', 0) == 0
  with pytest.raises(exceptions.ArgumentError,
                     match=r'^num_epochs must be a non-negative int, given: -1$'):
    v.check_non_negative_int('num_epochs', -1)


def test_check_optional_positive_int():
  assert v.check_optional_positive_int('steps', None) is None
  with pytest.raises(exceptions.ArgumentError, match='^steps must be a positive int'):
    v.check_optional_positive_int('steps', 0)


def test_check_bool_refuses_ints():
  with pytest.raises(exceptions.ArgumentTypeError, match=r'^shuffle must be a bool, given: 1$'):
    v.check_bool('shuffle', 1)
  assert v.check_bool('shuffle', False) is False


@pytest.mark.parametrize('value', [0, -1.0, float('nan'), float('inf'), True, 'x'])
def test_check_positive_number_refuses(value):
  with pytest.raises(exceptions.ArgumentError,
                     match='^learning_rate must be a positive finite number'):
    v.check_positive_number('learning_rate', value)


def test_check_one_of():
  assert v.check_one_of('mode', 'min', ('min', 'max')) == 'min'
  with pytest.raises(exceptions.ArgumentError,
                     match=r"^mode must be one of 'min', 'max', given: 'avg'$"):
    v.check_one_of('mode', 'avg', ('min', 'max'))


def test_check_callable():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r"^model_fn must be callable, given: 3$"):
    v.check_callable('model_fn', 3)


def test_describe_arrays_and_long_values():
  assert v.describe(np.zeros((2, 3), np.float32)) == (
      'ndarray of shape (2, 3) and dtype float32')
  assert v.describe('a' * 200).endswith("...")
  assert v.describe([1, 2]) == '[1, 2] (list)'
