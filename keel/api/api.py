"""Keel's REST API: one NinjaAPI under /api/v1, each app's Router mounted on it."""

from ninja import NinjaAPI

api = NinjaAPI(title="Keel API", version="1", urls_namespace="api")
