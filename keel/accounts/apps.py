from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "keel.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from keel.accounts import receivers

        user_logged_in.connect(receivers.on_signed_in, dispatch_uid="keel.accounts.signed_in")
        user_logged_out.connect(receivers.on_signed_out, dispatch_uid="keel.accounts.signed_out")
