"""The batch-index plan behind the in-memory builders (input_fns/_batching.py)."""

import itertools

import numpy as np
import pytest

from tfest_adapters._core import groups
from tfest_adapters.input_fns import _batching


def stream(num_rows, batch_size, num_epochs, shuffle, **kwargs):
  return [
    b.tolist() for b in _batching.index_batches(num_rows, batch_size, num_epochs, shuffle, **kwargs)
  ]


def test_unshuffled_stream_runs_across_epochs():
  assert stream(5, 3, 2, False) == [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4]]
  assert stream(5, 3, 2, False, drop_remainder=True) == [[0, 1, 2], [3, 4, 0], [1, 2, 3]]
  assert stream(2, 5, 3, False) == [[0, 1, 0, 1, 0], [1]]
  assert stream(5, 3, 0, False) == []


def test_endless_stream_has_only_full_batches():
  plan = _batching.BatchPlan(5, 3, None, False)
  assert plan.num_batches is None and plan.full_batches_only
  assert [plan.indices(i).tolist() for i in range(4)] == [
    [0, 1, 2],
    [3, 4, 0],
    [1, 2, 3],
    [4, 0, 1],
  ]


def test_random_access_matches_sequential_order():
  plan = _batching.BatchPlan(50, 7, 3, True, seed=5)
  sequential = [plan.indices(i).tolist() for i in range(plan.num_batches)]
  again = _batching.BatchPlan(50, 7, 3, True, seed=5)
  backwards = [again.indices(i).tolist() for i in reversed(range(again.num_batches))]
  assert sequential == backwards[::-1]
  assert sequential == stream(50, 7, 3, True, seed=5)


@pytest.mark.parametrize(
  'num_epochs,shards,drop',
  [(3, (1, 0), False), (None, (1, 0), False), (3, (3, 1), False), (3, (1, 0), True)],
)
def test_several_batches_at_once_are_the_batches_in_a_row(num_epochs, shards, drop):
  # What a group of batches reads (_grouping.make_group_dataset): across epoch ends, with a
  # short last batch, sharded.
  def plan():
    return _batching.BatchPlan(
      50,
      7,
      num_epochs,
      True,
      seed=5,
      num_shards=shards[0],
      shard_index=shards[1],
      drop_remainder=drop,
    )

  one_by_one, together = plan(), plan()
  num_batches = one_by_one.num_batches or 40
  for first in range(0, num_batches, 4):
    count = min(4, num_batches - first)
    expected = np.concatenate([one_by_one.indices(b) for b in range(first, first + count)])
    assert together.indices(first, count).tolist() == expected.tolist()


@pytest.mark.parametrize('exact_max', [_batching.EXACT_PERMUTATION_MAX_ROWS, 0])
def test_every_epoch_is_a_fresh_full_permutation(monkeypatch, exact_max):
  monkeypatch.setattr(_batching, 'EXACT_PERMUTATION_MAX_ROWS', exact_max)
  rows = sum(stream(1000, 64, 3, True, seed=1), [])
  epochs = [rows[i : i + 1000] for i in range(0, 3000, 1000)]
  for epoch in epochs:
    assert sorted(epoch) == list(range(1000))
  assert epochs[0] != epochs[1] != epochs[2] != list(range(1000))
  # Not a rotation or a stride: neighbours are far apart and order is uncorrelated.
  assert abs(np.corrcoef(np.arange(1000), epochs[0])[0, 1]) < 0.1
  assert np.median(np.abs(np.diff(epochs[0]))) > 100


def test_seed_reproducible_and_seedless_differs():
  assert stream(100, 10, 2, True, seed=3) == stream(100, 10, 2, True, seed=3)
  assert stream(100, 10, 2, True, seed=3) != stream(100, 10, 2, True, seed=4)
  assert stream(100, 10, 2, True) != stream(100, 10, 2, True)


@pytest.mark.parametrize('num_rows', [1, 2, 3, 5, 16, 17, 1000, 65537, 70001])
def test_feistel_is_a_bijection(num_rows):
  permutation = _batching._FeistelPermutation(num_rows, np.random.default_rng(0))
  values = np.concatenate(
    [permutation(s, min(s + 4099, num_rows)) for s in range(0, num_rows, 4099)]
  )
  assert np.array_equal(np.sort(values), np.arange(num_rows))


def test_feistel_first_batch_is_instant_for_huge_data():
  permutation = _batching._FeistelPermutation(10**10, np.random.default_rng(0))
  first = permutation(0, 256)
  assert len(set(first.tolist())) == 256
  assert first.max() < 10**10


@pytest.mark.parametrize('shuffle', [False, True])
def test_shards_are_disjoint_and_complete(shuffle):
  shards = [
    sum(stream(23, 4, 1, shuffle, seed=0, num_shards=5, shard_index=i), []) for i in range(5)
  ]
  assert sorted(sum(shards, [])) == list(range(23))
  assert all(set(a).isdisjoint(b) for a, b in itertools.combinations(shards, 2))
  assert stream(3, 2, 1, False, num_shards=5, shard_index=4) == []


def test_call_seeds():
  seeds = _batching.CallSeeds(7)
  assert [seeds.next(), seeds.next()] == [(7, 0), (7, 1)]
  assert _batching.CallSeeds(None).next() is None
  ints = [_batching.CallSeeds(7).next_int() for _ in range(2)]
  assert ints[0] == ints[1] and 0 <= ints[0] < 2**31
  assert stream(20, 5, 1, True, seed=(7, 0)) != stream(20, 5, 1, True, seed=(7, 1))


def test_a_probes_call_gets_the_next_seed_without_taking_it():
  seeds = _batching.CallSeeds(7)
  ints = _batching.CallSeeds(7)
  with groups.probing():
    assert seeds.next() == (7, 0)
    probed_int = ints.next_int()
  assert [seeds.next(), seeds.next()] == [(7, 0), (7, 1)]
  assert ints.next_int() == probed_int
