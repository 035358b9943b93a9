"""The secrets checks of resolution (``resolve.py``) for one model in one environment: credentials
in URLs, secret-looking plaintext env values, control characters (patterns: ``secretscan.py``)."""

from __future__ import annotations

from .compat import env_containers
from .errors import Problem
from .overlay import Env
from .secretscan import control_characters, redact_url, secret_like, uri_credentials
from .spec import Model

__all__ = ["secret_problems"]


def secret_problems(origin: str, model: Model, env: Env) -> list[Problem]:
    """Credentials in a URL (everywhere), secret-looking plaintext env values (outside an env
    that allows plaintext secrets), control characters in what reaches a manifest."""
    found: list[Problem] = []
    urls = {"predictor.storage_uri": model.predictor.storage_uri, "logger.url": model.logger.url if model.logger else None}
    for fld, url in urls.items():
        why = uri_credentials(url) if url else None
        if why and url:
            found.append(Problem(origin, None, f"{model.name}.{fld}", f"credentials in a URL are refused (found {why} in "
                                 f"{redact_url(url)!r}): use a storage endpoint with credentials from a Secret"))
    # every container's literal values (a reference such as SecretKeyRef carries none): compat.env_containers
    envs = {f"{path}.env": {n: v for n, v in c.env.items() if isinstance(v, str)} for path, c in env_containers(model)}
    if not env.overlay.allow_plaintext_secrets:
        for fld, values in envs.items():
            for name, value in sorted(values.items()):
                why = None if name in model.not_secret else secret_like(name, value)
                if why:
                    found.append(Problem(origin, None, f"{model.name}.{fld}.{name}", f"looks like a secret ({why}); plaintext "
                                         f"secrets are refused in env {env.name!r}: take it from a Secret, or add {name!r} to "
                                         "not_secret after review"))
    for fld, values in envs.items():
        for name, value in sorted(values.items()):
            bad = control_characters(value)
            if bad:
                found.append(Problem(origin, None, f"{model.name}.{fld}.{name}", f"expected no control characters, found {bad.removeprefix('contains ')}"))
    return found
