from typing import Any

from django import forms

from keel.imports.models import ImportKind
from keel.imports.presets import field_specs
from keel.pipeline.models import SalesProcess

MAX_UPLOAD = 100 * 1024 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV (UTF-8 or Windows-1252; comma, semicolon or tab) or XLSX."
    )
    kind = forms.ChoiceField(label="What the file holds")

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(ImportKind.choices)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)  # noqa: S101 - declared above
        kind.choices = [(k, labels[k]) for k in kinds]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError("The file is over 100 MB: import it with `keel import`.")
        return upload


class MappingForm(forms.Form):
    """A select per column of the file (which Keel field it fills), the process, the date
    format, and a select per stage the file names that the process does not have."""

    process = forms.ModelChoiceField(queryset=SalesProcess.objects.filter(is_active=True))
    date_format = forms.CharField(
        required=False,
        help_text="Only for ambiguous dates such as 05/06/2026: e.g. %d/%m/%Y or %m/%d/%Y.",
    )

    def __init__(
        self,
        *args: Any,
        kind: str,
        headers: list[str],
        samples: list[list[str]],
        stage_names: list[str],
        process_stages: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [("", "— ignore —")] + [(s.name, s.label) for s in field_specs(kind).values()]
        self.column_names = []
        for i, header in enumerate(headers):
            name = f"column_{i}"
            example = ", ".join(v for v in samples[i] if v)[:80]
            self.fields[name] = forms.ChoiceField(
                label=header or f"(column {i + 1})",
                choices=choices,
                required=False,
                help_text=f"e.g. {example}" if example else "",
            )
            self.column_names.append(name)
        if kind != "deals":
            del self.fields["process"]
        known = {s.casefold() for s in process_stages}
        self.stage_fields: dict[str, str] = {}
        stage_choices = [("", "— unmapped: rows are rejected —")] + [(s, s) for s in process_stages]
        for i, stage in enumerate(n for n in stage_names if n.casefold() not in known):
            name = f"stage_{i}"
            self.fields[name] = forms.ChoiceField(
                label=f"Their stage “{stage}”", choices=stage_choices, required=False
            )
            self.stage_fields[name] = stage

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen: dict[str, str] = {}
        for i, name in enumerate(self.column_names):
            field = data.get(name)
            if field:
                if field in chosen:
                    self.add_error(name, f"{field} is already filled by “{chosen[field]}”.")
                chosen[field] = self.headers[i]
        data["mapping"] = chosen
        data["stage_map"] = {
            stage: data[name] for name, stage in self.stage_fields.items() if data.get(name)
        }
        return data

    def column_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.column_names]

    def stage_map_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.stage_fields]
