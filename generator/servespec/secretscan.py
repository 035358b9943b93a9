"""Secrets and control characters in strings servespec writes: pure functions, stdlib only.

What each check looks for (the README "Security" section lists the same):

URIs (:func:`uri_credentials`, :func:`uri_userinfo`, :func:`redact_url`)
  - userinfo: anything before ``@`` in the authority (``s3://KEY:SECRET@bucket``,
    ``https://user:token@host``, ``https://token@host``), except a bare user name in an ssh URL
    (``ssh://git@github.com/…``: the key is not in the URL). A secret key holding ``/`` cuts the
    authority short (``s3://AKIA…:abc/def@bucket``), so ``user:pass`` followed by an ``@`` later
    in the path counts too, unless the part after ``:`` is a port number.
  - credentials in the query: parameters named like a secret (``password``, ``token``,
    ``access_token``, ``secret``, ``api_key``/``apikey``/``key``, ``sig``/``signature``, ``auth``, and
    presigned-URL fields ``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``,
    ``X-Goog-Signature``, ``X-Goog-Credential``).
  - :func:`redact_url` replaces the userinfo by ``***`` and those query values by ``***``;
    everything else is left byte for byte.

Values (:func:`secret_like`, by value whatever the name)
  - private keys: a PEM ``-----BEGIN … PRIVATE KEY-----`` block (RSA, EC, DSA, OpenSSH, PGP, PKCS#8).
  - AWS access key ids: ``AKIA`` (long-term) or ``ASIA`` (temporary) and 16 upper-case letters/digits.
  - AWS secret access keys: 40 characters of ``[A-Za-z0-9/+]`` (three character classes at
    least) under a name with ``SECRET``.
  - GCP: service-account key JSON (``"type": "service_account"`` with ``"private_key"``) and API
    keys ``AIza`` + 35 characters.
  - Azure: storage connection strings (``AccountKey=``, ``SharedAccessKey=``,
    ``SharedAccessSignature=``), SAS tokens (``sv=YYYY-MM-DD…&sig=``) and 88-character base64 keys
    ending in ``==`` (64 bytes, the storage account key size) under a name with ``KEY``.
  - Hugging Face: ``hf_`` + 30 or more letters/digits (user access tokens).
  - GitHub: ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_`` + 36 characters, ``github_pat_`` + 50 or more.
  - GitLab: ``glpat-``/``gldt-``/``glrt-``/``glptt-``/``glft-``/``glcbt-``/``glimt-``/``glsoat-`` + 20
    or more, and runner registration tokens ``GR1348941`` + 20 or more.
  - Slack: ``xoxb-``/``xoxp-``/``xoxa-``/``xoxr-``/``xoxs-`` tokens and
    ``https://hooks.slack.com/services/…`` webhooks.
  - JWTs: three base64url parts whose first two decode to JSON (``eyJ….eyJ….…``).
  - any URI in the value with credentials (as above).

Values by name (:func:`secret_like`)
  - a name with a word (between ``_``, ``-`` or the ends; glued to a prefix is fine: ``DBPASSWORD``)
    ``SECRET``, ``TOKEN``, ``PASSWORD``/``PASSWD``/``PWD``, ``API_KEY``/``APIKEY``, ``PRIVATE_KEY``,
    ``CREDENTIAL`` or ``AUTH``, plural too (case-insensitive; not ``TOKENIZER``, ``AUTHOR``), and a value of
    12 or more characters, no spaces, at least two character classes and a Shannon entropy of 3
    bits or more per character. Not: names ending ``_FILE``, ``_PATH``, ``_DIR``, ``_URL``,
    ``_URI``, ``_ENDPOINT``, ``_NAME``, ``_REF``, ``_KEY_ID``, ``_HEADER``, ``_TYPE``; values that are
    references (``$(VAR)``, ``${VAR}``), paths (``/…``) or DNS names (``sts.amazonaws.com``).

Sealed Secrets (:func:`looks_sealed`)
  - ``kubeseal`` writes ``base64.StdEncoding`` of ``HybridEncrypt``'s output
    (bitnami-labs/sealed-secrets@v0.36.6 pkg/crypto/crypto.go:36-70): a 2-byte big-endian length
    L, L bytes of RSA-OAEP ciphertext (L = the key size in bytes: 512 for the default 4096-bit key,
    cmd/controller/main.go:35) and the AES-256-GCM ciphertext with its 16-byte tag. A value looks
    sealed when it is canonical padded base64 that decodes to that shape with 256 <= L <= 2048
    (RSA 2048 to 16384 bits), at least 2 + L + 16 bytes, and an RSA block that is not mostly
    printable text (at most 60% printable ASCII bytes; random bytes have about 37%).

Control characters (:func:`control_characters`, :func:`format_trailers`)
  - C0 and C1 controls (CR, LF, TAB, ESC, NUL, DEL, NEL, …), the Unicode line and paragraph
    separators U+2028/U+2029, and the bidirectional embeddings/overrides/isolates U+202A-U+202E
    and U+2066-U+2069 ("Trojan Source"). Trailers: keys ``[A-Za-z0-9-]+``, values without those.

False positives: :func:`secret_like` returns the reason, never the value; callers decide how a
user marks a reviewed value as not secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter

__all__ = [
    "uri_userinfo", "uri_credentials", "redact_url", "redact_urls", "secret_like", "looks_sealed",
    "control_characters", "format_trailers",
]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SECRET_QUERY = re.compile(
    r"(?i)(password|passwd|pwd|token|access_token|id_token|refresh_token|secret|client_secret|api[_-]?key|key|"
    r"sig|signature|auth|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git", "sftp"})
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def _split(uri: str) -> tuple[str, str, str] | None:
    """``(prefix up to '://', authority, rest)`` or None when ``uri`` has no ``scheme://``."""
    m = _SCHEME.match(uri)
    if not m:
        return None
    after = uri[m.end():]
    end = next((i for i, ch in enumerate(after) if ch in "/?#"), len(after))
    return uri[:m.end()], after[:end], after[end:]


