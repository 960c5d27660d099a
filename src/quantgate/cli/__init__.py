"""The `quantgate` command: one Typer app with a verb group per layer."""
