"""The four people the original seeded on the leader's first start; its sample expects them."""

from __future__ import annotations

from database_service.models import Person

__all__ = ["SEED_PEOPLE"]

SEED_PEOPLE: tuple[Person, ...] = (
    Person(id="e0a08c5b-62d5-4b20-a024-e1c270d901c2", firstName="Niklas", lastName="Heidloff"),
    Person(id="93115462-543c-4149-9b75-2b1a84bd326c", firstName="Adam", lastName="Deleeuw"),
    Person(id="dd35e011-093b-4c63-9d54-040a5dc3d28f", firstName="Thomas", lastName="Suedbroecker"),
    Person(id="918b0da0-afda-4cbf-a370-0347a6ede98e", firstName="Alain", lastName="Airom"),
)
