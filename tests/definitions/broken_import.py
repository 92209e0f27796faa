"""A module whose import fails, for the check of a dotted path in action_set (flowmachine.E020)."""

import flowmachine_no_such_dependency  # noqa: F401
