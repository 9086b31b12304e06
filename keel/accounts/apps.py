from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "keel.accounts"
    verbose_name = "Accounts"
