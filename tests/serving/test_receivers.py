"""Serving receivers (tfest_adapters/serving/_receivers.py), and the serving modules' imports."""

import ast

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT
from tfest_adapters.serving import _receivers

# Each serving module and the serving modules it may import: imports point one way.
_SERVING_IMPORTS = {
  '_packed': set(),
  '_receivers': set(),
  '_session': {'_packed', '_receivers'},
  '_export': {'_receivers', '_session'},
  '_predictor': {'_export', '_session'},
}


def test_raw_receiver_keeps_row_shapes_and_dtypes():
  receiver_fn = _receivers.build_serving_input_receiver_fn(
    sample_features={
      'image': np.zeros((2, 3, 4), np.float16),
      'word': np.array(['a', 'b']),
      'Sepal Length': np.array([1, 2], np.int32),
    }
  )
  with tf.Graph().as_default():
    receiver = receiver_fn()
  shapes = {k: (t.dtype, t.shape.as_list()) for k, t in receiver.receiver_tensors.items()}
  assert shapes == {
    'image': (tf.float16, [None, 3, 4]),
    'word': (tf.string, [None]),
    'Sepal Length': (tf.int32, [None]),
  }


def _serving_imports(path):
  """The serving modules ``path`` imports, wherever the import statement is."""
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module == 'tfest_adapters.serving':
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith(
      'tfest_adapters.serving.'
    ):
      names.add(node.module.split('.')[2])
  return names


@pytest.mark.parametrize('module, allowed', sorted(_SERVING_IMPORTS.items()))
def test_serving_imports_point_one_way(module, allowed):
  path = REPO_ROOT / 'tfest_adapters' / 'serving' / (module + '.py')
  assert _serving_imports(path) <= allowed
