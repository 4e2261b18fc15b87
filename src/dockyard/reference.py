"""Image references: parsing and normalisation as Docker's distribution reference grammar.

``busybox`` is ``docker.io/library/busybox:latest``; ``localhost:5000/a/b@sha256:<hex>`` keeps
its registry and digest. The grammar is distribution/reference's ``reference.go`` and
``normalize.go`` (ParseNormalizedNamed + TagNameOnly). Imports only ``re``: the CLI parses
references on every command.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

# Go's \w is ASCII-only.
_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?\Z", re.ASCII)
_ANCHORED_ID_RE = re.compile(r"^[a-f0-9]{64}\Z")
_SHA256_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}\Z")

INVALID = "invalid reference format"


class Reference:
    """A normalised reference: ``name`` (``docker.io/library/busybox``), ``tag``, ``digest``.

    ``tag`` and ``digest`` are ``None`` when absent; ``parse`` adds the ``latest`` tag to a
    bare name. ``str(ref)`` is the full form, ``familiar()`` the short one Docker prints.
    """

    __slots__ = ("name", "tag", "digest")

    def __init__(self, name: str, tag: str | None = None, digest: str | None = None) -> None:
        self.name = name
        self.tag = tag
        self.digest = digest

    @property
    def domain(self) -> str:
        """The registry host (and port), e.g. ``docker.io`` or ``localhost:5000``."""
        return self.name.split("/", 1)[0]

    @property
    def path(self) -> str:
        """The repository path inside the registry, e.g. ``library/busybox``."""
        return self.name.split("/", 1)[1]

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def familiar_name(self) -> str:
        """The repository as Docker shows it: ``busybox``, ``user/app``, ``localhost:5000/x``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
            return path[len(OFFICIAL_REPO_PREFIX) :]
        return path

    def familiar(self) -> str:
        """The short form Docker prints: ``busybox:latest``."""
        return self.familiar_name() + self._suffix()


def _split_docker_domain(text: str) -> tuple[str, str]:
    i = text.find("/")
    head = text[:i]
    if i == -1 or (
        not any(c in head for c in ".:") and head != "localhost" and head.lower() == head
    ):
        domain, remainder = DEFAULT_DOMAIN, text
    else:
        domain, remainder = head, text[i + 1 :]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text`` as ``docker pull``/``docker tag`` do.

    A bare name gets the ``latest`` tag unless ``default_tag`` is false. Raises
    ``InvalidArgument`` with Docker's messages: ``invalid reference format``, ``invalid
    reference format: repository name (library/Busybox) must be lowercase``, ``invalid
    repository name (<hex>), cannot specify 64-byte hexadecimal strings``.
    """
    if _ANCHORED_ID_RE.match(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidArgument(f"{INVALID}: repository name ({remote}) must be lowercase")
    m = _REFERENCE_RE.match(f"{domain}/{remainder}")
    if m is None or not text:
        raise InvalidArgument(INVALID)
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(
            f"{INVALID}: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    if digest is not None and not _SHA256_DIGEST_RE.match(digest):
        raise InvalidArgument("invalid digest format")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(name, tag, digest)
