"""What the offline completer knows: common services, and hints read from descriptions.

Deterministic keyword matching only — the description is untrusted text, so the
offline completer never copies anything from it except by choosing among the
entries below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Service:
    name: str
    keywords: tuple[str, ...]  # what names it ("mysql")
    image: str
    port: int
    data_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    health_path: str | None = None
    scheme: str = "http"
    generic: tuple[str, ...] = ()  # what it is an example of ("database"): a name said wins over these


# Pinned major versions: a completed image must not drift under the user's feet.
SERVICES: tuple[Service, ...] = (
    Service("nginx", ("nginx",), "nginx:1.27-alpine", 80, "/usr/share/nginx/html", health_path="/",
            generic=("web server", "static site", "reverse proxy")),
    Service("caddy", ("caddy",), "caddy:2.8-alpine", 80, "/srv", health_path="/"),
    Service("redis", ("redis",), "redis:7.4-alpine", 6379, "/data", scheme="redis",
            generic=("cache", "key-value")),
    Service("postgres", ("postgres", "postgresql"), "postgres:16-alpine", 5432,
            "/var/lib/postgresql/data", {"POSTGRES_DB": "app"}, scheme="postgresql", generic=("database",)),
    Service("mariadb", ("mariadb", "mysql"), "mariadb:11.4", 3306, "/var/lib/mysql",
            scheme="mysql"),
    Service("mosquitto", ("mosquitto",), "eclipse-mosquitto:2.0", 1883, "/mosquitto/data",
            scheme="mqtt", generic=("mqtt", "broker")),
    Service("grafana", ("grafana",), "grafana/grafana:11.2.0", 3000, "/var/lib/grafana",
            health_path="/api/health", generic=("dashboard",)),
    Service("prometheus", ("prometheus",), "prom/prometheus:v2.54.1", 9090, "/prometheus",
            health_path="/-/healthy", generic=("metrics server",)),
    Service("node-exporter", ("node exporter", "node-exporter"), "prom/node-exporter:v1.8.2", 9100,
            health_path="/metrics"),
    Service("influxdb", ("influxdb", "influx"), "influxdb:2.7-alpine", 8086,
            "/var/lib/influxdb2", health_path="/health", generic=("time series",)),
)  # fmt: skip


# Catalogue images need no review: they are pinned and chosen here, not by a model.
IMAGES: frozenset[str] = frozenset(service.image for service in SERVICES)


def service_for_image(image: str | None) -> Service | None:
    """The catalogue entry an image reference belongs to (by repository name)."""
    if not image:
        return None
    repository = image.split("@", 1)[0].rsplit(":", 1)[0] if "/" in image or ":" in image else image
    for service in SERVICES:
        if repository == service.image.rsplit(":", 1)[0]:
            return service
    return None


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "


def match_service(description: str | None) -> Service | None:
    """The catalogue entry the description names ("a mysql database" is mariadb, not the
    database in general), else the one whose kind of service it says first; whole words only."""
    if not description:
        return None
    text = _words(description)
    for generic in (False, True):
        found = [
            (text.find(_words(k)), i)
            for i, s in enumerate(SERVICES)
            for k in (s.generic if generic else s.keywords)
            if _words(k) in text
        ]
        if found:
            return SERVICES[min(found)[1]]
    return None


_PORT = re.compile(r"\bport\s+(\d{2,5})\b", re.IGNORECASE)


def port_in(description: str | None) -> int | None:
    """The port a description names ("an nginx on port 8081"), if it is an unprivileged one."""
    found = _PORT.search(description or "")
    port = int(found.group(1)) if found else None
    return port if port is not None and 1024 <= port <= 65535 else None


def host_port(container_port: int) -> int:
    """An unprivileged port on the node for a service's port (80 -> 8080, 443 -> 8443)."""
    return container_port if container_port >= 1024 else 8000 + container_port


FILE_EXTENSIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("shell script", "bash script", "script"), ".sh"),
    (("json",), ".json"),
    (("yaml", "yml"), ".yaml"),
    (("toml",), ".toml"),
    (("ini",), ".ini"),
    (("environment file", "env file", "dotenv"), ".env"),
    (("config", "configuration", "conf"), ".conf"),
    (("markdown", "readme"), ".md"),
)

EXECUTABLE_WORDS = ("script", "executable", "entrypoint")
PRIVATE_WORDS = ("secret", "password", "token", "credential", "private key", "api key", "env file", "dotenv")


def file_extension(description: str | None) -> str:
    text = _words(description or "")
    for keywords, extension in FILE_EXTENSIONS:
        if any(_words(k) in text for k in keywords):
            return extension
    return ".txt"


def file_mode(description: str | None) -> str | None:
    """A mode the words call for, or None to leave it to the default."""
    text = _words(description or "")
    if any(_words(w) in text for w in PRIVATE_WORDS):
        return "0600"
    if any(_words(w) in text for w in EXECUTABLE_WORDS):
        return "0755"
    return None
