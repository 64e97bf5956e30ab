"""bench/run_all.py: finds the benchmark scripts, runs them and writes a dated report."""

import importlib.util

import pytest

from conftest import REPO_ROOT


def _run_all():
  spec = importlib.util.spec_from_file_location('run_all', REPO_ROOT / 'bench' / 'run_all.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_scripts_exclude_the_runner_itself():
  names = [p.name for p in _run_all().scripts()]
  assert 'run_all.py' not in names
  assert names == sorted(names)
  assert 'predict_latency.py' in names and 'train_throughput.py' in names


def test_machine_line_names_cores_and_tensorflow():
  line = _run_all().machine()
  assert 'cores' in line and 'tensorflow 2.15.1' in line


@pytest.mark.slow
def test_report_holds_each_script_run_with_its_figures(tmp_path):
  out = tmp_path / 'R.md'
  assert _run_all().main(['--quick', '--only', 'predict_latency', '--output', str(out)]) == 0
  text = out.read_text()
  assert text.startswith('# Benchmark results')
  assert 'quick mode' in text and 'Machine: ' in text
  section = text.split('## predict_latency.py', 1)[1]
  assert not section.startswith(' (FAILED')
  assert '| tfest_adapters.Predictor |' in section
  assert '## ' not in section.replace('## predict_latency (quick)', '')  # Only the one asked.


def test_an_unknown_script_is_refused(capsys):
  with pytest.raises(SystemExit) as info:
    _run_all().main(['--quick', '--only', 'no_such_script'])
  assert info.value.code == 2
  assert 'no benchmark script named no_such_script' in capsys.readouterr().err


@pytest.mark.slow
def test_the_scaling_bench_is_run_and_its_quick_mode_gives_every_ratio():
  assert 'scaling.py' in [p.name for p in _run_all().scripts()]
  spec = importlib.util.spec_from_file_location('scaling', REPO_ROOT / 'bench' / 'scaling.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  figures = module.main(['--quick'])
  assert [(r['batch'], r['width']) for r in figures['rows']] == [(32, 16), (256, 128)]
  for row in figures['rows']:
    assert set(row['ratios']) == {'k1', 'auto', 'k8'}
    assert all(ratio > 0 for ratio in row['ratios'].values())
    assert len(row['auto_k']) == 1 and 1 <= row['auto_k'][0] <= 64
