"""Writes census_train.csv and census_test.csv: a synthetic census-like table, no download.

Columns: age, hours_per_week (numbers), workclass, education, occupation, marital_status,
sex (categories as strings) and income ('<=50K' or '>50K'). The income depends on numbers
(age, hours), on categories and on crosses of them (education x occupation), so that a
linear model, a DNN and wide and deep each find something. Deterministic: the same files at
every run (``python data/make_census.py [--rows N] [--out DIR]``).
"""

import argparse
import csv
import os

import numpy as np

WORKCLASS = ['Private', 'Self-emp', 'Federal-gov', 'Local-gov', 'State-gov']
EDUCATION = ['HS-grad', 'Some-college', 'Bachelors', 'Masters', 'Doctorate', '11th', 'Assoc']
OCCUPATION = [
  'Tech-support',
  'Craft-repair',
  'Sales',
  'Exec-managerial',
  'Prof-specialty',
  'Adm-clerical',
  'Machine-op',
  'Other-service',
]
MARITAL = ['Married', 'Never-married', 'Divorced', 'Widowed']
SEX = ['Female', 'Male']
COLUMNS = [
  'age',
  'workclass',
  'education',
  'occupation',
  'marital_status',
  'sex',
  'hours_per_week',
  'income',
]


def make_table(rows, seed=20261207):
  """The table as a dict of numpy arrays (strings for categories), ``rows`` rows."""
  rng = np.random.RandomState(seed)

  def pick(values, weights=None):
    return rng.choice(len(values), size=rows, p=weights)

  workclass = pick(WORKCLASS, [0.6, 0.12, 0.08, 0.1, 0.1])
  education = pick(EDUCATION, [0.3, 0.22, 0.18, 0.08, 0.03, 0.09, 0.1])
  occupation = pick(OCCUPATION)
  marital = pick(MARITAL, [0.48, 0.32, 0.15, 0.05])
  sex = pick(SEX, [0.4, 0.6])
  age = np.clip(rng.normal(39, 13, rows), 17, 90).round()
  hours = np.clip(rng.normal(40, 12, rows), 1, 99).round()
  # Each (education, occupation) pair has its own effect: what a cross (the wide part)
  # memorises, and an interaction of two categories a linear model without it cannot fit.
  pair_effect = rng.normal(0, 1.0, size=(len(EDUCATION), len(OCCUPATION)))
  logit = (
    -2.4
    + 0.9 * np.array([0, 0.3, 1.0, 1.4, 1.8, -0.8, 0.4])[education]
    + np.array([0.2, 0.6, 0.0, 0.2, 0.1])[workclass]
    + 1.1 * (marital == 0)
    + 0.3 * (sex == 1)
    + 0.045 * (hours - 40)
    - 0.0025 * (age - 47) ** 2  # Peaks in mid-career: a curve for the DNN.
    + 0.9 * pair_effect[education, occupation]
  )
  income = rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))
  return {
    'age': age.astype(int),
    'workclass': np.array(WORKCLASS)[workclass],
    'education': np.array(EDUCATION)[education],
    'occupation': np.array(OCCUPATION)[occupation],
    'marital_status': np.array(MARITAL)[marital],
    'sex': np.array(SEX)[sex],
    'hours_per_week': hours.astype(int),
    'income': np.where(income, '>50K', '<=50K'),
  }


def write_csv(path, table, start, stop):
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    for i in range(start, stop):
      writer.writerow([table[c][i] for c in COLUMNS])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rows', type=int, default=2000, help='rows in all (a fifth for test)')
  parser.add_argument('--out', default=os.path.dirname(os.path.abspath(__file__)))
  args = parser.parse_args(argv)
  table = make_table(args.rows)
  split = args.rows - args.rows // 5
  write_csv(os.path.join(args.out, 'census_train.csv'), table, 0, split)
  write_csv(os.path.join(args.out, 'census_test.csv'), table, split, args.rows)


if __name__ == '__main__':
  main()
