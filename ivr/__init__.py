"""Phone menus and the call queue (issue 5 fills it in)."""
