"""Small labelled sets written for the book: sentiment, extractive QA and match-report summaries (chapter 13).

Every set is generated from templates with a seed, and split so that the held-out part uses
words the training part never contains (other subjects and phrases, other names and places):
its accuracy measures generalisation, not memory.
"""

from __future__ import annotations

import random
import re

__all__ = ["sentiment_examples", "qa_examples", "summary_pairs", "SENTIMENT_LABELS"]

SENTIMENT_LABELS = ("negative", "positive")  # label id 0, 1

_SUBJECTS = (
    "The film|This phone|The hotel|The pasta|Our waiter|The concert|This laptop|The new update|The museum tour|"
    "This novel|The coffee|The train ride|The customer service|This game|The lecture|The headphones|The apartment|"
    "The play|The soup|The app|The guided hike|This camera|The bakery|The flight|The keyboard|The workshop|"
    "The pizza|The sequel|This jacket|The delivery"
).split("|")
_POSITIVE = (
    "was absolutely wonderful|exceeded all my expectations|made my whole day|is worth every penny|works perfectly|"
    "was a real delight|left me smiling for hours|is the best I have ever tried|was fantastic from start to finish|"
    "impressed everyone I know|felt warm and welcoming|was beautifully made|turned out to be a lovely surprise|"
    "was fun and easy to enjoy|deserves all the praise it gets|was not bad at all|could not have been better|"
    "was friendly, quick and helpful|is a joy to use every day|was brilliant"
).split("|")
_NEGATIVE = (
    "was a complete waste of time|broke after two days|left me deeply disappointed|is far too expensive for what it is|"
    "was painfully boring|never worked properly|was cold and tasteless|made me angry|was the worst I have ever had|"
    "fell apart almost immediately|was rude and unhelpful|arrived late and damaged|was a total letdown|"
    "felt cheap and flimsy|ruined the whole evening|was not worth the money|did not live up to the hype|"
    "was slow, noisy and confusing|is a pain to use every day|was awful"
).split("|")
_OPENERS = ("", "Honestly, ", "To be fair, ", "In short, ", "Well, ")


def _split(items, fraction: float, rng: random.Random) -> tuple[list, list]:
    items = list(items)
    rng.shuffle(items)
    n_test = max(1, round(fraction * len(items)))
    return items[n_test:], items[:n_test]


def sentiment_examples(n_train: int = 400, n_test: int = 120, seed: int = 0) -> tuple[list, list]:
    """``(train, test)`` lists of ``(sentence, label)``; label 1 = positive. Test subjects and phrases are unseen."""
    if n_train < 2 or n_test < 2:
        raise ValueError(f"need at least 2 training and 2 test sentences, got {n_train} and {n_test}")
    rng = random.Random(seed)
    subjects, phrases = _split(_SUBJECTS, 0.3, rng), [_split(p, 0.3, rng) for p in (_NEGATIVE, _POSITIVE)]

    def draw(part: int, n: int) -> list[tuple[str, int]]:
        rng = random.Random(10 * seed + part + 1)  # the test set does not depend on n_train
        out = []
        for i in range(n):
            label = i % 2  # balanced classes
            opener, subject = rng.choice(_OPENERS), rng.choice(subjects[part])
            phrase = rng.choice(phrases[label][part])
            out.append((f"{opener}{subject if not opener else subject[0].lower() + subject[1:]} {phrase}.", label))
        rng.shuffle(out)
        return out

    return draw(0, n_train), draw(1, n_test)


_NAMES = (
    "Anna Berg|Tomas Lind|Maria Costa|Jonas Weber|Elena Rossi|Pavel Novak|Sofia Marin|Lukas Brandt|Nina Holm|"
    "Omar Haddad|Clara Vidal|Ivan Petrov|Lea Fischer|Marco Conti|Hanna Sato|David Levin|Eva Kowalski|Samuel Okafor|"
    "Julia Moreau|Karl Jensen|Rosa Almeida|Felix Wagner|Ines Duarte|Leo Hartmann"
).split("|")
_CITIES = (
    "Lisbon|Krakow|Toronto|Nairobi|Bergen|Valencia|Osaka|Leeds|Dresden|Porto|Quito|Tallinn|Perth|Lyon|Turin|Cork|"
    "Graz|Malmo|Utrecht|Bilbao|Gdansk|Adelaide|Accra|Hobart"
).split("|")
_JOBS = "nurse|teacher|pilot|chemist|carpenter|journalist|architect|baker|engineer|librarian|lawyer|farmer".split("|")
_SUBJECTS_STUDIED = "physics|music|history|medicine|law|biology|painting|economics|geology|poetry".split("|")
_MATERIALS = "stone|steel|brick|wood|concrete|glass|granite|iron".split("|")
_BUILDINGS = ("bridge", "long"), ("tower", "tall"), ("library", "long"), ("lighthouse", "tall"), ("station", "long")


