"""Tests of tfest_adapters.cluster: TF_CONFIG, roles, the loopback cluster runner, real clusters.

Fast tests check TF_CONFIG building and validation (one test per error message), role
detection against TF's own RunConfig, and the runner's process handling with a role script
that does not import TensorFlow (tests/cluster/cluster_jobs/fake_roles.py): a ps that blocks like
``server.join()``, roles that fail or hang. The slow tests start real TensorFlow clusters on
127.0.0.1 with examples/cluster_job.py (chief + worker + ps + evaluator) and check training,
evaluation, per-task steps and faults.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from tfest_adapters import cluster
from tfest_adapters import exceptions

HERE = pathlib.Path(__file__).resolve().parent
FAKE = str(HERE / 'cluster_jobs' / 'fake_roles.py')
JOB = str(HERE.parents[1] / 'examples' / 'cluster_job.py')

CLUSTER = {'chief': ['host0:2222'], 'worker': ['host1:2222', 'host2:2222'], 'ps': ['host3:2222']}


# TF_CONFIG building.


def test_make_tf_config_builds_cluster_and_task():
  tf_config = cluster.make_tf_config(CLUSTER, 'worker', 1)
  assert tf_config == {'cluster': CLUSTER, 'task': {'type': 'worker', 'index': 1}}
  assert tf_config['cluster'] is not CLUSTER
  assert json.loads(json.dumps(tf_config)) == tf_config


def test_make_tf_config_evaluator_needs_no_address():
  tf_config = cluster.make_tf_config(CLUSTER, 'evaluator')
  assert tf_config['task'] == {'type': 'evaluator', 'index': 0}
  assert 'evaluator' not in tf_config['cluster']


def test_make_tf_config_is_what_run_config_reads(monkeypatch):
  import tensorflow as tf

  for task_type, index in [('chief', 0), ('worker', 0), ('worker', 1), ('ps', 0), ('evaluator', 0)]:
    monkeypatch.setenv('TF_CONFIG', json.dumps(cluster.make_tf_config(CLUSTER, task_type, index)))
    config = tf.estimator.RunConfig()
    role = cluster.current_role()
    assert (config.task_type, config.task_id) == (task_type, index)
    assert role == cluster.current_role(config)
    assert role.is_chief == config.is_chief
    if role.is_trainer:
      assert role.shard_index == config.global_id_in_cluster
      assert role.num_shards == config.num_worker_replicas == 3
    assert role.num_ps_replicas == 1


@pytest.mark.parametrize(
  'bad, error, message',
  [
    (
      ['host0:2222'],
      exceptions.ArgumentTypeError,
      r"^cluster must be a dict of job name -> list of 'host:port' addresses, given: "
      r"\['host0:2222'\] \(list\)\. For example",
    ),
    (
      {'chief': ['h:1'], 'master': ['h:2']},
      exceptions.ArgumentError,
      r"^the jobs of cluster must be among 'chief', 'worker', 'ps', given: 'master'\. "
      r"'master' is TF 1\.x's name for the chief: call it 'chief'$",
    ),
    (
      {'chief': ['h:1'], 'evaluator': ['h:2']},
      exceptions.ArgumentError,
      r"^the jobs of cluster must be among .*, given: 'evaluator'\. The evaluator is not part "
      r"of the training cluster: leave it out of the cluster and give task_type='evaluator'",
    ),
    (
      {'chief': ['h:1'], 'workers': ['h:2']},
      exceptions.ArgumentError,
      r"^the jobs of cluster must be among 'chief', 'worker', 'ps', given: 'workers'$",
    ),
    (
      {'chief': 'h:1'},
      exceptions.ArgumentTypeError,
      r"^cluster\['chief'\] must be a list of 'host:port' strings, given: 'h:1'\. "
      r"Wrap it in a list: \['h:1'\]$",
    ),
    (
      {'chief': ['h:1'], 'ps': []},
      exceptions.ArgumentError,
      r"^cluster\['ps'\] must be a non-empty list of 'host:port' strings, given: \[\] \(list\)$",
    ),
    (
      {'chief': ['h:1'], 'ps': 3},
      exceptions.ArgumentTypeError,
      r"^cluster\['ps'\] must be a non-empty list of 'host:port' strings, given: 3$",
    ),
    (
      {'chief': ['host0']},
      exceptions.ArgumentError,
      r"^cluster\['chief'\]\[0\] must be a 'host:port' string, given: 'host0'\. "
      r"For example 'localhost:2222'",
    ),
    (
      {'chief': ['grpc://host0:2222']},
      exceptions.ArgumentError,
      r"^cluster\['chief'\]\[0\] must be a 'host:port' string without a scheme, given: "
      r"'grpc://host0:2222'\. Drop the scheme: 'host0:2222'$",
    ),
    (
      {'chief': ['host0:70000']},
      exceptions.ArgumentError,
      r"^cluster\['chief'\]\[0\] must be a 'host:port' string with a port in 1\.\.65535, "
      r"given: 'host0:70000'$",
    ),
    (
      {'chief': [2222]},
      exceptions.ArgumentError,
      r"^cluster\['chief'\]\[0\] must be a 'host:port' string, given: 2222$",
    ),
    (
      {'worker': ['h:1']},
      exceptions.ArgumentError,
      r"^cluster must be a dict with a 'chief' job \(the task that writes checkpoints\), "
      r"given: \{'worker': \['h:1'\]\} \(dict\)\. Add 'chief': \['host:port'\]",
    ),
    (
      {'chief': ['h:1', 'h:2']},
      exceptions.ArgumentError,
      r"^cluster\['chief'\] must be a list of exactly one 'host:port' address, given: "
      r"\['h:1', 'h:2'\] \(list\)\. A cluster has one chief",
    ),
    (
      {'chief': ['h:1'], 'worker': ['h:2', 'h:1']},
      exceptions.ArgumentError,
      r"^cluster\['worker'\]\[1\] must be an address no other task uses, given: 'h:1'\. "
      r"It is also cluster\['chief'\]\[0\]; each task needs its own port$",
    ),
  ],
)
def test_make_tf_config_refuses_bad_cluster(bad, error, message):
  with pytest.raises(error, match=message):
    cluster.make_tf_config(bad, 'chief', 0)


@pytest.mark.parametrize(
  'task_type, index, error, message',
  [
    (
      'master',
      0,
      exceptions.ArgumentError,
      r"^task_type must be one of 'chief', 'worker', 'ps', 'evaluator', given: 'master'\. "
      r"'master' is TF 1\.x's name",
    ),
    (
      'trainer',
      0,
      exceptions.ArgumentError,
      r"^task_type must be one of 'chief', 'worker', 'ps', 'evaluator', given: 'trainer'$",
    ),
    (
      'ps',
      0,
      exceptions.ArgumentError,
      r"^task_type must be a job of the cluster \('chief', 'worker'\) or 'evaluator', "
      r"given: 'ps'$",
    ),
    ('worker', -1, exceptions.ArgumentError, r'^task_index must be a non-negative int, given: -1$'),
    (
      'worker',
      True,
      exceptions.ArgumentTypeError,
      r'^task_index must be a non-negative int, given: True$',
    ),
    (
      'worker',
      2,
      exceptions.ArgumentError,
      r"^task_index must be an index below 2, the number of 'worker' tasks in the cluster, "
      r'given: 2$',
    ),
  ],
)
def test_make_tf_config_refuses_bad_task(task_type, index, error, message):
  two_workers = {'chief': ['h:1'], 'worker': ['h:2', 'h:3']}
  with pytest.raises(error, match=message):
    cluster.make_tf_config(two_workers, task_type, index)


# Reading TF_CONFIG and roles.


def test_validate_tf_config_reads_environment(monkeypatch):
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps({'cluster': CLUSTER, 'task': {'type': 'ps', 'index': '0'}, 'environment': 'cloud'}),
  )
  tf_config = cluster.validate_tf_config()
  assert tf_config['task'] == {'type': 'ps', 'index': 0}
  assert tf_config['environment'] == 'cloud'


def test_validate_tf_config_without_cluster_is_local(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert cluster.validate_tf_config() == {}
  assert cluster.validate_tf_config('') == {}
  role = cluster.current_role()
  assert role == cluster.Role('worker', 0, 1, 0, False)
  assert role.is_chief and role.is_trainer
  assert (role.num_shards, role.shard_index) == (1, 0)


def test_validate_tf_config_keeps_a_launchers_evaluator_entry():
  # TonY-style launchers list the evaluator in the cluster: reading it must work.
  tf_config = cluster.validate_tf_config(
    json.dumps(
      {
        'cluster': dict(CLUSTER, evaluator=['host9:2222']),
        'task': {'type': 'evaluator', 'index': 0},
      }
    )
  )
  assert tf_config['cluster']['evaluator'] == ['host9:2222']


@pytest.mark.parametrize(
  'tf_config, message',
  [
    (
      '{"cluster": ',
      r"^TF_CONFIG must be a JSON object, given: '\{\"cluster\": '\. "
      r'The JSON parser says: Expecting value',
    ),
    (
      json.dumps({'cluster': CLUSTER, 'task': {'type': 'worker', 'index': 5}}),
      r"^TF_CONFIG\['task'\]\['index'\] must be an index below 2, the "
      r"number of 'worker' tasks in the cluster, given: 5$",
    ),
    (
      json.dumps({'cluster': CLUSTER, 'task': {'index': 0}}),
      r"^TF_CONFIG\['task'\] must be a dict with a 'type', given: "
      r"\{'index': 0\}",
    ),
    (
      json.dumps({'task': {'type': 'chief', 'index': 0}}),
      r"^TF_CONFIG\['cluster'\] must be a non-empty dict of job -> "
      r"addresses when 'task' is set, given: \{\} \(dict\)\. Give both",
    ),
  ],
  ids=['not_json', 'index_out_of_range', 'task_without_type', 'task_without_cluster'],
)
def test_environment_errors_are_cluster_errors_naming_tf_config(monkeypatch, tf_config, message):
  monkeypatch.setenv('TF_CONFIG', tf_config)
  with pytest.raises(exceptions.ClusterError, match=message):
    cluster.current_role()


@pytest.mark.parametrize(
  'function, argument, message',
  [
    (
      cluster.validate_tf_config,
      [1],
      r"^tf_config must be a JSON object with 'cluster' and 'task', given: \[1\] \(list\)$",
    ),
    (
      cluster.validate_tf_config,
      {'cluster': CLUSTER, 'task': 'chief'},
      r"^tf_config\['task'\] must be a dict",
    ),
    (
      cluster.current_role,
      'chief',
      r"^config must be a tf\.estimator\.RunConfig or None, given: 'chief'$",
    ),
  ],
  ids=['tf_config_not_a_dict', 'task_not_a_dict', 'config_not_a_run_config'],
)
def test_argument_type_errors(function, argument, message):
  with pytest.raises(exceptions.ArgumentTypeError, match=message):
    function(argument)


def test_roles_shards_and_flags():
  roles = {
    name: cluster.role_from_tf_config(cluster.make_tf_config(CLUSTER, t, i))
    for name, t, i in [
      ('c', 'chief', 0),
      ('w0', 'worker', 0),
      ('w1', 'worker', 1),
      ('p', 'ps', 0),
      ('e', 'evaluator', 0),
    ]
  }
  assert [roles[k].shard_index for k in ('c', 'w0', 'w1')] == [0, 1, 2]
  assert {roles[k].num_shards for k in ('c', 'w0', 'w1')} == {3}
  assert roles['p'].shard_index is None and roles['e'].num_shards is None
  assert roles['c'].is_chief and not roles['w0'].is_chief
  assert roles['p'].is_ps and not roles['p'].is_trainer
  assert roles['e'].is_evaluator and not roles['e'].is_trainer
  assert roles['w1'].name == 'worker:1'
  assert roles['e'].num_worker_replicas == 3  # Counted from TF_CONFIG, unlike RunConfig's 0.


def test_current_role_of_a_local_run_config(monkeypatch):
  import tensorflow as tf

  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert cluster.current_role(tf.estimator.RunConfig()) == cluster.Role('worker', 0, 1, 0, False)


# The runner, with roles that do not import TensorFlow.


def _collect():
  lines = []
  return lines, lines.append


def test_run_local_cluster_runs_every_role_and_ends_the_ps():
  lines, sink = _collect()
  start = time.monotonic()
  result = cluster.run_local_cluster(
    FAKE, workers=2, ps=1, evaluator=True, timeout=30, args=['--secs', '0.2'], log=sink
  )
  assert result.ok and result.error is None
  assert list(result.roles) == ['ps:0', 'chief:0', 'worker:0', 'worker:1', 'evaluator:0']
  assert result.returncodes == {
    'ps:0': -signal.SIGTERM,
    'chief:0': 0,
    'worker:0': 0,
    'worker:1': 0,
    'evaluator:0': 0,
  }
  assert result['ps:0'].status == 'stopped'
  assert {r.status for n, r in result.roles.items() if n != 'ps:0'} == {'exited'}
  assert time.monotonic() - start < 20
  # Each line is prefixed with its role, and each role got its own TF_CONFIG task.
  for name in result.roles:
    assert '[%s] role %s pid %d cluster' % (name, name, result[name].pid) in '\n'.join(lines)
  spec = result.tf_configs['chief:0']['cluster']
  addresses = [a for job in spec.values() for a in job]
  assert len(set(addresses)) == 4
  assert all(a.startswith('127.0.0.1:') for a in addresses)
  assert 'evaluator' not in spec
  assert result.tf_configs['evaluator:0']['task'] == {'type': 'evaluator', 'index': 0}


def test_a_failing_role_is_named_and_the_others_are_ended():
  with pytest.raises(
    exceptions.ClusterError,
    match=r'(?s)^worker:0 failed with exit code 3 after [0-9.]+ s\. '
    r'Other roles: .*Last lines of worker:0:\n.*role worker:0 fails',
  ) as info:
    cluster.run_local_cluster(
      FAKE,
      workers=1,
      ps=1,
      evaluator=True,
      timeout=30,
      args=['--secs', '0.5', '--fail', 'worker:0', '--hang', 'evaluator:0'],
      log=False,
    )
  result = info.value.result
  assert result['worker:0'].status == 'failed' and result['worker:0'].returncode == 3
  assert result['evaluator:0'].status == 'aborted'
  assert result['ps:0'].status == 'aborted'
  assert not result.ok


def test_watchdog_ends_a_hanging_role_within_timeout():
  start = time.monotonic()
  with pytest.raises(
    exceptions.ClusterError,
    match=r'(?s)^evaluator:0 did not end within timeout=2 s and was ended '
    r'by the watchdog\. .*role evaluator:0 blocks',
  ) as info:
    cluster.run_local_cluster(
      FAKE,
      workers=1,
      ps=1,
      evaluator=True,
      timeout=2,
      args=['--secs', '0.1', '--hang', 'evaluator:0'],
      log=False,
      kill_grace=0.5,
    )
  assert time.monotonic() - start < 2 + 0.5 + 3
  result = info.value.result
  assert result['evaluator:0'].status == 'timed out'
  assert result['chief:0'].status == 'exited'
  assert result['ps:0'].status == 'stopped'  # Training was over: ps ended, not aborted.


def test_wait_timeout_ends_the_roles_still_running_and_names_a_trainer_not_the_ps():
  with cluster.LocalCluster(
    FAKE,
    workers=1,
    ps=1,
    evaluator=False,
    timeout=30,
    args=['--secs', '5', '--hang', 'worker:0'],
    log=False,
    kill_grace=0.5,
  ) as c:
    start = time.monotonic()
    with pytest.raises(
      exceptions.ClusterError,
      match=r'^chief:0 did not end within wait\(timeout=0\.5\) and was ended '
      r'by the watchdog\. Other roles: ps:0 \(running\), worker:0 \(running\)',
    ):
      c.wait(timeout=0.5)
    assert time.monotonic() - start < 0.5 + 0.5 + 3
  assert not any(c.is_running(r) for r in c.roles)


def test_a_worker_hanging_after_the_chief_finished_is_named():
  with pytest.raises(
    exceptions.ClusterError,
    match=r'^worker:0 was still running 0\.5 s after the chief finished '
    r'\(shutdown_timeout\) and was ended by the watchdog',
  ):
    cluster.run_local_cluster(
      FAKE,
      workers=1,
      ps=1,
      evaluator=False,
      timeout=30,
      shutdown_timeout=0.5,
      args=['--secs', '0.1', '--hang', 'worker:0'],
      log=False,
      kill_grace=0.5,
    )


def test_a_ps_that_quits_while_training_is_an_error():
  with pytest.raises(
    exceptions.ClusterError,
    match=r'^ps:0 exited by itself while the cluster was training; a ps '
    r'serves until the runner ends it',
  ):
    cluster.run_local_cluster(
      FAKE,
      workers=1,
      ps=1,
      evaluator=False,
      timeout=30,
      args=['--secs', '3', '--quit', 'ps:0'],
      log=False,
    )


def test_kill_restart_and_wait_for_log(tmp_path):
  with cluster.LocalCluster(
    FAKE,
    workers=1,
    ps=1,
    evaluator=False,
    timeout=30,
    args=['--secs', '1.5'],
    log=False,
    log_dir=tmp_path,
  ) as c:
    match = c.wait_for_log('worker:0', r'pid (\d+)')
    assert int(match.group(1)) == c.pid('worker:0')
    assert c.cluster_spec == c.tf_config('worker:0')['cluster']
    assert c.roles == ['ps:0', 'chief:0', 'worker:0']
    c.kill('worker:0')
    assert not c.is_running('worker:0')
    c.wait_for_log('chief:0', r'pid (\d+)')
    first_chief = c.pid('chief:0')
    c.restart('chief:0')
    assert c.pid('chief:0') != first_chief
    assert c.wait_for_log('chief:0', r'pid (\d+)').group(1) == str(c.pid('chief:0'))
    with pytest.raises(exceptions.ClusterError, match=r'^worker:0 is not running'):
      c.kill('worker:0')
    result = c.wait()
  assert result.ok  # A killed worker and a restarted chief are faults asked for.
  assert result['worker:0'].status == 'killed'
  assert result['worker:0'].returncode == -signal.SIGKILL
  assert result['chief:0'].status == 'exited' and result['chief:0'].restarts == 1
  assert result['ps:0'].status == 'stopped'
  chief_log = (tmp_path / 'chief-0.log').read_text()
  assert chief_log.count('role chief:0 pid') == 2 and '----- restart 1 -----' in chief_log


def test_wait_for_log_raises_when_the_role_ends_first():
  with cluster.LocalCluster(
    FAKE, workers=0, ps=0, evaluator=False, timeout=30, args=['--secs', '0.1'], log=False
  ) as c:
    with pytest.raises(
      exceptions.ClusterError,
      match=r'(?s)^chief:0 ended \(status: exited\) before printing a line '
      r"matching 'never printed'\. Last lines of chief:0:\n.*role chief:0 done",
    ):
      c.wait_for_log('chief:0', 'never printed')
    with pytest.raises(
      exceptions.ArgumentKeyError, match=r"^role must be one of 'chief:0', given: 'worker:0'$"
    ):
      c.pid('worker:0')


def test_env_reaches_every_role_and_callable_targets_run():
  lines, sink = _collect()
  cluster.run_local_cluster(
    FAKE,
    workers=1,
    ps=0,
    evaluator=False,
    timeout=30,
    env={'TFEST_TEST_VAR': 'on'},
    args=['--secs', '0', '--echo-env', 'TFEST_TEST_VAR'],
    log=sink,
  )
  assert sum('env TFEST_TEST_VAR=on' in line for line in lines) == 2
  sys.path.insert(0, str(HERE / 'cluster_jobs'))
  try:
    import fake_roles
  finally:
    sys.path.remove(str(HERE / 'cluster_jobs'))
  result = cluster.run_local_cluster(
    fake_roles.role_main, workers=1, ps=0, evaluator=True, timeout=30, args=[0.1], log=False
  )
  assert result.returncodes == {'chief:0': 0, 'worker:0': 0, 'evaluator:0': 0}


def test_only_the_processes_it_started_are_ended():
  # Another process running the same script (a ps that blocks forever) must survive an
  # aborted cluster: roles are ended by PID, never by name.
  env = dict(
    os.environ,
    TF_CONFIG=json.dumps(
      cluster.make_tf_config({'chief': ['127.0.0.1:1'], 'ps': ['127.0.0.1:2']}, 'ps', 0)
    ),
  )
  outsider = subprocess.Popen([sys.executable, FAKE], env=env, stdout=subprocess.DEVNULL)
  try:
    with pytest.raises(exceptions.ClusterError, match=r'^chief:0 failed with exit code 3'):
      cluster.run_local_cluster(
        FAKE,
        workers=0,
        ps=1,
        evaluator=False,
        timeout=30,
        args=['--secs', '0.3', '--fail', 'chief:0'],
        log=False,
      )
    assert outsider.poll() is None
  finally:
    outsider.kill()
    outsider.wait()


def test_roles_end_themselves_when_their_parent_is_killed():
  psutil = pytest.importorskip('psutil')
  code = (
    'import sys, time\n'
    'from tfest_adapters import cluster\n'
    'c = cluster.LocalCluster(%r, workers=1, ps=1, evaluator=False, timeout=60, '
    'args=["--hang", "chief:0", "--hang", "worker:0"], log=False).start()\n'
    'for r in c.roles: c.wait_for_log(r, "blocks")\n'
    'print(" ".join(str(c.pid(r)) for r in c.roles), flush=True)\n'
    'time.sleep(60)\n' % FAKE
  )
  parent = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
  try:
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 3 and all(psutil.pid_exists(p) for p in pids)
  finally:
    parent.kill()
    parent.wait()
  deadline = time.monotonic() + 10
  alive = pids
  while alive and time.monotonic() < deadline:
    alive = [
      p
      for p in alive
      if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    time.sleep(0.1)
  assert not alive


@pytest.mark.parametrize(
  'kwargs, error, message',
  [
    (
      dict(script_or_callable='no/such/job.py'),
      exceptions.ArgumentError,
      r'^script_or_callable must be the path of a Python script file or a function, given: '
      r"'no/such/job\.py'\. No such file",
    ),
    (
      dict(script_or_callable=lambda: 0),
      exceptions.ArgumentTypeError,
      r'^script_or_callable must be a module-level function \(the role processes import it '
      r'by name\), given: <function',
    ),
    (
      dict(script_or_callable=3),
      exceptions.ArgumentTypeError,
      r'^script_or_callable must be the path of a Python script or a module-level function, '
      r'given: 3$',
    ),
    (
      dict(workers=-1),
      exceptions.ArgumentError,
      r'^workers must be a non-negative int, given: -1$',
    ),
    (dict(ps=1.5), exceptions.ArgumentError, r'^ps must be a non-negative int, given: 1\.5$'),
    (
      dict(evaluator='yes'),
      exceptions.ArgumentTypeError,
      r"^evaluator must be a bool, given: 'yes'$",
    ),
    (
      dict(timeout=0),
      exceptions.ArgumentError,
      r'^timeout must be a positive finite number, given: 0$',
    ),
    (
      dict(env={'N': 1}),
      exceptions.ArgumentTypeError,
      r"^env\['N'\] must be a str value under a str name \(or None\), given: 1\. "
      r'Environment variables are strings: str\(1\)$',
    ),
    (
      dict(env={'TF_CONFIG': '{}'}),
      exceptions.ArgumentError,
      r'^env must be a dict without TF_CONFIG \(each role gets its own\)',
    ),
    (
      dict(args='--secs 1'),
      exceptions.ArgumentTypeError,
      r"^args must be a list of arguments, given: '--secs 1'$",
    ),
    (
      dict(log=3),
      exceptions.ArgumentTypeError,
      r'^log must be True, False, a callable taking each line, or a writable file, given: 3$',
    ),
  ],
)
def test_run_local_cluster_refuses_bad_arguments_before_starting(kwargs, error, message):
  kwargs = dict(dict(script_or_callable=FAKE), **kwargs)
  with pytest.raises(error, match=message):
    cluster.run_local_cluster(**kwargs)


def test_free_loopback_ports_are_distinct():
  ports = cluster.free_loopback_ports(5)
  assert len(set(ports)) == 5 and all(1024 <= p <= 65535 for p in ports)


# The TensorFlow side of a role: waiting for the chief, counting steps.


def _set_role(monkeypatch, task_type, index=0):
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps(
      cluster.make_tf_config(
        {'chief': ['127.0.0.1:1'], 'worker': ['127.0.0.1:2'], 'ps': ['127.0.0.1:3']},
        task_type,
        index,
      )
    ),
  )


def test_wait_for_chief_returns_at_once_outside_a_worker(monkeypatch, tmp_path):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert cluster.wait_for_chief(tmp_path, timeout_secs=0.1) is None
  for task_type in ('chief', 'ps', 'evaluator'):
    _set_role(monkeypatch, task_type)
    assert cluster.wait_for_chief(tmp_path, timeout_secs=0.1) is None


def test_wait_for_chief_in_a_worker_waits_for_the_first_checkpoint(monkeypatch, tmp_path):
  import tensorflow as tf

  _set_role(monkeypatch, 'worker')
  start = time.monotonic()
  with pytest.raises(
    exceptions.ClusterError,
    match=r"^worker:0 waited timeout_secs=0\.3 s for the chief's first "
    r"checkpoint in '.*' and none came\. Is the chief running, with the same "
    r'model_dir',
  ):
    cluster.wait_for_chief(tmp_path, timeout_secs=0.3, poll_secs=0.05)
  assert time.monotonic() - start < 2
  prefix = tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / 'model.ckpt'))
  assert cluster.wait_for_chief(tmp_path, timeout_secs=1) == prefix
  hook = cluster.WaitForChiefHook(tmp_path, timeout_secs=1)
  hook.begin()
  assert hook.checkpoint == prefix


def test_wait_for_chief_refuses_a_worker_config_without_device_filters(monkeypatch, tmp_path):
  import tensorflow as tf

  _set_role(monkeypatch, 'worker')
  config = tf.estimator.RunConfig(session_config=tf.compat.v1.ConfigProto())
  with pytest.raises(
    exceptions.ClusterError,
    match=r"^worker:0's RunConfig has a session_config without "
    r"device_filters, given: .*Without them the chief's session waits for "
    r'every task of the cluster',
  ):
    cluster.wait_for_chief(tmp_path, config, timeout_secs=0.1)
  # RunConfig's own session config has them: the wait runs (and times out here).
  with pytest.raises(exceptions.ClusterError, match=r'^worker:0 waited timeout_secs=0\.1 s'):
    cluster.wait_for_chief(tmp_path, tf.estimator.RunConfig(), timeout_secs=0.1, poll_secs=0.05)


def test_task_steps_hook_counts_each_training_run(
  monkeypatch, tmp_path, small_data, boring_model_fn, boring_input_fn
):
  import tensorflow as tf

  monkeypatch.delenv('TF_CONFIG', raising=False)
  estimator = tf.estimator.Estimator(boring_model_fn, model_dir=str(tmp_path), params={})
  features, labels = small_data
  hook = cluster.TaskStepsHook(tmp_path)
  estimator.train(boring_input_fn(features, labels), steps=3, hooks=[hook])
  assert cluster.read_task_steps(tmp_path) == {'worker:0': 3}
  estimator.train(
    boring_input_fn(features, labels), steps=2, hooks=[cluster.TaskStepsHook(tmp_path)]
  )
  assert cluster.read_task_steps(tmp_path) == {'worker:0': 5}
  record = json.loads((tmp_path / 'task_steps' / 'worker-0.json').read_text())
  assert [(r['steps'], r['first_global_step'], r['last_global_step']) for r in record['runs']] == [
    (3, 0, 2),
    (2, 3, 4),
  ]
  assert all(r['ended'] is not None for r in record['runs'])
  assert cluster.read_task_steps(tmp_path / 'nothing-here') == {}


def test_wait_for_workers_hook_does_nothing_outside_a_cluster_chief(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  hook = cluster.WaitForWorkersHook(timeout_secs=30)
  hook.after_create_session(None, None)  # Would fail on a None session if it waited.
  assert hook.waited_secs is None
  with pytest.raises(
    exceptions.ArgumentError, match=r'^min_worker_steps must be a positive int, given: 0$'
  ):
    cluster.WaitForWorkersHook(min_worker_steps=0)


# Real TensorFlow clusters on loopback.


def _job_args(model_dir, max_steps, **extra):
  """examples/cluster_job.py's arguments. By default the chief waits (up to 60 s) for the
  worker's first step, so that the worker trains even when its graph is built seconds after
  the chief's on this shared machine."""
  args = [
    '--model-dir',
    str(model_dir),
    '--max-steps',
    str(max_steps),
    '--save-checkpoints-steps',
    str(extra.pop('save_checkpoints_steps', 250)),
    '--keep-checkpoint-max',
    '20',
    '--log-step-count-steps',
    '50',
    '--throttle-secs',
    str(extra.pop('throttle_secs', 2)),
    '--chief-waits-for-workers-secs',
    str(extra.pop('wait_for_workers', 60)),
  ]
  assert not extra
  return args


