"""What a run is: validated specs, sweep specs, boards, and the user-error type."""