def _userinfo_end(uri: str) -> int | None:
    """Index just past the ``@`` that ends a userinfo in ``uri``, or None."""
    parts = _split(uri)
    if parts is None:
        return None
    prefix, authority, rest = parts
    if "@" in authority:
        userinfo = authority[:authority.rindex("@")]
        if ":" not in userinfo and prefix.lower().rstrip(":/") in _SSH_SCHEMES:
            return None  # ssh://git@host: a user name, the key is elsewhere
        return len(prefix) + len(userinfo) + 1
    if ":" in authority and not authority.rsplit(":", 1)[1].isdigit():
        # user:se/cret@host: a '/' in the secret ended the authority early
        path = rest.split("?", 1)[0].split("#", 1)[0]
        if "@" in path:
            return len(prefix) + len(authority) + path.index("@") + 1
    return None


def uri_userinfo(uri: str) -> bool:
    """True when ``uri`` carries credentials before an ``@`` (``s3://KEY:SECRET@bucket``)."""
    return _userinfo_end(uri) is not None


def _query_pairs(uri: str) -> list[str]:
    query = uri.split("#", 1)[0].split("?", 1)[1] if "?" in uri.split("#", 1)[0] else ""
    return query.split("&") if query else []


def uri_credentials(uri: str) -> str | None:
    """Why ``uri`` holds a credential (userinfo, or a secret-named query parameter), or None."""
    if uri_userinfo(uri):
        return "the URI carries credentials before '@' (userinfo)"
    for pair in _query_pairs(uri):
        name, _, value = pair.partition("=")
        if value and _SECRET_QUERY.fullmatch(name):
            return f"the URI carries a credential in its query ({name}=…)"
    return None


def redact_url(url: str) -> str:
    """``url`` with its userinfo and secret-named query values replaced by ``***``."""
    end = _userinfo_end(url)
    if end is not None:
        prefix = _split(url)
        assert prefix is not None
        url = prefix[0] + "***@" + url[end:]
    base, hashmark, fragment = url.partition("#")
    if "?" not in base:
        return url
    head, query = base.split("?", 1)
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        pairs.append(f"{name}=***" if eq and value and _SECRET_QUERY.fullmatch(name) else pair)
    return f"{head}?{'&'.join(pairs)}{hashmark}{fragment}"