def _checkpoint_step(model_dir):
  import tensorflow as tf

  path = tf.train.latest_checkpoint(str(model_dir))
  return int(re.search(r'model\.ckpt-(\d+)$', path).group(1)) if path else None


def _eval_metrics(model_dir):
  """{global_step: {tag: value}} from the evaluator's event files in model_dir/eval."""
  import tensorflow as tf

  metrics = {}
  for path in tf.io.gfile.glob(os.path.join(str(model_dir), 'eval', 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.HasField('simple_value'):
          metrics.setdefault(event.step, {})[value.tag] = value.simple_value
  return metrics


@pytest.mark.slow
def test_cluster_trains_to_max_steps_with_chief_worker_ps_and_evaluator(tmp_path):
  model_dir = tmp_path / 'model'
  max_steps = 1000
  result = cluster.run_local_cluster(
    JOB,
    workers=1,
    ps=1,
    evaluator=True,
    timeout=120,
    args=_job_args(model_dir, max_steps),
    log_dir=tmp_path / 'logs',
  )
  assert result.ok, result
  assert result.seconds < 120
  assert [result[r].status for r in ('chief:0', 'worker:0', 'evaluator:0', 'ps:0')] == [
    'exited',
    'exited',
    'exited',
    'stopped',
  ]
  final_step = _checkpoint_step(model_dir)
  assert final_step >= max_steps
  steps = cluster.read_task_steps(model_dir)
  assert set(steps) == {'chief:0', 'worker:0'}
  assert steps['chief:0'] > 0 and steps['worker:0'] > 0
  # Every step of either task incremented the one global step; the chief's last checkpoint
  # can miss the worker's final in-flight step.
  assert final_step <= steps['chief:0'] + steps['worker:0'] <= final_step + 2
  chief_log = (tmp_path / 'logs' / 'chief-0.log').read_text()
  assert re.search(r'chief waited [0-9.]+ s for the workers', chief_log)
  metrics = _eval_metrics(model_dir)
  assert max(metrics) >= max_steps
  assert metrics[max(metrics)]['accuracy'] >= 0.8
  assert 'loss' in metrics[max(metrics)]


@pytest.mark.slow
def test_cluster_worker_killed_mid_run_chief_finishes(tmp_path):
  model_dir = tmp_path / 'model'
  max_steps = 1000
  with cluster.LocalCluster(
    JOB,
    workers=1,
    ps=1,
    evaluator=False,
    timeout=120,
    args=_job_args(model_dir, max_steps),
    log_dir=tmp_path / 'logs',
  ) as c:
    c.wait_for_log('worker:0', r'loss = [0-9.e-]+, step = \d+')
    c.kill('worker:0')
    killed_at = time.monotonic()
    result = c.wait()
  assert result.ok, result
  assert result['worker:0'].status == 'killed'
  assert result['chief:0'].status == 'exited' and result['ps:0'].status == 'stopped'
  assert time.monotonic() - killed_at < 60
  final_step = _checkpoint_step(model_dir)
  assert final_step >= max_steps
  # The worker trained before it was killed (its record was written at its first step), and
  # the chief alone took the global step from where the worker left it to max_steps.
  steps = cluster.read_task_steps(model_dir)
  assert steps['worker:0'] >= 1 and steps['chief:0'] >= 1
  worker_run = json.loads((model_dir / 'task_steps' / 'worker-0.json').read_text())['runs'][-1]
  assert worker_run['ended'] is None  # Killed: its hook never reached end().
  assert worker_run['last_global_step'] < max_steps <= final_step


@pytest.mark.slow
def test_cluster_chief_killed_and_restarted_resumes_from_its_checkpoint(tmp_path):
  model_dir = tmp_path / 'model'
  max_steps = 1000
  with cluster.LocalCluster(
    JOB,
    workers=1,
    ps=1,
    evaluator=False,
    timeout=150,
    # No waiting for the worker: after the restart it may be gone.
    args=_job_args(model_dir, max_steps, wait_for_workers=0),
    log_dir=tmp_path / 'logs',
  ) as c:
    # Killed once a checkpoint after the first is complete ("Saving checkpoints for N" is
    # logged before the files are written; a chief killed then restarts from the one before).
    saved = int(c.wait_for_log('chief:0', r'after saving checkpoint ([1-9]\d*)\.\.\.').group(1))
    c.restart('chief:0')
    restored = c.wait_for_log('chief:0', r'Restoring parameters from .*model\.ckpt-(\d+)')
    first = c.wait_for_log('chief:0', r'step = (\d+)')
    result = c.wait()
    saved_after = [
      int(m) for m in re.findall(r'Saving checkpoints for (\d+) into', '\n'.join(c.log('chief:0')))
    ]
  assert result.ok, result
  assert result['chief:0'].status == 'exited' and result['chief:0'].restarts == 1
  # It resumed from its last checkpoint: at or after the one seen before the kill ...
  assert int(restored.group(1)) >= saved
  assert int(first.group(1)) >= int(restored.group(1))
  # ... and the checkpoints it wrote after the restart never go back.
  assert saved_after == sorted(saved_after) and saved_after[0] >= int(restored.group(1))
  assert _checkpoint_step(model_dir) >= max_steps


@pytest.mark.slow
def test_cluster_ps_killed_hangs_the_others_until_the_watchdog_names_them(tmp_path):
  model_dir = tmp_path / 'model'
  with cluster.LocalCluster(
    JOB,
    workers=1,
    ps=1,
    evaluator=False,
    timeout=120,
    args=_job_args(model_dir, 100000),
    log_dir=tmp_path / 'logs',
    kill_grace=2,
  ) as c:
    c.wait_for_log('worker:0', r'loss = [0-9.e-]+, step = \d+')
    c.kill('ps:0')
    killed_at = time.monotonic()
    with pytest.raises(
      exceptions.ClusterError,
      match=r'^(chief|worker):0 did not end within wait\(timeout=5\) and was '
      r'ended by the watchdog \(ps:0 not running: a trainer waits forever for '
      r'a ps that is gone, retrying its session; .*\)\. Other roles: ps:0 '
      r'\(killed\)',
    ) as info:
      # 5 s: the trainers retry forever once the ps is gone (15 s showed the same).
      c.wait(timeout=5)
  # Bounded: the trainers were ended by the deadline, not left waiting for the ps.
  assert time.monotonic() - killed_at < 5 + 2 + 5
  result = info.value.result
  assert result['ps:0'].status == 'killed'
  assert {result['chief:0'].status, result['worker:0'].status} <= {'timed out', 'aborted'}
