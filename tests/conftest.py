"""Suite-wide settings: every stage run in a test checks that it declared what it reads."""

import os

# A stage reading a config key or profile field it did not declare in Stage.reads fails the build
# (edgekd.stage): the resume key is derived from the declaration, so it must be complete.
os.environ.setdefault("EDGEKD_CHECK_READS", "1")
