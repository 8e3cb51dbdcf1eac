"""Which attributes are context: who or where a customer is, and how long they have been one.

A retention team can change a customer's plan, price or support, never their age, their state
or how many months they have been with the company. A reason built on such an attribute is
context (``actionable: false``): it comes after the reasons someone can act on and never picks
an action. The attribute's name decides, word by word (:func:`~churn.data.inference.name_words`,
so ``SeniorCitizen``, ``Customer_Age`` and ``Tenure in Months`` all read).

Pure: a name in, a yes or no out.
"""

from __future__ import annotations

from itertools import pairwise

from churn.data.inference import name_words

GEOGRAPHY_WORDS = frozenset(
    {
        *("state", "city", "town", "country", "county", "province", "region", "geography"),
        *("territory", "area", "zip", "zipcode", "postcode", "postal", "location", "address"),
        *("latitude", "lat", "longitude", "lng"),
    }
)
"""Where the customer is: ``State``, ``Area code``, ``Zip Code``, ``Latitude``."""

DEMOGRAPHIC_WORDS = frozenset(
    {
        *("age", "gender", "sex", "birth", "born", "birthday", "birthdate", "dob"),
        *("married", "marital", "partner", "spouse", "household"),
        *("dependent", "dependents", "children", "child", "kids", "kidhome", "teenhome"),
        *("senior", "education", "income", "salary", "occupation", "job", "profession"),
        *("race", "ethnicity", "ethnic", "religion", "language", "nationality"),
    }
)
"""Who the customer is: ``Customer_Age``, ``SeniorCitizen``, ``Partner`` (has one),
``Dependent_count``, ``Income_Category``, ``EstimatedSalary``."""

ACCOUNT_AGE_WORDS = frozenset(
    {"tenure", "vintage", "seniority", "signup", "joined", "join", "registration"}
)
"""How long the customer has been one: ``tenure``, a signup date's days before the cutoff."""

ACCOUNT_AGE_PHRASES = frozenset(
    {
        ("account", "length"),  # Orange's "Account length", in days
        ("on", "book"),  # BankChurners' Months_on_book
        ("sign", "up"),
        ("signed", "up"),
        ("customer", "since"),
        ("member", "since"),
        ("client", "since"),
        ("created", "at"),
        ("date", "created"),
        ("created", "date"),
        ("creation", "date"),
        ("account", "created"),
        ("account", "creation"),
    }
)
"""Consecutive words that say how long the account has existed, where one word alone would
not: "since" is also in "days since the last purchase", "created" in "tickets created"."""

ALONE_WORDS = frozenset({"long", "lon"})
"""Words that are a coordinate only as the whole name: ``Long`` is a longitude, but "Total
Long Distance Charges" is a call charge someone can act on."""

CONTEXT_WORDS = GEOGRAPHY_WORDS | DEMOGRAPHIC_WORDS | ACCOUNT_AGE_WORDS


def is_context_attribute(name: str) -> bool:
    """Whether the attribute ``name`` describes who or where a customer is or how long they
    have been one (a word of :data:`CONTEXT_WORDS`, a pair of :data:`ACCOUNT_AGE_PHRASES`, or
    a name that is just ``long``): ``Area code`` and ``Tenure in Months`` yes, ``Contract``,
    ``Monthly Charge`` and ``Total Long Distance Charges`` no."""
    words = name_words(name)
    if set(words) & CONTEXT_WORDS or (len(words) == 1 and words[0] in ALONE_WORDS):
        return True
    return any(pair in ACCOUNT_AGE_PHRASES for pair in pairwise(words))
