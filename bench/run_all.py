"""Runs every benchmark in bench/ and writes bench/RESULTS.md.

Each script here (other than this one) is a module with ``main(argv) -> dict`` that prints
its own report and returns its figures. This runner imports each in turn, runs it in a fresh
subprocess (so one script's memory and graphs never weigh on the next), and writes the
printed reports with the date and the machine (cores, memory, TensorFlow version) to
``bench/RESULTS.md``.

  python bench/run_all.py            # full runs (minutes; `make bench`)
  python bench/run_all.py --quick    # seconds each, to check the scripts still run
  python bench/run_all.py --only predict_latency
  python bench/run_all.py --only scaling train_throughput   # the steps_per_run figures
"""

import argparse
import datetime
import os
import pathlib
import platform
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def scripts(only=None):
  """The benchmark scripts, in name order."""
  found = sorted(
    p
    for p in HERE.glob('*.py')
    if p.name != pathlib.Path(__file__).name and not p.name.startswith('_')
  )
  if only:
    found = [p for p in found if p.stem in only]
  return found


def machine():
  """One line that says what these figures were measured on."""
  try:
    import psutil

    memory = '%.0f GiB' % (psutil.virtual_memory().total / 2**30)
  except ImportError:
    memory = 'unknown memory'
  try:
    from importlib import metadata

    tf_version = metadata.version('tensorflow')
    est_version = metadata.version('tensorflow-estimator')
  except Exception:
    tf_version = est_version = 'unknown'
  return '%s, %d cores, %s, Python %s, tensorflow %s, tensorflow-estimator %s' % (
    platform.machine(),
    os.cpu_count() or 0,
    memory,
    platform.python_version(),
    tf_version,
    est_version,
  )


def run_script(path, quick, timeout):
  """Runs one script in a subprocess; returns (exit code, its output)."""
  argv = [sys.executable, str(path)] + (['--quick'] if quick else [])
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  try:
    proc = subprocess.run(
      argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(HERE.parent)
    )
  except subprocess.TimeoutExpired as e:
    out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or '')
    return 124, out + '\n(timed out after %d s)\n' % timeout
  text = proc.stdout
  if proc.returncode:
    text += '\n' + proc.stderr[-4000:]
  return proc.returncode, text


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='quick mode of every script')
  parser.add_argument('--only', nargs='*', help='script names (without .py) to run')
  parser.add_argument('--timeout', type=int, default=3600, help='seconds per script')
  parser.add_argument(
    '--output',
    default=None,
    help='where to write the results (default bench/RESULTS.md; with '
    '--quick, bench/out/RESULTS-quick.md so real figures are kept)',
  )
  args = parser.parse_args(argv)
  unknown = sorted(set(args.only or ()) - {p.stem for p in scripts()})
  if unknown:
    parser.error(
      '--only: no benchmark script named %s; the scripts are: %s'
      % (', '.join(unknown), ', '.join(p.stem for p in scripts()))
    )
  if args.output is None:
    args.output = str(HERE / 'out' / 'RESULTS-quick.md' if args.quick else HERE / 'RESULTS.md')
  pathlib.Path(args.output).parent.mkdir(parents=True, exist_ok=True)

  sections, failed = [], []
  for path in scripts(args.only):
    print('== %s' % path.name, flush=True)
    code, text = run_script(path, args.quick, args.timeout)
    print(text, flush=True)
    if code:
      failed.append(path.name)
    sections.append(
      '## %s%s\n\n```\n%s\n```\n'
      % (path.name, '' if not code else ' (FAILED, exit %d)' % code, text.strip())
    )

  header = '# Benchmark results\n\n%s: `%s`%s.\n\nMachine: %s.\n\n' % (
    datetime.date.today().isoformat(),
    'python bench/run_all.py' + (' --quick' if args.quick else ''),
    ' (quick mode: figures are smoke checks, not measurements)' if args.quick else '',
    machine(),
  )
  pathlib.Path(args.output).write_text(header + '\n'.join(sections))
  print('wrote %s' % args.output)
  if failed:
    print('failed: %s' % ', '.join(failed), file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
