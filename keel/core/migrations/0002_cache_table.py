"""The shared cache's table (KEEL_CACHE_URL=db, production's default), made by `migrate`
so that no deployment depends on remembering `keel createcachetable`."""

from django.core.management import call_command
from django.db import migrations


def cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(cache_table, migrations.RunPython.noop)]
