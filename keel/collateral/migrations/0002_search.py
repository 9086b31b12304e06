"""Full-text search over the library's titles and descriptions, each database its own way.

SQLite: an FTS5 table holding only the index (external content: the text stays in
collateral_collateral), kept by triggers. PostgreSQL: a GIN index on the same expression
collateral/selectors.py searches with, so a search reads the index.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

SQLITE_CREATE = [
    """CREATE VIRTUAL TABLE collateral_search USING fts5(
        title, description,
        content='collateral_collateral', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER collateral_search_insert AFTER INSERT ON collateral_collateral BEGIN
        INSERT INTO collateral_search(rowid, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    """CREATE TRIGGER collateral_search_delete AFTER DELETE ON collateral_collateral BEGIN
        INSERT INTO collateral_search(collateral_search, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
    END""",
    """CREATE TRIGGER collateral_search_update
    AFTER UPDATE OF title, description ON collateral_collateral BEGIN
        INSERT INTO collateral_search(collateral_search, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
        INSERT INTO collateral_search(rowid, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    "INSERT INTO collateral_search(collateral_search) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS collateral_search_update",
    "DROP TRIGGER IF EXISTS collateral_search_delete",
    "DROP TRIGGER IF EXISTS collateral_search_insert",
    "DROP TABLE IF EXISTS collateral_search",
]
POSTGRES_CREATE = [
    """CREATE INDEX collateral_search ON collateral_collateral
    USING GIN (to_tsvector('simple'::regconfig, title || ' ' || description))""",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS collateral_search"]


def _run(schema_editor: BaseDatabaseSchemaEditor, statements: dict[str, list[str]]) -> None:
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE})


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP})


class Migration(migrations.Migration):
    dependencies = [("collateral", "0001_library")]

    operations = [migrations.RunPython(forwards, backwards)]
