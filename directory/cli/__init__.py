"""The `atelier` command: serve, migrate, import, sync and reindex, manage issuers, keys and
listing claims; every one honours the environment. One module per group of commands, each
importing only ``directory.cli.base``; this module puts them together."""

from __future__ import annotations

import click

from directory.cli.access import claims_group, keys_group
from directory.cli.data import db, demo, import_
from directory.cli.index import outbox_group, reindex_cmd, sync_cmd
from directory.cli.serve import serve
from directory.cli.trust import attest_group, issuers_group, sweep

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Atelier: the open directory of qualified car repairers."""


for command in (
    serve,
    sync_cmd,
    reindex_cmd,
    outbox_group,
    db,
    import_,
    demo,
    issuers_group,
    attest_group,
    sweep,
    keys_group,
    claims_group,
):
    main.add_command(command)
