"""Stage history is append-only: the database itself refuses an UPDATE of a StageChange."""

from django.db import migrations

SQLITE_UP = """
CREATE TRIGGER pipeline_stagechange_append_only BEFORE UPDATE ON pipeline_stagechange
BEGIN SELECT RAISE(ABORT, 'stage history is append-only'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS pipeline_stagechange_append_only;"

POSTGRES_UP = """
CREATE FUNCTION pipeline_stagechange_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'stage history is append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER pipeline_stagechange_append_only BEFORE UPDATE ON pipeline_stagechange
FOR EACH ROW EXECUTE FUNCTION pipeline_stagechange_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS pipeline_stagechange_append_only ON pipeline_stagechange;
DROP FUNCTION IF EXISTS pipeline_stagechange_append_only();
"""


def _run(sql: dict[str, str]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        schema_editor.execute(sql[schema_editor.connection.vendor])

    return run


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
