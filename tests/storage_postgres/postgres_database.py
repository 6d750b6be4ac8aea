"""The database the Postgres tests use on the session's server.

A module of its own (not ``conftest``): a test module importing from
``conftest`` gets whichever conftest was imported first under that name.
"""

DATABASE = "rivers_tests"
