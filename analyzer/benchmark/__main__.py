import sys

from analyzer.benchmark.run import main

sys.exit(main())
