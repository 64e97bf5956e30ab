"""Smoke test of bench/input_pipeline.py and bench/big_arrays.py in their --quick modes."""

import importlib.util
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / 'bench'


def _load(name):
  spec = importlib.util.spec_from_file_location('bench_' + name, BENCH / (name + '.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.slow
def test_quick_modes_return_their_figures():
  figures = _load('input_pipeline').main(['--quick'])
  assert set(figures['examples_per_s']) == {'legacy', 'naive', 'numpy', 'tensor_slices', 'ceiling'}
  assert all(rate > 0 for rate in figures['examples_per_s'].values())
  assert figures['ratio_to_legacy']['legacy'] == 1.0
  big = figures['big']  # bench/big_arrays.py --quick, run in-process.
  assert big['rows'] > 0 and big['first_step_s'] > 0
  assert big['model_dir_mb'] < 5
  assert big['peak_rss_gb'] >= big['rss_with_arrays_gb'] > 0
