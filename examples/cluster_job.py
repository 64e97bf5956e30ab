"""One training job for every role of a TF_CONFIG cluster: start the same file on each machine.

Each process reads its role from the ``TF_CONFIG`` environment variable, and
``train_and_evaluate`` does what the role needs: the chief trains and writes checkpoints,
each worker trains on its own shard of the data, the ps serve the variables, the evaluator
evaluates every new checkpoint until one reaches ``--max-steps``. Without TF_CONFIG it trains
and evaluates locally.

On real machines (one command per machine, same --model-dir on shared storage):

  TF_CONFIG='{"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"],
              "ps": ["host2:2222"]}, "task": {"type": "chief", "index": 0}}' \\
      python examples/cluster_job.py --model-dir gs://bucket/iris-run

On this machine, every role as a process on 127.0.0.1:

  python examples/cluster_job.py --local-cluster --model-dir /tmp/iris-cluster

See docs/distributed.md.
"""

import argparse
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = ('SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth')
LABEL = 'Species'


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    '--model-dir', required=True, help='shared by every role (shared storage on real machines)'
  )
  parser.add_argument('--train-csv', default=os.path.join(REPO, 'data', 'iris_training.csv'))
  parser.add_argument('--eval-csv', default=os.path.join(REPO, 'data', 'iris_test.csv'))
  parser.add_argument('--max-steps', type=int, default=2000)
  parser.add_argument('--batch-size', type=int, default=16, help='per trainer and step')
  parser.add_argument('--save-checkpoints-steps', type=int, default=200)
  parser.add_argument(
    '--keep-checkpoint-max',
    type=int,
    default=5,
    help='checkpoints kept; the evaluator fails on one deleted while it '
    'restores it, so keep more when checkpoints come faster than evaluations',
  )
  parser.add_argument(
    '--throttle-secs',
    type=int,
    default=10,
    help='least seconds between two evaluations by the evaluator',
  )
  parser.add_argument('--log-step-count-steps', type=int, default=100)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument(
    '--chief-waits-for-workers-secs',
    type=float,
    default=0,
    help='the chief waits up to this long for the workers to step before '
    'training itself (0: no waiting); for short jobs that must use every '
    'worker',
  )
  parser.add_argument(
    '--strategy',
    choices=('ps', 'multi_worker_mirrored'),
    default='ps',
    help='ps: asynchronous, variables on the ps tasks (default); '
    'multi_worker_mirrored: synchronous all-reduce between chief and '
    'workers, no ps',
  )
  parser.add_argument(
    '--local-cluster',
    action='store_true',
    help='start every role on 127.0.0.1 (chief, --workers, --ps, evaluator)',
  )
  parser.add_argument('--workers', type=int, default=1)
  parser.add_argument('--ps', type=int, default=1)
  parser.add_argument('--timeout', type=float, default=300)
  return parser.parse_args(argv)


def load_csv(path):
  """(features dict of float32 arrays, int64 labels) from an Iris CSV file."""
  data = np.genfromtxt(path, delimiter=',', names=True)
  return ({k: data[k].astype(np.float32) for k in FEATURES}, data[LABEL].astype(np.int64))


def train(args):
  """Runs this process's role; returns the local (metrics, exports), None in a cluster."""
  import tensorflow as tf

  import tfest_adapters as tfa
  from tfest_adapters import cluster

  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)
  role = cluster.current_role()
  train_x, train_y = load_csv(args.train_csv)
  eval_x, eval_y = load_csv(args.eval_csv)

  run_config_options = dict(
    save_checkpoints_steps=args.save_checkpoints_steps,
    keep_checkpoint_max=args.keep_checkpoint_max,
    log_step_count_steps=args.log_step_count_steps,
    # The worker waits for the chief's first checkpoint (WaitForChiefHook); TF's delay of
    # 5 s * (index + 1) would only lose steps.
    experimental_max_worker_delay_secs=0,
  )
  if args.strategy == 'multi_worker_mirrored' and role.is_trainer:
    # Only trainers build it: an evaluator that does waits for a collective it is not part of.
    run_config_options['train_distribute'] = (
      tf.distribute.experimental.MultiWorkerMirroredStrategy()
    )
  estimator = tfa.make_estimator(
    tfa.classifier_model_fn,
    params=dict(
      feature_keys=list(FEATURES),
      hidden_units=[10, 10],
      n_classes=3,
      optimizer='Adagrad',
      learning_rate=0.1,
    ),
    model_dir=args.model_dir,
    seed=args.seed,
    **run_config_options,
  )

  # In TRAIN mode with TF_CONFIG, numpy_input_fn reads this trainer's shard only: rows
  # i, i + n, i + 2n, ... for trainer i of n (the chief is 0, worker k is k + 1).
  train_input_fn = tfa.numpy_input_fn(
    train_x, train_y, batch_size=args.batch_size, num_epochs=None, shuffle=True, seed=args.seed
  )
  eval_input_fn = tfa.numpy_input_fn(
    eval_x, eval_y, batch_size=args.batch_size, num_epochs=1, shuffle=False
  )
  wait_for_workers = []
  if args.chief_waits_for_workers_secs > 0:
    wait_for_workers.append(
      cluster.WaitForWorkersHook(
        estimator.config, timeout_secs=args.chief_waits_for_workers_secs, max_steps=args.max_steps
      )
    )
  tf.compat.v1.logging.info('%s starts train_and_evaluate', role.name)
  result = tfa.train_and_evaluate(
    estimator,
    train_input_fn,
    eval_input_fn,
    max_steps=args.max_steps,
    throttle_secs=args.throttle_secs,
    # A worker builds its graph, then waits for the chief's first checkpoint before its
    # session starts (else it may sleep 30 s); each trainer records its own step count.
    train_hooks=[
      cluster.WaitForChiefHook(args.model_dir, estimator.config),
      cluster.TaskStepsHook(args.model_dir, role),
    ]
    + wait_for_workers,
  )
  tf.compat.v1.logging.info(
    '%s finished; steps run per task so far: %s', role.name, cluster.read_task_steps(args.model_dir)
  )
  return result


def run_local_cluster(args, argv):
  """Starts this same file once per role on 127.0.0.1 and waits for all of them."""
  from tfest_adapters import cluster

  role_argv = [a for a in argv if a != '--local-cluster']
  ps = 0 if args.strategy == 'multi_worker_mirrored' else args.ps
  result = cluster.run_local_cluster(
    os.path.abspath(__file__),
    workers=args.workers,
    ps=ps,
    evaluator=True,
    timeout=args.timeout,
    args=role_argv,
  )
  print(result)
  print('steps per task:', cluster.read_task_steps(args.model_dir))
  return result


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  args = parse_args(argv)
  if args.local_cluster:
    run_local_cluster(args, argv)
  else:
    train(args)
  return 0


if __name__ == '__main__':
  sys.exit(main())
