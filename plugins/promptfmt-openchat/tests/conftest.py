"""Hypothesis profiles: a quick run by default, a deeper one when CI is set (as promptfmt does)."""

import os

from hypothesis import settings

settings.register_profile("quick", max_examples=40, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "quick")
