from django.contrib import admin
from django.urls import include, path

from keel.api.api import api
from keel.core import metrics
from keel.web import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("keel.accounts.auth_urls")),  # first: the limited reset
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", api.urls),
    path("settings/", include("keel.accounts.urls")),  # personal settings: API tokens
    path("imports/", include("keel.imports.urls")),
    path("webhooks/", include("keel.hooks.urls")),
    path("deals/", include("keel.pipeline.urls")),
    path("deals/<int:deal_pk>/collateral/", include("keel.collateral.deal_urls")),
    path("tasks/", include("keel.activities.urls")),
    path("scorecard/", include("keel.scorecard.urls")),
    path("leads/definitions/", include("keel.leads.definition_urls")),
    path("leads/icp/", include("keel.leads.icp_urls")),
    path("leads/campaigns/", include("keel.leads.campaign_urls")),
    path("leads/", include("keel.leads.handoff_urls")),  # hand-offs and routing rules
    path("collateral/requests/", include("keel.collateral.request_urls")),
    path("collateral/reports/", include("keel.collateral.report_urls")),
    path("collateral/", include("keel.collateral.urls")),
    path("s/", include("keel.collateral.share_urls")),  # the buyer's share links, no sign-in
    path("", include("keel.leads.urls")),  # the public lead form at f/, leads/forms/
    path("", include("keel.forecast.urls")),  # pipeline/stalled/, forecast/
    path("", include("keel.planning.urls")),  # job/, plans/
    path("", include("keel.crm.urls")),  # companies/ and contacts/
    path("", include("keel.web.urls")),  # my day at /, the pipeline board
]

# A request that fails because the database cannot be used answers 503 with a message.
handler500 = "keel.core.db_errors.server_error"
