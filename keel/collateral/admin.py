from django.contrib import admin

from keel.collateral.models import Collateral, CollateralRequest

admin.site.register(Collateral)
admin.site.register(CollateralRequest)
