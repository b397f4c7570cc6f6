"""Django's own ORM as an oracle for solidb_odm's queries (issue 9's proof).

The same random rows go into Django (in-memory SQLite) and into the ODM (a
real server); the same random filter trees, built once as a neutral tree
(``trees``), are translated to ``django.db.models.Q`` and ``solidb_odm.Q``
(``translate``) and their answers compared by ``tests/query/test_django_oracle.py``.

Importing this package configures Django, in code (:func:`configure`), so
that ``models`` can be imported; :func:`create_table` makes the table.
"""

from __future__ import annotations

SETTINGS = {
    "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    "INSTALLED_APPS": ["tests.query.django_oracle"],
    "USE_TZ": True,
    # transforms (``__year``, ``__date``...) of aware datetimes are taken in the
    # current time zone; the ODM normalises datetimes to UTC, so UTC it is
    "TIME_ZONE": "UTC",
    "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
}


def configure() -> None:
    """Configure Django once per process, with the oracle's app installed."""
    import django
    from django.apps import apps
    from django.conf import settings

    if not settings.configured:
        settings.configure(**SETTINGS)
        django.setup()
    elif not apps.is_installed("tests.query.django_oracle"):
        raise RuntimeError(
            "Django was configured elsewhere in this process without the oracle's app "
            "(tests.query.django_oracle); run the oracle test in its own process"
        )


def create_table() -> None:
    """Create the oracle's table in the in-memory database (once per process)."""
    from django.db import connection

    from .models import OracleRow

    if OracleRow._meta.db_table not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(OracleRow)


configure()
