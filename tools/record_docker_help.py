"""Record the Docker CLI's help (usage lines, aliases, flags) into
src/dockyard/cli/docker_help.json, which ``dockyard ... --help`` renders (cli/help.py).

    python3 tools/record_docker_help.py [DOCKER]      (DOCKER: the docker CLI, default `docker`)

Each command's ``--help`` is read through a pseudo-terminal 1000 columns wide, so every
flag's description is on one line but for the line breaks docker/cli itself puts in it.
Origin: the docker CLI (github.com/docker/cli, Apache-2.0); only its help texts are kept.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

#: The commands Dockyard has of Docker's (groups first, then their subcommands).
COMMANDS = """attach build commit cp create diff events exec export history images import info
inspect kill load login logout logs pause port ps pull push rename restart rm rmi run save start
search stats stop tag top unpause update version wait
builder builder:prune
container container:attach,commit,cp,create,diff,exec,export,inspect,kill,logs,ls,pause,port,prune,rename,restart,rm,run,start,stats,stop,top,unpause,update,wait
image image:build,history,import,inspect,load,ls,prune,pull,push,rm,save,tag
network network:connect,create,disconnect,inspect,ls,prune,rm
volume volume:create,inspect,ls,prune,rm
system system:df,events,info,prune""".split()

#: The Common Commands of ``docker --help``, in its order.
TOP = ["run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search",
       "version", "info"]  # fmt: skip

FLAG = re.compile(r"^  (?:-(\w), |    )--([a-z0-9-]+)(?: (\S+))?  +(.*)$")


def help_text(docker: str, args: list[str]) -> str:
    """``docker ARGS --help`` as printed to a terminal 1000 columns wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 1000, 0, 0))
    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.Popen([docker, *args, "--help"], stdin=follower, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env)  # fmt: skip
    out = p.communicate(timeout=30)[0].decode()
    os.close(follower)
    os.close(leader)
    return out


def parse(text: str) -> dict[str, object]:
    """One command's help as ``{"use", "long", "aliases", "commands", "flags"}``
    (``commands``: name -> the short description the listing gives)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Usage:"))
    use = [lines[start].removeprefix("Usage:").strip()]
    i = start + 1
    while i < len(lines) and lines[i].startswith(("\t", " ")):
        use.append(lines[i].strip())
        i += 1
    long: list[str] = []
    i += 1
    while i < len(lines) and not (lines[i] and lines[i][0] != " " and lines[i].endswith(":")):
        long.append(lines[i])
        i += 1
    aliases = ""
    commands: dict[str, str] = {}
    flags: list[dict[str, str]] = []
    section = ""
    for line in lines[i:]:
        if line and not line.startswith(" "):
            section = line.rstrip(":")
            continue
        if section == "Aliases" and line.strip():
            aliases = line.strip()
        elif section.endswith("Commands") and line.strip():
            name, _, short = line.strip().partition(" ")
            commands[name.rstrip("*")] = short.strip()
        elif section == "Options":
            m = FLAG.match(line)
            if m:
                short_name, name, kind, usage = m.groups()
                flags.append(
                    {"name": name, "short": short_name or "", "type": kind or "", "usage": usage}
                )
            elif line.strip() and flags:
                # docker/cli's own line breaks inside a description.
                flags[-1]["usage"] += "\n" + line.strip()
    return {
        "use": "\n".join(use),
        "long": "\n".join(long).strip(),
        "aliases": aliases,
        "commands": commands,
        "flags": flags,
    }


def main() -> None:
    docker = sys.argv[1] if len(sys.argv) > 1 else "docker"
    version = subprocess.run([docker, "--version"], capture_output=True, text=True).stdout.strip()
    out: dict[str, object] = {"_origin": f"{version} (github.com/docker/cli, Apache-2.0)"}
    out["_top"] = TOP
    shorts = {}
    root = parse(help_text(docker, []))
    for name, short in root["commands"].items():  # type: ignore[union-attr]
        shorts[name] = short
    for item in COMMANDS:
        group, _, subs = item.partition(":")
        paths = [[group, s] for s in subs.split(",")] if subs else [[group]]
        for path in paths:
            rec = parse(help_text(docker, path))
            for name, short in rec["commands"].items():  # type: ignore[union-attr]
                shorts[f"{group} {name}"] = short
            out[" ".join(path)] = rec
    for key, rec in out.items():
        if isinstance(rec, dict):
            rec["short"] = shorts[key]
            rec["commands"] = sorted(rec["commands"])
    here = os.path.dirname(os.path.abspath(__file__))
    dest = os.path.join(here, "..", "src", "dockyard", "cli", "docker_help.json")
    with open(dest + ".tmp", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(dest + ".tmp", dest)


if __name__ == "__main__":
    main()
