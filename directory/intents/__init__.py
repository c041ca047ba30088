"""Repair intents: from a vehicle and its fault codes or jobs to the workshops able to fix it."""