def redact_urls(text: str) -> str:
    """``text`` with every ``scheme://…`` in it passed through :func:`redact_url`."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


# -- secrets in values --------------------------------------------------------------------------------
_BY_VALUE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), "a PEM private key"),
    (re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), "an AWS access key id (AKIA…/ASIA…)"),
    (re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), "a Google API key (AIza…)"),
    (re.compile(r"(?i)(?:^|;)\s*(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*[^;\s]+"),
     "an Azure connection string with a key"),
    (re.compile(r"(?:^|[?&])sv=\d{4}-\d{2}-\d{2}&(?:[^&\s]*&)*sig=[^&\s]+"), "an Azure SAS token (sv=…&sig=…)"),
    (re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}"), "a Hugging Face token (hf_…)"),
    (re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,}"), "a GitHub token (ghp_/gho_/ghu_/ghs_/ghr_…)"),
    (re.compile(r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{50,}"), "a GitHub fine-grained token (github_pat_…)"),
    (re.compile(r"(?<![A-Za-z0-9_-])gl(?:pat|dt|rt|ptt|ft|cbt|imt|soat)-[A-Za-z0-9_-]{20,}"), "a GitLab token (glpat-…)"),
    (re.compile(r"(?<![A-Za-z0-9])GR1348941[A-Za-z0-9_-]{20,}"), "a GitLab runner registration token (GR1348941…)"),
    (re.compile(r"(?<![A-Za-z0-9])xox[baprs]-[A-Za-z0-9-]{10,}"), "a Slack token (xoxb-/xoxp-…)"),
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"), "a Slack webhook URL"),
)
_JWT = re.compile(r"(?<![A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{5,})\.(eyJ[A-Za-z0-9_-]{5,})\.[A-Za-z0-9_-]*")
_URI_IN_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
_SECRET_NAME = re.compile(r"(?:^|_)[A-Z0-9]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)S?(?:_|$)")
_NOT_A_SECRET_NAME = re.compile(r"_(?:FILE|PATH|DIR|URL|URI|ENDPOINT|NAME|REF|KEY_ID|HEADER|TYPE)$")
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_AZURE_KEY = re.compile(r"[A-Za-z0-9/+]{86}==")
_DNS_NAME = re.compile(r"(?i)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[^}]+\}")


def secret_like(name: str, value: str) -> str | None:
    """Why an env var (or any name/value pair) looks like a plaintext secret, or None.

    The reason names the kind of secret, never the value (see the module doc for each rule).
    """
    for pattern, what in _BY_VALUE:
        if pattern.search(value):
            return f"looks like {what}"
    if _jwt(value):
        return "looks like a JSON Web Token (eyJ….eyJ….…)"
    if _service_account(value):
        return "looks like a GCP service-account key (JSON with a private_key)"
    for uri in _URI_IN_VALUE.findall(value):
        reason = uri_credentials(uri)
        if reason:
            return reason
    key = name.upper().replace("-", "_")
    if "SECRET" in key and _AWS_SECRET.fullmatch(value) and _classes(value) >= 3:
        return f"looks like an AWS secret access key (40 characters under {name!r})"
    if "KEY" in key and _AZURE_KEY.fullmatch(value):
        return f"looks like an Azure storage account key (88 base64 characters under {name!r})"
    if _SECRET_NAME.search(key) and not _NOT_A_SECRET_NAME.search(key) and _high_entropy(value):
        return f"a high-entropy value under {name!r}, a name for secrets"
    return None


def _jwt(value: str) -> bool:
    m = _JWT.search(value)
    if not m:
        return False
    try:
        return all(isinstance(json.loads(_b64url(part)), dict) for part in m.groups())
    except (ValueError, binascii.Error):
        return False


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _service_account(value: str) -> bool:
    if '"private_key"' not in value or "service_account" not in value:
        return False
    try:
        doc = json.loads(value)
    except ValueError:
        return bool(re.search(r'"type"\s*:\s*"service_account"', value))
    return isinstance(doc, dict) and doc.get("type") == "service_account" and "private_key" in doc


def _classes(value: str) -> int:
    return sum(any(test(ch) for ch in value) for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum()))


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _high_entropy(value: str) -> bool:
    if len(value) < 12 or any(ch.isspace() for ch in value) or value.startswith("/"):
        return False
    if _REFERENCE.search(value) or _DNS_NAME.fullmatch(value):
        return False
    return _classes(value) >= 2 and _entropy(value) >= 3.0


# -- Sealed Secrets -------------------------------------------------------------------------------------
def looks_sealed(value: str) -> bool:
    """True when ``value`` has the shape of a Sealed Secrets ciphertext (see the module doc)."""
    if len(value) < 4 * math.ceil((2 + 256 + 16) / 3) or len(value) % 4:
        return False
    try:
        blob = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    rsa_len = int.from_bytes(blob[:2], "big")
    if not 256 <= rsa_len <= 2048 or len(blob) < 2 + rsa_len + 16:
        return False
    printable = sum(0x20 <= b < 0x7F for b in blob[2:2 + rsa_len])
    return printable <= 0.6 * rsa_len


# -- control characters --------------------------------------------------------------------------------
_NAMES = {"\n": "line feed", "\r": "carriage return", "\t": "tab", "\x00": "NUL", "\x1b": "escape", "\x7f": "delete",
          "\x85": "next line", "\u2028": "line separator", "\u2029": "paragraph separator"}
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029" + "".join(sorted(_BIDI)) + "]")
"""The characters :func:`control_characters` refuses (searched in C: validate checks every string of every object)."""


def control_characters(value: str) -> str | None:
    """Why ``value`` cannot go into a commit message, trailer or manifest line, or None: the first
    control, line-separator or bidirectional-override character and where it is."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    ch, index = found.group(), found.start()
    what = _NAMES.get(ch, "bidirectional override" if ch in _BIDI else "control character")
    return f"contains U+{ord(ch):04X} ({what}) at position {index}"


_TRAILER_KEY = re.compile(r"[A-Za-z0-9-]+")


def format_trailers(pairs: list[tuple[str, str]]) -> str:
    """Git trailers ``Key: value``, one per line (no final newline); ``ValueError`` for a key not
    matching ``[A-Za-z0-9-]+`` or a value with a control character, so none can be forged."""
    lines = []
    for key, value in pairs:
        if not _TRAILER_KEY.fullmatch(key):
            raise ValueError(f"trailer key: expected letters, digits and '-', found {key!r}")
        problem = control_characters(value)
        if problem:
            raise ValueError(f"trailer {key}: value {problem}")
        lines.append(f"{key}: {value}")
    return "\n".join(lines)
