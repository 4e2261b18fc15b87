"""Registry commands: ``pull``, ``push``, ``login``, ``logout`` (and ``image pull|push``),
with the Docker CLI's flags, output and exit codes (1 on an error from the engine).

The work is in ``dockyard.engine.distribution``; its JSON progress messages are shown by
``cli.fastpull.ProgressDisplay`` as the docker CLI's ``jsonmessage`` shows them (on a
terminal one line per layer, redrawn in place; otherwise plain lines without the
progress bars). ``pull``'s plain forms run without click (cli/fastpull.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

import click

from dockyard.cli.images import engine_errors, fail, image
from dockyard.cli.opts import check_filters
from dockyard.errors import DockyardError
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


def _drain(messages: Iterable[dict[str, Any]], quiet: bool) -> None:
    from dockyard.cli.fastpull import drain

    drain(messages, quiet)


@click.command("pull", context_settings=_SETTINGS)
@click.argument("name", metavar="NAME[:TAG|@DIGEST]")
@click.option(
    "-a", "--all-tags", is_flag=True, help="Download all tagged images in the repository."
)
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output.")
@click.option(
    "--disable-content-trust/--no-disable-content-trust",
    is_flag=True,
    default=True,
    help="Skip image verification (Dockyard verifies no signatures).",
)
@click.pass_obj
@engine_errors
def pull(
    paths: Paths,
    name: str,
    all_tags: bool,
    platform: str | None,
    quiet: bool,
    disable_content_trust: bool,
) -> None:
    """Download an image from a registry."""
    from dockyard.cli.runopts import check_content_trust

    try:
        check_content_trust(disable_content_trust)
    except DockyardError as e:
        fail(str(e))  # the client's own refusal
    from dockyard.cli.engine import exit_now, open_engine
    from dockyard.cli.fastpull import pull_and_show

    engine = open_engine(paths)
    pull_and_show(
        engine, name, platform or os.environ.get("DOCKER_DEFAULT_PLATFORM"), quiet, all_tags
    )
    # The pull's threads have ended: skip the interpreter's teardown.
    exit_now(engine, 0)


@click.command("push", context_settings=_SETTINGS)
@click.argument("name", metavar="NAME[:TAG]")
@click.option("-a", "--all-tags", is_flag=True, help="Push all tags of an image to the repository.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output.")
@click.option("--platform", default="", help="Push the image only if it is of this platform.")
@click.option(
    "--disable-content-trust/--no-disable-content-trust",
    is_flag=True,
    default=True,
    help="Skip image signing (Dockyard signs nothing).",
)
@click.pass_obj
@engine_errors
def push(
    paths: Paths,
    name: str,
    all_tags: bool,
    quiet: bool,
    platform: str,
    disable_content_trust: bool,
) -> None:
    """Upload an image to a registry."""
    from dockyard import reference
    from dockyard.cli.runopts import check_content_trust

    try:
        check_content_trust(disable_content_trust)
    except DockyardError as e:
        fail(str(e))  # the client's own refusal
    from dockyard.cli.engine import current_host, open_engine
    from dockyard.engine import distribution

    engine = open_engine(paths)
    bare = reference.parse(name, default_tag=False)
    if platform:
        from dockyard.platforms import check_image_platform

        if all_tags:
            fail("--all-tags and --platform cannot be used together")
        check_image_platform(name, engine.image_inspect(name), platform)
    if all_tags and bare.tag:
        fail("tag can't be used with --all-tags/-a")  # the docker CLI's own check
    if not all_tags and not quiet and bare.tag is None and bare.digest is None:
        click.echo(f"Using default tag: {reference.DEFAULT_TAG}")
    if current_host():
        # Through -H/DOCKER_HOST: the endpoint pushes (with this host's login).
        _drain(engine.image_push(name, all_tags=all_tags), quiet)
    else:
        _drain(distribution.push(engine, name, all_tags=all_tags), quiet)
    if quiet:
        ref = reference.parse(name, default_tag=not all_tags)
        click.echo(ref.name if all_tags else str(ref))


@click.command("login", context_settings=_SETTINGS)
@click.argument("server", required=False)
@click.option("-u", "--username", default=None, help="Username.")
@click.option("-p", "--password", default=None, help="Password or Personal Access Token (PAT).")
@click.option("--password-stdin", is_flag=True, help="Take the Password or PAT from stdin.")
@click.pass_obj
@engine_errors
def login(
    paths: Paths,
    server: str | None,
    username: str | None,
    password: str | None,
    password_stdin: bool,
) -> None:
    """Authenticate to a registry. Defaults to Docker Hub if no server is specified."""
    from dockyard.engine import distribution

    # docker/cli 28's verifyLoginFlags (flags given, before any warning), then
    # verifyLoginOptions
    if password_stdin:
        if password is not None:
            fail("conflicting options: cannot specify both --password and --password-stdin")
        if username is None:
            fail("the --password-stdin option requires --username to be set")
    if username == "":
        fail("username is empty")
    if password == "":
        fail("password is empty")
    if password is not None:
        click.echo(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True
        )
    if password_stdin:
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if not username or password is None:
        if not sys.stdin.isatty():
            fail("Error: Cannot perform an interactive login from a non TTY device")
        if not username:
            username = input("Username: ").strip()
        if password is None:
            import getpass

            password = getpass.getpass("Password: ")
    if not username:
        fail("Error: Non-null Username Required")
    if not password:
        fail("Error: Password Required")
    from dockyard.cli.engine import open_engine

    # docker/cli: the engine checks the login (POST /auth), the client stores it.
    auth = {"username": username, "password": password, "serveraddress": server or ""}
    status = open_engine(paths).system_auth(auth)["Status"]
    try:
        unencrypted = distribution.store_login(server, username, password)
    except DockyardError as e:  # docker/cli's runLogin: the client's own failure
        fail(f"Error saving credentials: {e}")
    except OSError as e:
        where = f"rename {e.filename} {e.filename2}" if e.filename2 else f"open {e.filename}"
        fail(f"Error saving credentials: {where}: {(e.strerror or str(e)).lower()}")
    if unencrypted:
        click.echo(
            f"\nWARNING! Your credentials are stored unencrypted in '{unencrypted}'.\n"
            "Configure a credential helper to remove this warning. See\n"
            "https://docs.docker.com/go/credential-store/\n",
            err=True,
        )
    click.echo(status)


@click.command("logout", context_settings=_SETTINGS)
@click.argument("server", required=False)
@click.pass_obj
@engine_errors
def logout(paths: Paths, server: str | None) -> None:
    """Log out from a registry. Defaults to Docker Hub if no server is specified."""
    from dockyard.engine import distribution

    key, found, error = distribution.logout(server)
    if error is not None:  # docker/cli's runLogout: a warning, exit 0
        click.echo(f"Removing login credentials for {key}")
        click.echo(f"WARNING: could not erase credentials:\n{key}: {error}", err=True)
        return
    if not found:
        click.echo(f"Not logged in to {key}")
        return
    click.echo(f"Removing login credentials for {key}")


image.add_command(pull, "pull")
image.add_command(push, "push")


#: docker/cli's defaultSearchTableFormat and its column titles.
SEARCH_DEFAULT = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
SEARCH_HEADERS = {
    "Name": "NAME",
    "Description": "DESCRIPTION",
    "StarCount": "STARS",
    "IsOfficial": "OFFICIAL",
}


def search_rows(results: list[dict[str, Any]], trunc: bool, json_: bool) -> list[dict[str, str]]:
    """docker/cli's searchContext of each SearchResult: the description on one line (cut
    to 45 characters with ``…`` when ``trunc``), stars as text, official ``[OK]`` or
    empty (``true``/``false`` for a JSON format)."""
    rows = []
    for r in results:
        desc = str(r.get("description") or "").replace("\n", " ").replace("\r", " ")
        if trunc and len(desc) > 45:
            desc = desc[:44] + "…"
        official = bool(r.get("is_official"))
        rows.append(
            {
                "Name": str(r.get("name") or ""),
                "Description": desc,
                "StarCount": str(int(r.get("star_count") or 0)),
                "IsOfficial": ("true" if official else "false")
                if json_
                else ("[OK]" if official else ""),
            }
        )
    return rows


@click.command("search", context_settings=_SETTINGS)
@click.argument("term")
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help="Filter output based on conditions provided",
)
@click.option("--format", "format_", default="", help="Pretty-print search using a Go template")
@click.option("--limit", type=int, default=0, help="Max number of search results")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.pass_obj
@engine_errors
def search(
    paths: Paths, term: str, filters: tuple[str, ...], format_: str, limit: int, no_trunc: bool
) -> None:
    """Search Docker Hub for images."""
    from dockyard.cli.engine import current_host, current_tls
    from dockyard.cli.formatting import format_items
    from dockyard.cli.opts import parse_filters

    wanted = parse_filters(filters)
    if "is-automated" in wanted:
        print(
            'WARNING: the "is-automated" filter is deprecated, and searching for '
            '"is-automated=true" will not yield any results in future.',
            file=sys.stderr,
        )
    host = current_host()
    if host:
        from dockyard.engine.remote import RemoteEngine

        results = RemoteEngine(host, tls=current_tls()).image_search(term, limit, wanted)
    else:
        from dockyard.engine import distribution

        results = distribution.search(term, limit, wanted)
    # docker/cli's searchContext prints booleans as true/false when marshalled as JSON.
    json_ = format_.strip() in ("json", "table json") or "{{json.}}" in format_.replace(" ", "")
    rows = search_rows(results, not no_trunc, json_)
    sys.stdout.write(format_items(format_, rows, SEARCH_HEADERS, default=SEARCH_DEFAULT))
