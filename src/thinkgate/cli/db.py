"""``thinkgate db``: the store's schema (PostgreSQL is migrated here; SQLite migrates itself on open)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

__all__ = ["db_app"]

db_app = typer.Typer(help="Check and migrate the store's schema.", no_args_is_help=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Event store URL: postgresql://user@host/db or sqlite:///path.db. Env: THINKGATE_STORE.",
        show_default=False,
    ),
]


def _store_url(store: str | None) -> str:
    from thinkgate.app import configure_logging
    from thinkgate.config import Settings

    settings = Settings.from_env().with_overrides(store_url=store)
    configure_logging(settings)
    return settings.resolved_store_url()


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


@db_app.command("migrate")
def migrate(store: StoreOpt = None) -> None:
    """Bring the store's schema up to the version this ThinkGate needs (safe to run again, and concurrently)."""
    from thinkgate.store.url import open_store, redact_url

    url = _store_url(store)
    if _is_postgres(url):
        from thinkgate.store import postgres

        before, after = asyncio.run(postgres.migrate(url))
        if before == after:
            typer.echo(f"{redact_url(url)}: schema is at version {after}, nothing to do")
        else:
            typer.echo(f"{redact_url(url)}: schema migrated from version {before} to {after}")
        return

    async def open_and_close() -> None:  # SQLite migrates (or refuses a newer schema) when opened
        s = open_store(url)
        await s.open()
        await s.close()

    asyncio.run(open_and_close())
    typer.echo(f"{redact_url(url)}: schema is up to date")


@db_app.command("status")
def status(store: StoreOpt = None) -> None:
    """Print the schema version of a PostgreSQL store; exit 1 when it needs `thinkgate db migrate`."""
    from thinkgate.errors import ConfigError
    from thinkgate.store import postgres
    from thinkgate.store.url import redact_url

    url = _store_url(store)
    if not _is_postgres(url):
        raise ConfigError("db status reads PostgreSQL stores (postgresql://…); SQLite migrates itself on open")
    current = asyncio.run(postgres.current_schema(url))
    need = postgres.SCHEMA_VERSION
    if current == need:
        typer.echo(f"{redact_url(url)}: schema version {current}, up to date")
        return
    if current > need:
        typer.echo(f"{redact_url(url)}: schema version {current} is newer than this ThinkGate ({need}); upgrade it")
    else:
        typer.echo(f"{redact_url(url)}: schema version {current}, needs {need}: run `thinkgate db migrate`")
    raise typer.Exit(1)
