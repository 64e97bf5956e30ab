"""The tfest command line: argparse, the run record, data readers and the CLI's model."""
