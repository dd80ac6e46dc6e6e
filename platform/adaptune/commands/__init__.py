"""The command line's parts beside cli.py: its grammar (parser.py), output (output.py),
`list`/`show` (inspect.py) and `ui` (ui.py). Argparse and printing only: what they show
comes from the store (report/, tracking/)."""
