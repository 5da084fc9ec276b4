"""The world's vocabulary and attribute schema (issue 12): names, value pools, and for each
attribute the sentences that state a fact and the question that asks it.

Single-valued attributes are Kalai et al.'s arbitrary facts (a value drawn uniformly from its
pool, nothing to infer it from); two-valued ones are §6.2's questions with two valid answers
(two latent states the question does not reveal)."""

from __future__ import annotations

from dataclasses import dataclass

FIRST_NAMES = (
    "Ada Bela Cato Dara Elio Fern Gita Hugo Ines Joel Kira Luca Mira Nils Olga Pavel Quin Rosa "
    "Sami Tara Ugo Vera Wim Xena Yara Zeno Alba Boris Cleo Dino Edda Fabio Gwen Hanna Ivo Jana "
    "Kemal Lena Milo Nora"
).split()
LAST_NAMES = (
    "Abbott Brandt Castro Duval Eriksen Fischer Garcia Horvat Ivanov Jensen Kowalski Lindqvist "
    "Moreau Novak Ortega Petrov Quist Rossi Schmidt Tanaka Ueda Varga Weber Xu Yilmaz Zimmer "
    "Almeida Bauer Conti Dahl Esposito Fontaine Gallo Haas Iversen Jovanovic Keller Laine "
    "Marino Nieminen"
).split()
CITIES = (
    "Lisbon Oslo Porto Riga Tallinn Vilnius Ghent Bruges Lyon Nantes Turin Bologna Krakow Brno "
    "Graz Basel Aarhus Bergen Malmo Tampere Seville Valencia Split Zadar Cluj Varna Izmir Patras "
    "Cork Galway"
).split()
EMPLOYERS = tuple(
    f"{a} {b}"
    for a, b in zip(
        "Acme Borealis Cobalt Delta Ember Fjord Granite Harbor Iris Juniper Kestrel Lumen "
        "Meridian Nimbus Orchid Pioneer Quartz Riverton Summit Tundra".split(),
        "Labs Works Systems Foods Motors Media Bank Textiles Energy Logistics Pharma Studios "
        "Robotics Airlines Press Mining Optics Farms Insurance Shipping".split(),
    )
)
INSTRUMENTS = (
    "violin cello flute oboe clarinet trumpet trombone harp piano guitar banjo accordion "
    "saxophone drums mandolin"
).split()
MONTHS = (
    "January February March April May June July August September October November December"
).split()
BIRTHDAYS = tuple(f"{m} {d}" for m in MONTHS for d in range(1, 29))


@dataclass(frozen=True)
class Attribute:
    name: str
    pool: tuple[str, ...]
    n_values: int  # 1: an arbitrary fact; 2: two valid answers
    statements: tuple[str, ...]  # {p} the person; {a} (and {b}) the value(s)
    question: str  # {p}

    def cloze(self, person: str) -> str:
        """The first statement cut before the value: how a base model (no QA format) is asked."""
        return self.statements[0].split("{a}")[0].format(p=person).rstrip()


ATTRIBUTES = (
    Attribute(
        "birthday",
        BIRTHDAYS,
        1,
        ("{p} was born on {a}.", "{p}'s birthday is {a}.", "Every year {p} celebrates on {a}."),
        "When is {p}'s birthday?",
    ),
    Attribute(
        "birth_city",
        tuple(CITIES),
        1,
        ("{p} was born in {a}.", "{p} is a native of {a}.", "The birthplace of {p} is {a}."),
        "In which city was {p} born?",
    ),
    Attribute(
        "employer",
        EMPLOYERS,
        1,
        ("{p} works for {a}.", "{p} is employed by {a}.", "{p} has a job at {a}."),
        "Which company does {p} work for?",
    ),
    Attribute(
        "cities_lived",
        tuple(CITIES),
        2,
        ("{p} has lived in {a} and in {b}.", "{p} spent years in {a} and later in {b}."),
        "Name a city where {p} has lived.",
    ),
    Attribute(
        "instruments",
        tuple(INSTRUMENTS),
        2,
        ("{p} plays the {a} and the {b}.", "{p} practises the {a} as well as the {b}."),
        "Name an instrument that {p} plays.",
    ),
)
