"""Integrations with other libraries, each behind its own optional extra.

Nothing in the core imports this package; a module here imports the
library it integrates with at its top, so importing it without that
extra installed fails at once with the missing package's name.
"""
