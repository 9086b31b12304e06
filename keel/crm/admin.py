from django.contrib import admin

from keel.crm.models import Company, Contact


class ContactInline(admin.TabularInline[Contact, Company]):
    model = Contact
    fields = ["first_name", "last_name", "email", "title", "buying_role", "funnel_stage"]
    readonly_fields = ["funnel_stage"]
    extra = 0
    show_change_link = True


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin[Company]):
    list_display = ["name", "domain", "industry", "tier", "owner", "funnel_stage"]
    list_filter = ["tier", "funnel_stage", "industry", "region"]
    search_fields = ["name", "domain", "external_id"]
    list_select_related = ["owner"]
    readonly_fields = ["funnel_stage", "funnel_stage_since"]
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
    list_display = ["__str__", "company", "title", "buying_role", "funnel_stage"]
    list_filter = ["buying_role", "funnel_stage", "channel", "consent"]
    search_fields = ["first_name", "last_name", "email", "company__name"]
    list_select_related = ["company"]
    raw_id_fields = ["company", "referred_by"]
    readonly_fields = ["funnel_stage", "funnel_stage_since"]
