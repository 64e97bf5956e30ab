"""bench/run_all.py: finds the benchmark scripts and writes a dated report."""

import importlib.util

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


def test_machine_line_names_cores_and_tensorflow():
  line = _run_all().machine()
  assert 'cores' in line and 'tensorflow 2.15.1' in line


def test_report_is_written_with_header(tmp_path):
  out = tmp_path / 'R.md'
  assert _run_all().main(['--quick', '--only', 'no_such_script', '--output', str(out)]) == 0
  text = out.read_text()
  assert text.startswith('# Benchmark results')
  assert 'quick mode' in text and 'Machine: ' in text
