"""``python -m simrec_studies.lm_vs_cf``: see :func:`simrec_studies.lm_vs_cf.cli.main`."""

import sys

from simrec_studies.lm_vs_cf.cli import main

sys.exit(main())