def _person(rng, names, cities) -> tuple[str, list]:
    name, (born, worked) = rng.choice(names), rng.sample(cities, 2)
    year, job, field_ = str(rng.randint(1900, 1999)), rng.choice(_JOBS), rng.choice(_SUBJECTS_STUDIED)
    first = name.split()[0]
    passage = rng.choice(
        (
            f"{name} was born in {born} in {year}. {first} studied {field_} and later worked as a {job} in {worked}.",
            f"After studying {field_}, {name} worked as a {job} in {worked}. {first} was born in {year} in {born}.",
        )
    )
    questions = [
        (f"Where was {name} born?", born),
        (f"In which year was {name} born?", year),
        (f"What did {name} study?", field_),
        (f"What did {name} work as?", job),
        (f"In which city did {name} work?", worked),
    ]
    return passage, questions


def _building(rng, names, cities) -> tuple[str, list]:
    (kind, dim), town, builder = rng.choice(_BUILDINGS), rng.choice(cities), rng.choice(names)
    year, size, material = str(rng.randint(1800, 2020)), f"{rng.randint(12, 480)} metres", rng.choice(_MATERIALS)
    passage = rng.choice(
        (
            f"The {kind} of {town} was built in {year} by {builder}. It is {size} {dim} and made of {material}.",
            f"Made of {material} and {size} {dim}, the {kind} of {town} was designed by {builder} in {year}.",
        )
    )
    questions = [
        (f"When was the {kind} of {town} built?", year),
        (f"Who built the {kind} of {town}?", builder),
        (f"What is the {kind} of {town} made of?", material),
        (f"How {dim} is the {kind} of {town}?", size),
    ]
    return passage, questions


def qa_examples(n_train: int = 600, n_test: int = 100, seed: int = 0) -> tuple[list, list]:
    """``(train, test)`` lists of dicts ``question, context, answer, answer_start``; test names/places are unseen."""
    if n_train < 1 or n_test < 1:
        raise ValueError(f"need at least one training and one test example, got {n_train} and {n_test}")
    rng = random.Random(seed)
    names, cities = _split(_NAMES, 0.3, rng), _split(_CITIES, 0.3, rng)

    def draw(part: int, n: int) -> list[dict]:
        rng = random.Random(10 * seed + part + 1)  # the test set does not depend on n_train
        out = []
        while len(out) < n:
            make = rng.choice((_person, _building))
            context, questions = make(rng, names[part], cities[part])
            question, answer = rng.choice(questions)
            start = re.search(rf"\b{re.escape(answer)}\b", context).start()  # a whole word, not inside one
            out.append({"question": question, "context": context, "answer": answer, "answer_start": start})
        return out

    return draw(0, n_train), draw(1, n_test)


_TEAMS = (
    "Lions|Tigers|Eagles|Sharks|Wolves|Bears|Hawks|Foxes|Owls|Rovers|Rangers|Comets|Giants|Pirates|Falcons|"
    "Bulls|Dragons|Panthers|Ravens|Stags"
).split("|")
_REPORTS = (
    "On {day} in {city}, the {win} beat the {lose} {a} to {b} after a {adj} game.",
    "In front of {fans} fans in {city} on {day}, the {lose} lost {b} to {a} against the {win}.",
    "The {win} won {a}-{b} against the {lose} in {city} on {day}, a {adj} result for them.",
    "It was a {adj} {day} in {city}: the {win} scored {a} goals and the {lose} only {b}.",
)


def summary_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct (match report, one-line summary) pairs: "{winner} beat {loser} {a}-{b}"."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng, pairs = random.Random(seed), {}
    days = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday".split("|")
    adjectives = "tense|long|wet|windy|lively|scrappy|thrilling|slow".split("|")
    while len(pairs) < n:
        win, lose = rng.sample(_TEAMS, 2)
        a = rng.randint(1, 9)
        fields = dict(win=win, lose=lose, a=a, b=rng.randint(0, a - 1), day=rng.choice(days))
        fields.update(city=rng.choice(_CITIES), adj=rng.choice(adjectives), fans=rng.choice(("800", "2,000", "15,000")))
        pairs.setdefault(rng.choice(_REPORTS).format(**fields), "{win} beat {lose} {a}-{b}".format(**fields))
    return list(pairs.items())
