"""Commands for this area are added as their issue lands."""

import click


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
