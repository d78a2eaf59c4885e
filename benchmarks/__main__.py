"""`python -m benchmarks NAME [OPTIONS]`: the same as `srmt bench NAME [OPTIONS]`."""
import sys

from benchmarks import main

sys.exit(main(sys.argv[1:]))
