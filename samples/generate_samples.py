"""Generate the two sample CSV files of the Marketing and Sales ETL sample.

The AWS sample used two public Amazon QuickSight sample datasets. This script writes synthetic stand-ins of
the same shape, deterministically (fixed seed, standard library only), so that

    python samples/generate_samples.py                 # rewrites samples/*.csv byte-identically
    python samples/generate_samples.py --out-dir DIR   # writes the same two files into DIR

- ``SalesPipeline_QuickSightSample.csv``: about 21,000 sales-opportunity status entries dated 2011-2016. Each
  opportunity starts as a ``Lead`` and moves through Prospect, Qualified and Contracting to Closed Won or
  Closed Lost (or stalls); every step is one row, the last one flagged ``Latest Status Entry``.
- ``MarketingData_QuickSightSample.csv``: one row of online-marketing metrics per day, 2013-01-01 to
  2016-12-31, with growth, weekly and seasonal patterns, cumulative columns that accumulate the daily adds,
  and an occasional marketing event in the last column.

Dates are written ``M/D/YYYY`` without zero padding, booleans ``TRUE``/``FALSE``, amounts as integers, and no
field contains a comma or a quote.
"""

from __future__ import annotations

import argparse
import math
import random
from datetime import date, timedelta
from pathlib import Path

SEED = 20180612

SALES_FILE = "SalesPipeline_QuickSightSample.csv"
MARKETING_FILE = "MarketingData_QuickSightSample.csv"

SALES_HEADER = [
    "Date",
    "Salesperson",
    "Lead Name",
    "Segment",
    "Region",
    "Target Close",
    "Forecasted Monthly Revenue",
    "Opportunity Stage",
    "Weighted Revenue",
    "Closed Opportunity",
    "Active Opportunity",
    "Latest Status Entry",
]

MARKETING_HEADER = [
    "Date",
    "New visitors SEO",
    "New visitors CPC",
    "New visitors Social Media",
    "Return visitors",
    "Twitter mentions",
    "Twitter follower adds",
    "Twitter followers cumulative",
    "Mailing list adds ",  # the trailing space is part of the original file's header
    "Mailing list cumulative",
    "Website Pageviews",
    "Website Visits",
    "Website Unique Visits",
    "Mobile uniques",
    "Tablet uniques",
    "Desktop uniques",
    "Free sign up",
    "Paid conversion",
    "Events",
]

SALES_START = date(2011, 1, 1)
SALES_END = date(2016, 12, 31)
MARKETING_START = date(2013, 1, 1)
MARKETING_END = date(2016, 12, 31)

OPEN_STAGES = ["Lead", "Prospect", "Qualified", "Contracting"]
STAGE_PROBABILITY = {
    "Lead": 0.10,
    "Prospect": 0.25,
    "Qualified": 0.50,
    "Contracting": 0.75,
    "Closed Won": 1.0,
    "Closed Lost": 0.0,
}
# Chance, at each open stage, that the opportunity advances / is lost (the rest stalls there for good).
ADVANCE = {"Lead": 0.74, "Prospect": 0.72, "Qualified": 0.70, "Contracting": 0.72}
LOST = {"Lead": 0.16, "Prospect": 0.18, "Qualified": 0.20, "Contracting": 0.20}

SEGMENTS = [("Enterprise", 0.22, 9000), ("SMB", 0.48, 2500), ("Startup", 0.30, 900)]
REGIONS = ["Northeast", "Southeast", "Midwest", "Southwest", "Northwest", "Central"]

FIRST_NAMES = [
    "Avery", "Blake", "Carmen", "Dario", "Elena", "Farid", "Greta", "Hiro", "Imani", "Jonas",
    "Keiko", "Lorenzo", "Maya", "Nadia", "Oscar", "Priya", "Quinn", "Rosa", "Samir", "Tessa",
    "Umar", "Vera", "Wendell", "Ximena", "Yusuf", "Zora",
]  # fmt: skip
LAST_NAMES = [
    "Abbott", "Brennan", "Castillo", "Delacroix", "Eriksen", "Fontaine", "Galloway", "Hartley", "Iwata",
    "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quintero", "Rasmussen",
    "Sandoval", "Thorne", "Underwood", "Valdez", "Whitaker", "Yamamoto", "Zeller",
]  # fmt: skip
COMPANY_WORDS = [
    "Acorn", "Beacon", "Birch", "Blue", "Bright", "Cedar", "Cobalt", "Copper", "Crest", "Delta", "Echo",
    "Ember", "Falcon", "Fern", "Granite", "Harbor", "Horizon", "Iron", "Juniper", "Keystone", "Lumen",
    "Maple", "Meridian", "Nimbus", "North", "Oak", "Orbit", "Pine", "Prairie", "Quarry", "Raven",
    "Ridge", "River", "Sage", "Silver", "Summit", "Tidal", "Union", "Vertex", "Willow", "Zenith",
]  # fmt: skip
COMPANY_KINDS = [
    "Analytics", "Apparel", "Biotech", "Brewing", "Builders", "Consulting", "Dental", "Design",
    "Energy", "Foods", "Freight", "Health", "Insurance", "Labs", "Logistics", "Media", "Motors",
    "Outfitters", "Partners", "Pharma", "Realty", "Robotics", "Software", "Solutions", "Systems",
    "Telecom", "Textiles", "Travel", "Ventures", "Wireless",
]  # fmt: skip
COMPANY_SUFFIXES = ["", "", "", " Inc", " LLC", " Co", " Group", " Ltd"]

