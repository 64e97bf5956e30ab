"""Every project error is a TfestError and also the built-in type the same mistake raises."""

import pytest

from tfest_adapters import exceptions


@pytest.mark.parametrize(
  'cls,builtin',
  [
    (exceptions.ArgumentError, ValueError),
    (exceptions.ArgumentTypeError, TypeError),
    (exceptions.ArgumentKeyError, KeyError),
    (exceptions.SpecError, ValueError),
    (exceptions.TrainingError, RuntimeError),
    (exceptions.ModelDirError, RuntimeError),
    (exceptions.ExportError, RuntimeError),
    (exceptions.ClusterError, RuntimeError),
  ],
)
def test_error_hierarchy(cls, builtin):
  error = cls('x must be y, given: z')
  assert isinstance(error, exceptions.TfestError)
  assert isinstance(error, builtin)


def test_key_error_message_reads_as_prose():
  error = exceptions.ArgumentKeyError("features has no key 'a'")
  assert str(error) == "features has no key 'a'"
