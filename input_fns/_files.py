"""What the file readers share: file patterns, argument checks, and records to batches.

Both readers are mode-aware: TRAIN shuffles and repeats, EVAL and PREDICT make one ordered
pass. Records are batched first and parsed a batch at a time; in multi-worker training each
worker reads its own files (or, with fewer files than workers, its own records).
"""

import os

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _checks
from tfest_adapters.input_fns import _sharding

_ModeKeys = tf.estimator.ModeKeys

COMPRESSION_TYPES = (None, '', 'GZIP', 'ZLIB')


def expand_files(file_pattern):
  """Expands a pattern (or a list of them) into the sorted list of matching files."""
  if isinstance(file_pattern, str):
    patterns = [file_pattern]
  elif (
    isinstance(file_pattern, (list, tuple))
    and file_pattern
    and all(isinstance(p, str) for p in file_pattern)
  ):
    patterns = list(file_pattern)
  else:
    validation.fail(
      'file_pattern',
      'a glob pattern or a non-empty list of them',
      file_pattern,
      error=exceptions.ArgumentTypeError,
    )
  files = sorted(set(f for p in patterns for f in tf.io.gfile.glob(p)))
  if not files:
    validation.fail(
      'file_pattern',
      'a pattern matching at least one file',
      file_pattern,
      'Check the path (relative paths start from %s)' % os.getcwd(),
    )
  return files


def validate_reading(
  batch_size, shuffle, num_epochs, seed, drop_remainder, shuffle_buffer_size, num_parallel_reads
):
  """Checks the reading arguments of both readers; returns ``(batch_size, num_epochs, seed)``."""
  batch_size = _checks.validate_batch_size(batch_size)
  validation.check_bool('shuffle', shuffle)
  num_epochs = _checks.validate_num_epochs(num_epochs)
  seed = _checks.validate_seed(seed)
  validation.check_bool('drop_remainder', drop_remainder)
  _checks.positive_int('shuffle_buffer_size', shuffle_buffer_size)
  _checks.positive_int('num_parallel_reads', num_parallel_reads)
  return batch_size, num_epochs, seed


def validate_label_key(label_key, names, where):
  """None, or one of ``names`` (described as ``where`` in the error)."""
  if label_key is None:
    return None
  if not isinstance(label_key, str):
    validation.fail('label_key', 'a str or None', label_key, error=exceptions.ArgumentTypeError)
  if label_key not in names:
    raise exceptions.ArgumentKeyError(
      validation.message(
        'label_key',
        'one of the %s %s' % (where, list(names)),
        label_key,
        'Pass label_key=None for data without labels',
      )
    )
  return label_key


def mode_settings(mode, shuffle, num_epochs, drop_remainder):
  """``(shuffle, num_epochs, drop_remainder)`` in ``mode``: one ordered pass in EVAL, PREDICT."""
  if mode in (_ModeKeys.EVAL, _ModeKeys.PREDICT):
    return False, 1, False
  return shuffle, num_epochs, drop_remainder


def records(
  files,
  reader,
  mode,
  config,
  input_context,
  shuffle,
  num_epochs,
  seed,
  shuffle_buffer_size,
  num_parallel_reads,
):
  """Returns the Dataset of raw records (lines, serialized Examples) this worker reads.

  Args:
    files: the sorted list of files.
    reader: function(path tensor) -> Dataset of the file's records.
    mode, config, input_context: what the Estimator passed (see ``_sharding.resolve``).
    shuffle, num_epochs, seed: for this call (see :func:`mode_settings`).
    shuffle_buffer_size, num_parallel_reads: the reader's arguments.
  """
  num_shards, index = _sharding.resolve(mode, config, input_context)
  record_shard = None
  if num_shards > 1:
    if len(files) >= num_shards:
      files = files[index::num_shards]
    else:
      record_shard = (num_shards, index)
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if record_shard is not None:
    # Too few files to share out: every worker reads them all, in order, and keeps its rows.
    dataset = dataset.flat_map(reader).shard(*record_shard)
  elif shuffle and len(files) > 1:
    # Parallel reads; in a deterministic order when seeded (reproducible), else as they come.
    dataset = dataset.shuffle(len(files), seed=seed).interleave(
      reader,
      cycle_length=min(num_parallel_reads, len(files)),
      block_length=1,
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=seed is not None,
    )
  else:
    dataset = dataset.flat_map(reader)
  if shuffle:
    dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
  return dataset.repeat(num_epochs)


def batches(dataset, parse, batch_size, num_epochs, drop_remainder):
  """``dataset`` of records batched, then parsed a batch at a time by ``parse``."""
  # Repeating forever: every batch is full, so say so (a static batch dimension).
  drop = drop_remainder or num_epochs is None
  return (
    dataset.batch(batch_size, drop_remainder=drop)
    .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    .prefetch(tf.data.AUTOTUNE)
  )