EVENTS = [
    ("Email campaign", 5),
    ("Webinar", 3),
    ("Blog post", 3),
    ("Press release", 2),
    ("Trade show", 1),
    ("Product launch", 1),
    ("Conference talk", 1),
]


def mdy(day: date) -> str:
    """``M/D/YYYY`` without zero padding, as in the QuickSight sample files."""
    return f"{day.month}/{day.day}/{day.year}"


def flag(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def days(start: date, end: date):
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's Poisson sampler; fine for the small means used here."""
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def weighted_choice(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    total = sum(weight for _, weight in weighted)
    pick = rng.random() * total
    for value, weight in weighted:
        pick -= weight
        if pick < 0:
            return value
    return weighted[-1][0]


def season(day: date) -> float:
    """Seasonal multiplier: busier in spring and autumn, quiet in late December and early August."""
    angle = 2 * math.pi * (day.timetuple().tm_yday - 1) / 365.25
    value = 1.0 + 0.10 * math.sin(2 * angle - 0.6)
    if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 2):
        value *= 0.70
    if day.month == 8 and day.day <= 15:
        value *= 0.88
    return value


# --------------------------------------------------------------------------------------------------- sales


def make_people(rng: random.Random) -> list[tuple[str, str]]:
    """Salespeople with a home region."""
    names = sorted({f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(40)})
    return [(name, REGIONS[index % len(REGIONS)]) for index, name in enumerate(names)]


def make_companies(rng: random.Random) -> list[str]:
    names = set()
    while len(names) < 1800:
        names.add(f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}{rng.choice(COMPANY_SUFFIXES)}")
    return sorted(names)


def lead_mean(day: date) -> float:
    """Expected new leads on ``day``: more on weekdays, growing over the years, seasonal."""
    years = (day - SALES_START).days / 365.25
    weekday = [3.2, 3.4, 3.4, 3.3, 2.9, 1.5, 1.3][day.weekday()]
    return weekday * (0.90 + 0.06 * years) * season(day)


def sales_rows(rng: random.Random) -> list[list[str]]:
    people = make_people(rng)
    companies = make_companies(rng)
    segment_weights = [(name, int(share * 100)) for name, share, _ in SEGMENTS]
    segment_size = {name: size for name, _, size in SEGMENTS}

    entries: list[tuple[date, int, int, list[str]]] = []
    opportunity = 0
    for day in days(SALES_START, SALES_END):
        for _ in range(poisson(rng, lead_mean(day))):
            opportunity += 1
            person, home_region = rng.choice(people)
            region = home_region if rng.random() < 0.85 else rng.choice(REGIONS)
            segment = weighted_choice(rng, segment_weights)
            size = segment_size[segment] * rng.lognormvariate(0, 0.45)
            forecast = max(50, int(round(size / 10.0)) * 10)
            target_close = day + timedelta(days=rng.randint(30, 210))
            company = rng.choice(companies)

            steps: list[tuple[date, str]] = [(day, "Lead")]
            current = day
            for stage_index, stage in enumerate(OPEN_STAGES):
                roll = rng.random()
                step_day = current + timedelta(days=rng.randint(3, 40))
                if step_day > SALES_END:
                    break
                if roll < LOST[stage]:
                    steps.append((step_day, "Closed Lost"))
                    break
                if roll < LOST[stage] + ADVANCE[stage]:
                    following = (OPEN_STAGES + ["Closed Won"])[stage_index + 1]
                    steps.append((step_day, following))
                    current = step_day
                    if following == "Closed Won":
                        break
                    continue
                break  # stalled in `stage`

            closed = steps[-1][1].startswith("Closed")
            for step_number, (step_day, stage) in enumerate(steps):
                latest = step_number == len(steps) - 1
                row = [
                    mdy(step_day),
                    person,
                    company,
                    segment,
                    region,
                    mdy(target_close),
                    str(forecast),
                    stage,
                    str(int(round(forecast * STAGE_PROBABILITY[stage]))),
                    flag(stage.startswith("Closed")),
                    flag(latest and not closed),
                    flag(latest),
                ]
                entries.append((step_day, opportunity, step_number, row))
    entries.sort(key=lambda entry: entry[:3])
    return [row for _, _, _, row in entries]


# ----------------------------------------------------------------------------------------------- marketing


def noisy(rng: random.Random, value: float, spread: float = 0.08) -> float:
    return max(0.0, value * (1.0 + max(-0.35, min(0.35, rng.gauss(0.0, spread)))))


def marketing_rows(rng: random.Random) -> list[list[str]]:
    rows = []
    followers = 4200
    mailing_list = 6800
    event_rng = random.Random(rng.getrandbits(64))
    for day in days(MARKETING_START, MARKETING_END):
        years = (day - MARKETING_START).days / 365.25
        growth = 1.0 + 0.32 * years
        weekday = [1.05, 1.10, 1.08, 1.04, 0.95, 0.68, 0.62][day.weekday()]
        base = growth * weekday * season(day)

        event = ""
        if day.weekday() < 5 and event_rng.random() < 0.07:
            event = weighted_choice(event_rng, EVENTS)
        boost = 1.25 if event else 1.0

        seo = round(noisy(rng, 950 * base))
        cpc = round(noisy(rng, 420 * base * (1.0 + 0.25 * math.sin(day.month / 12 * 2 * math.pi)), 0.12))
        social = round(noisy(rng, 310 * base * boost * (1.0 + 0.12 * years), 0.15))
        returning = round(noisy(rng, 1250 * base * (1.0 + 0.05 * years)))
        visits = seo + cpc + social + returning
        unique = round(visits * rng.uniform(0.78, 0.88))
        pageviews = round(visits * rng.uniform(2.6, 3.5))

        mobile_share = min(0.55, 0.24 + 0.06 * years + rng.uniform(-0.02, 0.02))
        tablet_share = 0.11 + 0.01 * math.sin(years * 3) + rng.uniform(-0.01, 0.01)
        mobile = round(unique * mobile_share)
        tablet = round(unique * tablet_share)
        desktop = unique - mobile - tablet

        mentions = round(noisy(rng, 38 * growth * weekday * boost * (1.6 if event else 1.0), 0.25))
        follower_adds = round(noisy(rng, 14 * growth * weekday * boost, 0.3))
        followers += follower_adds
        campaign = 1.8 if event == "Email campaign" else 1.0
        mailing_adds = round(noisy(rng, 21 * growth * weekday * campaign, 0.3))
        mailing_list += mailing_adds

        free_sign_up = round(noisy(rng, (seo + cpc + social) * 0.011, 0.2))
        paid = round(free_sign_up * rng.uniform(0.08, 0.2))

        metrics = [seo, cpc, social, returning, mentions, follower_adds, followers, mailing_adds]
        metrics += [mailing_list, pageviews, visits, unique, mobile, tablet, desktop, free_sign_up, paid]
        rows.append([mdy(day), *(str(value) for value in metrics), event])
    return rows


# ---------------------------------------------------------------------------------------------------- main


def render(header: list[str], rows: list[list[str]]) -> bytes:
    for row in rows:
        for field in row:
            if "," in field or '"' in field or "\n" in field:
                raise ValueError(f"field {field!r} would need CSV quoting")
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("ascii")


def generate(out_dir: Path) -> dict[str, int]:
    """Write both files into ``out_dir``; return the number of data rows of each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    sales = sales_rows(random.Random(rng.getrandbits(64)))
    marketing = marketing_rows(random.Random(rng.getrandbits(64)))
    (out_dir / SALES_FILE).write_bytes(render(SALES_HEADER, sales))
    (out_dir / MARKETING_FILE).write_bytes(render(MARKETING_HEADER, marketing))
    return {SALES_FILE: len(sales), MARKETING_FILE: len(marketing)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write the two CSV files into (default: the folder of this script)",
    )
    args = parser.parse_args(argv)
    for name, count in generate(args.out_dir).items():
        print(f"{args.out_dir / name}: {count} rows")


if __name__ == "__main__":
    main()
