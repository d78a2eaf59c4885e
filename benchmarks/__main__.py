"""`python -m benchmarks NAME [OPTIONS]`: the same as `srmt bench NAME [OPTIONS]`."""
import sys

from cli.main import main

sys.exit(main(["bench", *sys.argv[1:]]))
