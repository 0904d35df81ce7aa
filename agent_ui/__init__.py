"""The seat agents' and supervisors' web console (issue 3 fills it in)."""
