"""Keel's one settings file: everything a deployment changes comes from KEEL_* variables.

A bad value stops start-up with a message naming the variable and what is wrong, rather
than running with a silently different configuration.
"""

import ipaddress
import os
import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Any

import csp.constants
import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Lets generic classes (ModelAdmin[Deal], QuerySet[Deal]) be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no.")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def _list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = _bool("KEEL_DEBUG", False)

SECRET_KEY = os.environ.get("KEEL_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "KEEL_SECRET_KEY is not set. Set it to a long random string "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))"), '
            "or set KEEL_DEBUG=1 for a local development run."
        )
    SECRET_KEY = "django-insecure-keel-development-only"  # noqa: S105 - refused unless DEBUG

ALLOWED_HOSTS = _list("KEEL_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
# The reverse proxies whose X-Forwarded-For (and, for gunicorn, X-Forwarded-Proto) are
# believed: addresses or networks, comma-separated, or * for any (keel.core.client_address).
KEEL_FORWARDED_ALLOW_IPS = os.environ.get("KEEL_FORWARDED_ALLOW_IPS", "127.0.0.1")
try:
    for _proxy in KEEL_FORWARDED_ALLOW_IPS.split(","):
        if _proxy.strip() not in ("", "*"):
            ipaddress.ip_network(_proxy.strip(), strict=False)
except ValueError:
    raise ImproperlyConfigured(
        f"KEEL_FORWARDED_ALLOW_IPS={KEEL_FORWARDED_ALLOW_IPS!r} is not a list of addresses or "
        "networks (e.g. 127.0.0.1,10.0.0.0/8)."
    ) from None
CSRF_TRUSTED_ORIGINS = _list("KEEL_CSRF_TRUSTED_ORIGINS", [])

TIME_ZONE = os.environ.get("KEEL_TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"KEEL_TIME_ZONE={TIME_ZONE!r} is not a known time zone (e.g. Europe/Berlin, UTC)."
    ) from None
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True

# Where Keel is reached from outside, for links in webhooks and mails (no trailing slash).
KEEL_BASE_URL = os.environ.get("KEEL_BASE_URL", "").rstrip("/")
if KEEL_BASE_URL and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", KEEL_BASE_URL):
    raise ImproperlyConfigured(
        f"KEEL_BASE_URL={KEEL_BASE_URL!r} is not a URL like https://crm.example.com."
    )

KEEL_CURRENCY = os.environ.get("KEEL_CURRENCY", "EUR")
if not re.fullmatch(r"[A-Z]{3}", KEEL_CURRENCY):
    raise ImproperlyConfigured(
        f"KEEL_CURRENCY={KEEL_CURRENCY!r} is not an ISO 4217 code (three capitals, e.g. EUR, USD)."
    )


def _database(url: str) -> dict[str, Any]:
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as error:
        raise ImproperlyConfigured(
            f"KEEL_DATABASE_URL={url!r} is not a database URL ({error}). "
            "Use sqlite:///path/to/keel.sqlite3 or postgresql://user:password@host:5432/name."
        ) from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers go on while one writer commits; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue instead of failing half-way with "database is locked".
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif engine == "django.db.backends.postgresql":
        _postgresql_connections(config)
    else:
        raise ImproperlyConfigured(
            f"KEEL_DATABASE_URL uses {engine!r}; Keel runs on SQLite and PostgreSQL only."
        )
    config["TEST"] = {"NAME": os.environ.get("KEEL_TEST_DATABASE_NAME") or None}
    return config


def _postgresql_connections(config: dict[str, Any]) -> None:
    """How each process holds its PostgreSQL connections (docs/scaling.md).

    By default each thread keeps one for a minute and checks it before reuse, so a
    restarted server costs one failed request, not a worker's lifetime. KEEL_DB_POOL=N
    gives each process a psycopg pool of up to N connections instead; KEEL_DB_PGBOUNCER=1
    says a PgBouncer in transaction mode sits in between, which cannot keep the
    server-side cursors that .iterator() uses across its transactions.
    """
    config["CONN_HEALTH_CHECKS"] = True
    pool_size = _int("KEEL_DB_POOL", 0)
    if pool_size < 0:
        raise ImproperlyConfigured(f"KEEL_DB_POOL={pool_size} is not a pool size (0 is none).")
    if pool_size:
        config["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": pool_size,
            "timeout": _int("KEEL_DB_POOL_TIMEOUT", 10),
        }
    if _bool("KEEL_DB_PGBOUNCER", False):
        config["DISABLE_SERVER_SIDE_CURSORS"] = True


DATABASE_URL = os.environ.get("KEEL_DATABASE_URL") or f"sqlite:///{BASE_DIR / 'keel.sqlite3'}"
DATABASES = {"default": _database(DATABASE_URL)}
# A read replica for the reports (keel.core.replica): the scorecard, funnel, forecast and
# the lead, campaign and library reports read there; everything else, and every write,
# goes to the primary.
REPLICA_DATABASE_URL = os.environ.get("KEEL_DATABASE_REPLICA_URL", "")
if REPLICA_DATABASE_URL:
    DATABASES["replica"] = _database(REPLICA_DATABASE_URL)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["keel.core.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "keel.web",  # first, so its sign-in and password templates replace the admin's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_prometheus",
    "csp",  # its system checks catch settings of django-csp < 4
    "template_partials",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "keel.core",
    "keel.accounts",
    "keel.crm",
    "keel.pipeline",
    "keel.activities",
    "keel.scorecard",
    "keel.forecast",
    "keel.planning",
    "keel.leads",
    "keel.collateral",
    "keel.imports",
    "keel.hooks",
    "keel.api",
    "keel.demo",
]

# Background work (webhook deliveries, imports) is queued in the database itself: no extra
# server. `keel db_worker` runs the queue; any number of workers may run.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A job running longer than this is taken for lost (its worker died) by `keel jobs_recover`
# and queued again once: longer than any job takes (keel/core/jobs.py).
KEEL_JOB_LEASE_SECONDS = _int("KEEL_JOB_LEASE_SECONDS", 600)
if KEEL_JOB_LEASE_SECONDS < 60:
    raise ImproperlyConfigured(
        f"KEEL_JOB_LEASE_SECONDS={KEEL_JOB_LEASE_SECONDS} is too short: a job running that long "
        "is taken for lost and run again. Use at least 60 seconds (default 600)."
    )

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # times the whole request
    "keel.core.request_id.RequestIdMiddleware",  # first: every answer carries the id
    "keel.core.client_address.ClientAddressMiddleware",  # the client's address, not the proxy's
    "keel.core.db_errors.DatabaseErrorMiddleware",  # a lost database: 503, not a traceback
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # the Content Security Policy header
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # which device, if any, verified the session
    "keel.accounts.middleware.TwoFactorMiddleware",  # the code step after the password
    "keel.accounts.middleware.SessionActivityMiddleware",  # a person's list of sessions
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # the view's name and status
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

if not DEBUG:
    # Static files straight from the app process, compressed and cached (no web server
    # needed for them); right after the security headers, before sessions are touched.
    # (The development server serves them itself.)
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

ROOT_URLCONF = "keel.urls"
WSGI_APPLICATION = "keel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-in while an account is locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Failed sign-ins lock out one account from one address, not the whole office behind a NAT.
AXES_FAILURE_LIMIT = _int("KEEL_SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_int("KEEL_SIGNIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Two-factor sign-in (keel/accounts/two_factor.py): an authenticator app and recovery
# codes, set up by each person on /settings/two-factor/; the owner may require it of
# everyone there. Wrong codes count against the sign-in limit above, per account.
OTP_TOTP_ISSUER = os.environ.get("KEEL_TWO_FACTOR_ISSUER", "Keel")  # the name in the app
OTP_TOTP_THROTTLE_FACTOR = 1  # after n wrong codes in a row a device waits 2^(n-1) s
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a secret key or a code
# Password reset mails asked for per hour, counted apart for each mail address and each
# client address; past it the page answers as ever but sends nothing.
KEEL_PASSWORD_RESET_LIMIT = _int("KEEL_PASSWORD_RESET_LIMIT", 5)
if KEEL_PASSWORD_RESET_LIMIT < 1:
    raise ImproperlyConfigured(
        f"KEEL_PASSWORD_RESET_LIMIT={KEEL_PASSWORD_RESET_LIMIT} is not a count of at least 1 "
        "(the reset mails one address may ask for in an hour)."
    )
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:today"
LOGOUT_REDIRECT_URL = "login"

# Whose deals a salesperson sees: their whole team's (the default) or only their own.
KEEL_PIPELINE_VISIBILITY = os.environ.get("KEEL_PIPELINE_VISIBILITY", "team")
if KEEL_PIPELINE_VISIBILITY not in {"team", "own"}:
    raise ImproperlyConfigured(
        f"KEEL_PIPELINE_VISIBILITY={KEEL_PIPELINE_VISIBILITY!r} is neither 'team' nor 'own'."
    )
# Funnel analytics warn when one person or one referral source holds more than this share
# of bookings, pipeline or new leads (a fraction: 0.5 is half; 1 turns the warning off).
_concentration = os.environ.get("KEEL_CONCENTRATION_WARNING", "").strip() or "0.5"
try:
    KEEL_CONCENTRATION_WARNING = float(_concentration)
except ValueError:
    KEEL_CONCENTRATION_WARNING = float("nan")
if not 0 < KEEL_CONCENTRATION_WARNING <= 1:  # also refuses nan
    raise ImproperlyConfigured(
        f"KEEL_CONCENTRATION_WARNING={_concentration!r} is not a fraction above 0 and at most 1 "
        "(e.g. 0.5 for half)."
    )

# Stalled deals (forecast/stall_rules.py). A deal stalls when its days in its stage pass
# this percentile of the days won deals spent there (learned from the stage history once a
# stage has KEEL_STALL_MIN_STINTS finished stints of won deals; until then the stage's
# expected days), or when nothing was logged on it for KEEL_STALL_IDLE_DAYS days, or when
# its expected close date has passed.
KEEL_STALL_PERCENTILE = _int("KEEL_STALL_PERCENTILE", 80)
if not 1 <= KEEL_STALL_PERCENTILE <= 99:
    raise ImproperlyConfigured(
        f"KEEL_STALL_PERCENTILE={KEEL_STALL_PERCENTILE} is not a percentile from 1 to 99 "
        "(80: a deal stalls once it has been in its stage longer than 80% of won deals were)."
    )
KEEL_STALL_IDLE_DAYS = _int("KEEL_STALL_IDLE_DAYS", 21)
if not 1 <= KEEL_STALL_IDLE_DAYS <= 3650:
    raise ImproperlyConfigured(
        f"KEEL_STALL_IDLE_DAYS={KEEL_STALL_IDLE_DAYS} is not a number of days from 1 to 3650."
    )
KEEL_STALL_MIN_STINTS = _int("KEEL_STALL_MIN_STINTS", 20)
if KEEL_STALL_MIN_STINTS < 1:
    raise ImproperlyConfigured(
        f"KEEL_STALL_MIN_STINTS={KEEL_STALL_MIN_STINTS} is not a count of at least 1 (the "
        "finished stints of won deals a stage needs before its threshold is learned)."
    )
# API calls allowed per window, counted apart for each token (keel/api/throttling.py):
# "600/min", "20/s", "5000/hour", "100000/day", or a multiple of the unit as in "100/5min".
KEEL_API_RATE_LIMIT = os.environ.get("KEEL_API_RATE_LIMIT", "").strip() or "600/min"
_rate = re.fullmatch(r"(\d+)/(\d*)(s|sec|m|min|h|hour|d|day)", KEEL_API_RATE_LIMIT)
if _rate is None or int(_rate[1]) < 1 or int(_rate[2] or 1) < 1:
    raise ImproperlyConfigured(
        f"KEEL_API_RATE_LIMIT={KEEL_API_RATE_LIMIT!r} is not a rate like 600/min: a count of at "
        "least 1, a slash, then s, sec, m, min, h, hour, d or day (optionally after a "
        "multiple, as in 100/5min)."
    )
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("KEEL_STATIC_ROOT", BASE_DIR / "static-collected"))

# Uploaded files (the collateral library): a local folder by default, an S3-compatible
# store when KEEL_S3_BUCKET is set (pip install 'keel-crm[s3]'). Never served as static files:
# keel.collateral serves each to those allowed to see it.
MEDIA_ROOT = Path(os.environ.get("KEEL_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"
_default_storage: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if os.environ.get("KEEL_S3_BUCKET"):
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["KEEL_S3_BUCKET"],
            "endpoint_url": os.environ.get("KEEL_S3_ENDPOINT_URL") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The largest file the collateral library takes, in bytes (default 50 MB).
COLLATERAL_MAX_BYTES = _int("KEEL_COLLATERAL_MAX_BYTES", 50 * 1024 * 1024)

# The cache holds the rate limits (sign-in, password reset, API tokens), so every app
# process must share it: in the database by default (`keel migrate` creates its
# table), in Redis with KEEL_CACHE_URL=redis://host:6379/0 (pip install redis), in each
# process's memory only with KEEL_CACHE_URL=locmem (development's default).
CACHE_URL = os.environ.get("KEEL_CACHE_URL", "locmem" if DEBUG else "db")
if CACHE_URL == "db":
    _cache: dict[str, Any] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "keel_cache",
    }
elif CACHE_URL == "locmem":
    _cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
elif CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    _cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
else:
    raise ImproperlyConfigured(
        f"KEEL_CACHE_URL={CACHE_URL!r} is none of db, locmem or a redis:// URL."
    )
# "local" is each process's own, for figures cheap to redo (the hour's stall thresholds).
CACHES = {
    "default": _cache,
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
}

# Prometheus scrapes /metrics with this bearer token (keel.core.metrics); unset, the
# metrics are only shown in development.
KEEL_METRICS_TOKEN = os.environ.get("KEEL_METRICS_TOKEN", "")
PROMETHEUS_EXPORT_MIGRATIONS = False

# Mail: the console in development, SMTP when KEEL_EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("KEEL_EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = _int("KEEL_EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("KEEL_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KEEL_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = _bool("KEEL_EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("KEEL_EMAIL_FROM", "keel@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

if not DEBUG:
    SECURE_SSL_REDIRECT = _bool("KEEL_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # A load balancer probes health over plain HTTP, inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = _int("KEEL_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Security headers, with DEBUG on or off. Most are Django's defaults, spelled out so that
# a change of default cannot loosen them unseen.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content Security Policy (django-csp): scripts and styles only from Keel's own static
# files, never inline, never eval; no page may be framed. Enforced in development too, so
# a violation shows up in the browser's console before it ships. KEEL_CSP_REPORT_ONLY=1
# only reports violations (in the console), for trying a change on a live site.
_CSP = {
    "DIRECTIVES": {
        "default-src": [csp.constants.SELF],
        "script-src": [csp.constants.SELF],
        "style-src": [csp.constants.SELF],
        "img-src": [csp.constants.SELF, "data:"],
        "connect-src": [csp.constants.SELF],
        "font-src": [csp.constants.SELF],
        "object-src": [csp.constants.NONE],
        "base-uri": [csp.constants.SELF],
        "form-action": [csp.constants.SELF],
        "frame-ancestors": [csp.constants.NONE],
    }
}
if _bool("KEEL_CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# Logs on standard error: one JSON object a line in production (KEEL_LOG_FORMAT=json, the
# default with DEBUG off), plain text in development; each with the request's id.
LOG_FORMAT = os.environ.get("KEEL_LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"KEEL_LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "keel.core.request_id.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("KEEL_LOG_LEVEL", "WARNING")},
}
