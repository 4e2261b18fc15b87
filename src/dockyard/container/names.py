"""Random container names in Docker's ``adjective_surname`` style, and name validation."""

from __future__ import annotations

import os
import re

from dockyard.errors import InvalidArgument

_VALID = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")

ADJECTIVES = (
    "admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold "
    "boring brave busy charming clever compassionate competent condescending confident cool "
    "cranky crazy dazzling determined distracted dreamy eager ecstatic elastic elated elegant "
    "eloquent epic exciting fervent festive flamboyant focused friendly frosty funny gallant "
    "gifted goofy gracious great happy hardcore heuristic hopeful hungry infallible inspiring "
    "intelligent interesting jolly jovial keen kind laughing loving lucid magical modest "
    "musing mystifying naughty nervous nice nifty nostalgic objective optimistic peaceful "
    "pedantic pensive practical priceless quirky quizzical recursing relaxed reverent romantic "
    "sad serene sharp silly sleepy stoic strange stupefied suspicious sweet tender thirsty "
    "trusting unruffled upbeat vibrant vigilant vigorous wizardly wonderful xenodochial "
    "youthful zealous zen"
).split()

SURNAMES = (
    "albattani allen almeida agnesi archimedes ardinghelli aryabhata austin babbage banach "
    "bardeen bartik bassi beaver bell bhabha bhaskara black blackburn blackwell bohr booth "
    "borg bose bouman boyd brahmagupta brattain brown buck burnell cannon carson cartwright "
    "cerf chandrasekhar chaplygin chatelet chatterjee chebyshev cohen curie darwin davinci "
    "dewdney dhawan diffie dijkstra dirac driscoll dubinsky easley edison einstein elbakyan "
    "elgamal elion ellis engelbart euclid euler faraday feistel fermat fermi feynman franklin "
    "gagarin galileo gates gauss germain goldberg goldstine goldwasser golick goodall gould "
    "greider grothendieck haibt hamilton haslett hawking heisenberg hellman hermann herschel "
    "hertz heyrovsky hodgkin hofstadter hoover hopper hugle hypatia jackson jang jemison "
    "jennings jepsen johnson joliot jones kalam kapitsa kare keldysh keller kepler khayyam "
    "khorana kilby kirch knuth kowalevski lalande lamarr lamport leakey leavitt lederberg "
    "lehmann lewin lichterman liskov lovelace lumiere mahavira margulis matsumoto maxwell "
    "mayer mccarthy mcclintock mclaren mclean mcnulty meitner mendel mendeleev meninsky merkle "
    "mestorf mirzakhani moore morse moser murdock napier nash neumann newton nightingale nobel "
    "noether northcutt noyce panini pare pascal pasteur payne perlman pike poincare poitras "
    "proskuriakova ptolemy raman ramanujan ride ritchie rhodes robinson roentgen rosalind "
    "rubin saha sammet sanderson satoshi shamir shannon shaw shirley shockley shtern sinoussi "
    "snyder solomon spence stonebraker sutherland swanson swartz swirles taussig tesla tharp "
    "thompson torvalds tu turing varahamihira vaughan visvesvaraya volhard villani wescoff "
    "wilbur wiles williams williamson wilson wing wozniak wright wu yalow yonath zhukovsky"
).split()


def _choice(words: list[str]) -> str:
    # os.urandom, not the random module: its import (hashlib's _sha512, bisect) is paid
    # by every run; 32 bits modulo a few hundred words is as even as random.choice.
    return words[int.from_bytes(os.urandom(4), "little") % len(words)]


def random_name() -> str:
    """A name like ``focused_turing`` (Docker never picks ``boring_wozniak``)."""
    while True:
        name = f"{_choice(ADJECTIVES)}_{_choice(SURNAMES)}"
        if name != "boring_wozniak":
            return name


def validate_name(name: str) -> str:
    """Return ``name`` without a leading ``/``; raise InvalidArgument as Docker does."""
    if not _VALID.match(name):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.lstrip("/")
