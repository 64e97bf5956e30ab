"""Input side: builders that return input_fns for ``tf.estimator.Estimator``, on tf.data.

Every builder returns an ``input_fn`` that an Estimator accepts for ``train``, ``evaluate``
and ``predict`` (it takes the ``mode``, ``params``, ``config`` and ``input_context`` the
Estimator passes, and can be called with no arguments), returning a ``tf.data.Dataset`` that
can also be iterated in a ``tf.compat.v1`` graph with a one-shot iterator. In-memory data
(``numpy_input_fn``, ``pandas_input_fn``, ``tensor_slices_input_fn``) is read batch by batch
in Python and never copied into the graph; files (``csv_input_fn``, ``tfrecord_input_fn``)
are read with tf.data's readers. In multi-worker training each worker reads its own shard.
"""

from tfest_adapters.input_fns._grouping import group_batches
from tfest_adapters.input_fns.file_io import TFRecordFiles
from tfest_adapters.input_fns.file_io import csv_input_fn
from tfest_adapters.input_fns.file_io import tfrecord_input_fn
from tfest_adapters.input_fns.file_io import write_tfrecords
from tfest_adapters.input_fns.numpy_io import numpy_input_fn
from tfest_adapters.input_fns.pandas_io import pandas_input_fn
from tfest_adapters.input_fns.tensor_slices import tensor_slices_input_fn

__all__ = [
  'numpy_input_fn',
  'pandas_input_fn',
  'tensor_slices_input_fn',
  'csv_input_fn',
  'tfrecord_input_fn',
  'write_tfrecords',
  'TFRecordFiles',
  'group_batches',
]
