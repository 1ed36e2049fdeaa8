"""Customer-support messages to route to a team: the text case study's offline demo corpus.

No labelled text corpus ships with the packages this project can install, so
the project generates one, seeded and deterministic. It is built to be
realistic enough that a bag of words is not a perfect classifier:

- each team (billing, shipping, technical) has many phrasings of its
  requests, sharing words with the others ("order", "account", "app", "charge");
- a third of the messages also mention another team's topic in passing
  ("I paid already, but the tracking page crashes"), labelled by the request;
- words carry typos (about 1 in 30), and 4% of the labels are wrong, as in
  real ticket queues routed by people.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

CLASSES = ("billing", "shipping", "technical")

_REQUESTS = {
    "billing": [
        "I was charged twice for order {order}",
        "my card was billed {amount} but the invoice says {amount2}",
        "please refund the charge on my account from {day}",
        "why did my subscription renew without asking me",
        "the invoice for order {order} has the wrong VAT number",
        "can I get a receipt for the payment I made on {day}",
        "I cancelled my plan but you still took {amount}",
        "the discount code was not applied to my bill",
        "how do I change the credit card on my account",
        "there is a charge of {amount} I do not recognise",
    ],
    "shipping": [
        "my order {order} has not arrived yet",
        "the package was delivered to the wrong address",
        "tracking for order {order} has not moved since {day}",
        "can you ship to a different address than on my account",
        "the box arrived damaged and the {item} is broken",
        "how long does delivery take to {city}",
        "the courier says the parcel was returned to you",
        "I only received one of the two items in order {order}",
        "can I pick up the order at a store in {city} instead",
        "the delivery was marked done but nothing is at my door",
    ],
    "technical": [
        "the app crashes when I open the {screen} screen",
        "I cannot log in to my account since the update",
        "the {item} does not connect to wifi anymore",
        "the website shows an error when I click {screen}",
        "firmware update failed and now the {item} will not start",
        "the sync between the app and the {item} stopped on {day}",
        "I get error code {code} every time I try to pair",
        "the {item} keeps rebooting every few minutes",
        "notifications stopped working on my phone",
        "password reset email never arrives, so I cannot sign in",
    ],
}
_ASIDES = {
    "billing": ["I already paid for it", "the bill was fine", "my card is up to date"],
    "shipping": ["the parcel came on time", "tracking shows it delivered", "the box was fine"],
    "technical": ["the app works otherwise", "I use the latest version", "the order page loads"],
}
_OPENINGS = ["", "", "Hi,", "Hello team,", "Good morning.", "Hey", "To whom it may concern,"]
_CLOSINGS = ["", "", "Thanks.", "Please help!", "Regards, Sam", "This is urgent.", "Cheers"]
_FILL = {
    "order": lambda r: f"#{r.randint(10000, 99999)}",
    "amount": lambda r: f"${r.randint(5, 300)}.{r.randint(0, 99):02d}",
    "amount2": lambda r: f"${r.randint(5, 300)}.{r.randint(0, 99):02d}",
    "day": lambda r: r.choice(["Monday", "last week", "March 3", "yesterday", "the 12th"]),
    "item": lambda r: r.choice(["thermostat", "sensor", "camera", "hub", "doorbell"]),
    "city": lambda r: r.choice(["Lyon", "Austin", "Leeds", "Osaka", "Porto"]),
    "screen": lambda r: r.choice(["orders", "settings", "account", "checkout", "history"]),
    "code": lambda r: f"E{r.randint(100, 999)}",
}


def generate_messages(count: int = 1500, seed: int = 0) -> list[dict]:
    """`count` messages as {"text", "label"}, the classes in equal shares."""
    rng = random.Random(seed)
    messages = []
    for i in range(count):
        label = CLASSES[i % len(CLASSES)]
        request = rng.choice(_REQUESTS[label])
        request = request.format(**{key: fill(rng) for key, fill in _FILL.items()})
        parts = [rng.choice(_OPENINGS), request[0].upper() + request[1:] + "."]
        if rng.random() < 1 / 3:
            other = rng.choice([c for c in CLASSES if c != label])
            parts.insert(1 if rng.random() < 0.5 else 2, rng.choice(_ASIDES[other]) + ",")
        parts.append(rng.choice(_CLOSINGS))
        text = " ".join(_typo(word, rng) for word in " ".join(p for p in parts if p).split())
        if rng.random() < 0.04:
            label = rng.choice([c for c in CLASSES if c != label])
        messages.append({"text": text, "label": label})
    rng.shuffle(messages)
    return messages


def write_messages_jsonl(path: str | Path, count: int = 1500, seed: int = 0) -> Path:
    """Write the corpus as JSON Lines (text, label), through a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    lines = (json.dumps(m, ensure_ascii=False) for m in generate_messages(count, seed))
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or rng.random() > 1 / 30:
        return word
    i = rng.randrange(len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
