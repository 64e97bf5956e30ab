"""The order in which in-memory rows are read: batches of row indices, epoch after epoch.

Without shuffling the stream is the legacy ``tf.compat.v1.estimator.inputs`` one (epochs run
on without a break, only the very last batch may be short); with shuffling every epoch is a
full permutation of the rows. See :class:`BatchPlan`.
"""

import threading

import numpy as np

from tfest_adapters._core import groups

# Up to this many rows (per shard), epochs are shuffled with an explicit permutation; above
# it, with a _FeistelPermutation computed on demand in constant memory.
EXACT_PERMUTATION_MAX_ROWS = 1 << 20

_FEISTEL_ROUNDS = 6
_U64 = np.uint64
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_GOLDEN = _U64(0x9E3779B97F4A7C15)


class _Identity:
  """Positions map to themselves: the unshuffled order."""

  def __call__(self, start, stop):
    return np.arange(start, stop, dtype=np.int64)


class _ExactPermutation:
  """A permutation drawn with ``Generator.permutation`` (small data)."""

  def __init__(self, num_rows, rng):
    self._order = rng.permutation(num_rows).astype(np.int64, copy=False)

  def __call__(self, start, stop):
    return self._order[start:stop]


class _FeistelPermutation:
  """A keyed pseudo-random permutation of ``range(num_rows)``, evaluated chunk by chunk.

  A Feistel network, balanced or not, is a bijection of ``range(2 ** bits)`` whatever its
  round function; cycle walking (re-encrypting any value that falls outside
  ``range(num_rows)``) restricts it to a bijection of the rows. ``bits`` is the smallest
  width that holds every row, so fewer than half the values fall outside. The round function
  is the splitmix64 finaliser of the half-block mixed with a per-round key. Values are
  computed :data:`_CHUNK` positions at a time, which amortises NumPy's per-call overhead over
  many batches.
  """

  _CHUNK = 1 << 16

  def __init__(self, num_rows, rng):
    bits = max(2, int(num_rows - 1).bit_length())
    self._widths = ((bits + 1) // 2, bits // 2)
    self._num_rows = num_rows
    self._keys = rng.integers(
      0, np.iinfo(np.uint64).max, size=_FEISTEL_ROUNDS, dtype=np.uint64, endpoint=True
    )
    # (start, values) of the last chunk computed, replaced as a whole: safe across threads.
    self._cache = (None, None)

  @staticmethod
  def _mix(value, key):
    z = (value ^ key) * _GOLDEN
    z = (z ^ (z >> _U64(30))) * _MIX1
    z = (z ^ (z >> _U64(27))) * _MIX2
    return z ^ (z >> _U64(31))

  def _encrypt(self, values):
    left_bits, right_bits = self._widths
    for key in self._keys:
      right = values & _U64((1 << right_bits) - 1)
      left = values >> _U64(right_bits)
      # (left, right) -> (right, left ^ F(right)): invertible whatever the widths.
      mixed = left ^ (self._mix(right, key) & _U64((1 << left_bits) - 1))
      values = (right << _U64(left_bits)) | mixed
      left_bits, right_bits = right_bits, left_bits
    return values

  def _compute(self, start):
    stop = min(start + self._CHUNK, self._num_rows)
    limit = _U64(self._num_rows)
    with np.errstate(over='ignore'):
      values = self._encrypt(np.arange(start, stop, dtype=np.uint64))
      outside = np.flatnonzero(values >= limit)
      while outside.size:
        walked = self._encrypt(values[outside])
        values[outside] = walked
        outside = outside[walked >= limit]
    return values.astype(np.int64)

  def __call__(self, start, stop):
    pieces = []
    while start < stop:
      chunk_start = start - start % self._CHUNK
      cached_start, chunk = self._cache
      if cached_start != chunk_start:
        chunk = self._compute(chunk_start)
        self._cache = (chunk_start, chunk)
      end = min(stop, chunk_start + self._CHUNK)
      pieces.append(chunk[start - chunk_start : end - chunk_start])
      start = end
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _epoch_order(num_rows, shuffle, rng):
  if not shuffle:
    return _Identity()
  if num_rows <= EXACT_PERMUTATION_MAX_ROWS:
    return _ExactPermutation(num_rows, rng)
  return _FeistelPermutation(num_rows, rng)


def shard_size(num_rows, num_shards=1, shard_index=0):
  """Number of rows in shard ``shard_index`` of ``num_shards`` (rows ``i::num_shards``)."""
  return len(range(shard_index, num_rows, num_shards))


class CallSeeds:
  """The seed of each call of an input_fn: ``(seed, 0)``, ``(seed, 1)``, ...; or None.

  The Estimator calls the input_fn anew for every ``train()``: seeding call ``k`` with
  ``(seed, k)`` keeps runs reproducible while successive calls read on instead of replaying
  the same first batches. A probe's call (``groups.probing()``, in a throwaway graph) gets the
  seed of the next call without taking it.

  Args:
    seed: int >= 0, or None (every call gets None).
  """

  def __init__(self, seed):
    self._seed = seed
    self._calls = 0
    self._lock = threading.Lock()

  def next(self):
    """The seed for the next call: a tuple for :class:`BatchPlan`, or None."""
    if self._seed is None:
      return None
    with self._lock:
      call = self._calls
      if not groups.is_probing():  # A probe reads the seed of the next call without taking it.
        self._calls += 1
    return (self._seed, call)

  def next_int(self):
    """The seed for the next call as one int in ``[0, 2**31)`` (for tf.data), or None."""
    seed = self.next()
    if seed is None:
      return None
    return int(np.random.SeedSequence(list(seed)).generate_state(1)[0] & 0x7FFFFFFF)


class BatchPlan:
  """The row indices of batch ``i``, for any ``i``: random access to the batch stream.

  Epochs follow one another without a break and batches are cut from that stream, so a batch
  may straddle two epochs. With ``shuffle`` each epoch is a fresh permutation drawn from
  ``seed`` and the epoch number (Python's and NumPy's global generators are never touched).
  The orders of the last two epochs are cached; :meth:`indices` is thread-safe.

  Args:
    num_rows: int > 0, rows in the data.
    batch_size: int > 0.
    num_epochs: int >= 0, or None to run forever.
    shuffle: bool; False gives rows in order, True a fresh permutation every epoch.
    seed: int >= 0 or a tuple of them (see :class:`CallSeeds`), or None to draw one from
      OS entropy (once per plan).
    num_shards: int > 0; with ``shard_index``, this plan reads rows
      ``shard_index, shard_index + num_shards, ...`` only (disjoint, complete shards).
    shard_index: int in ``[0, num_shards)``.
    drop_remainder: bool; drops a final batch shorter than ``batch_size``.

  Attributes:
    num_batches: int, or None when ``num_epochs`` is None.
    full_batches_only: bool, every batch has ``batch_size`` rows.
  """

  def __init__(
    self,
    num_rows,
    batch_size,
    num_epochs,
    shuffle,
    seed=None,
    num_shards=1,
    shard_index=0,
    drop_remainder=False,
  ):
    self._rows = shard_size(num_rows, num_shards, shard_index)
    if self._rows == 0:
      raise ValueError('shard %d of %d has no rows' % (shard_index, num_shards))
    self._batch_size = batch_size
    self._shuffle = shuffle
    self._num_shards = num_shards
    self._shard_index = shard_index
    if seed is None:
      seed = np.random.SeedSequence().entropy
    self._entropy = list(seed) if isinstance(seed, tuple) else [seed]
    if num_shards > 1:
      self._entropy += [num_shards, shard_index]
    self._orders = {}
    self._lock = threading.Lock()  # tf.data may call indices() from several threads.
    if num_epochs is None:
      self._total = None
      self.num_batches = None
    else:
      self._total = self._rows * num_epochs
      self.num_batches = (
        self._total // batch_size if drop_remainder else -(-self._total // batch_size)
      )
    self.full_batches_only = num_epochs is None or drop_remainder

  def _order(self, epoch):
    with self._lock:
      order = self._orders.get(epoch)
      if order is None:
        rng = np.random.default_rng(self._entropy + [epoch]) if self._shuffle else None
        order = _epoch_order(self._rows, self._shuffle, rng)
        self._orders = {e: o for e, o in self._orders.items() if e == epoch - 1}
        self._orders[epoch] = order
      return order

  def indices(self, batch_index, num_batches=1):
    """Row indices (int64) of batch ``batch_index`` (0-based), or of several in a row.

    Args:
      batch_index: int >= 0.
      num_batches: int > 0: the indices of batches ``batch_index`` to ``batch_index +
        num_batches - 1``, concatenated (as ``_grouping.make_group_dataset`` reads a group).
    """
    start = batch_index * self._batch_size
    stop = start + self._batch_size * num_batches
    if self._total is not None:
      stop = min(stop, self._total)
    pieces = []
    while start < stop:
      epoch, offset = divmod(start, self._rows)
      take = min(stop - start, self._rows - offset)
      pieces.append(self._order(epoch)(offset, offset + take))
      start += take
    positions = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    if self._num_shards == 1:
      return positions
    return positions * self._num_shards + self._shard_index


def index_batches(
  num_rows,
  batch_size,
  num_epochs,
  shuffle,
  seed=None,
  num_shards=1,
  shard_index=0,
  drop_remainder=False,
):
  """Yields the row indices of each batch of a :class:`BatchPlan`, in order.

  Args: as :class:`BatchPlan`; a shard without rows, or ``num_epochs=0``, yields nothing.

  Yields:
    int64 arrays of length ``batch_size`` (the last one possibly shorter when
    ``num_epochs`` is an int and ``drop_remainder`` is False).
  """
  if shard_size(num_rows, num_shards, shard_index) == 0:
    return
  plan = BatchPlan(
    num_rows,
    batch_size,
    num_epochs,
    shuffle,
    seed=seed,
    num_shards=num_shards,
    shard_index=shard_index,
    drop_remainder=drop_remainder,
  )
  batch_index = 0
  while plan.num_batches is None or batch_index < plan.num_batches:
    yield plan.indices(batch_index)
    batch_index += 1
