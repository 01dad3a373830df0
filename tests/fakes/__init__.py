"""Protocol-faithful fakes of backends that cannot be installed here (built from their documented wire formats)."""
