"""MLflow credentials, kept out of every command line, URI and record: standard library only.

    uri = adopt_uri_credentials("http://alice:s3cret-passw0rd@mlflow:5000")
    # -> "http://mlflow:5000"; $MLFLOW_TRACKING_USERNAME=alice, $MLFLOW_TRACKING_PASSWORD set
    user, password, source = server_credentials(Path("team.ini"))   # `ui --auth-file`

A tracking server with authentication (``adaptune ui --server --auth``) is MLflow's
basic-auth app; its clients send MLflow's own ``$MLFLOW_TRACKING_USERNAME`` and
``$MLFLOW_TRACKING_PASSWORD``. A ``user:password@`` in an http(s) tracking URI is moved
into those variables, so that the URI printed, recorded or handed to a cluster holds no
password, and the password, the value of a ``*PASSWORD*`` variable, is scrubbed from
everything written (``adaptune.redact``). A credentials file is MLflow's own format
(``~/.mlflow/credentials``, which MLflow's clients read by themselves)::

    [mlflow]
    mlflow_tracking_username = alice
    mlflow_tracking_password = a-long-passphrase
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "CredentialsError",
    "adopt_uri_credentials",
    "server_credentials",
    "split_uri_credentials",
]

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
SECTION = "mlflow"


class CredentialsError(ValueError):
    """Credentials missing or malformed (one line, naming the file, line and key)."""


def split_uri_credentials(uri: str) -> tuple[str, tuple[str, str] | None]:
    """An http(s) URI without its ``user:password@``, and that pair (None: it had none)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return uri, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    if not has_password:
        return uri, None
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def adopt_uri_credentials(uri: str) -> str:
    """`uri` without its credentials, which go to MLflow's environment variables (for
    this process, the clients it makes and what it starts: a cluster's search)."""
    clean, found = split_uri_credentials(uri)
    if found is not None:
        os.environ[USERNAME_ENV], os.environ[PASSWORD_ENV] = found
    return clean


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().lower().startswith(key):
            return number
    return None


def read_credentials_file(path: Path) -> tuple[str, str]:
    """(username, password) from a credentials file in MLflow's format."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CredentialsError(f"{path}: cannot read it ({getattr(e, 'strerror', e)})") from None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as e:  # its message quotes the line: the password, maybe
        errors = getattr(e, "errors", None)
        line = getattr(e, "lineno", None) or (errors[0][0] if errors else None)
        what = {
            "MissingSectionHeaderError": f"no [{SECTION}] section header before this line",
            "DuplicateOptionError": "a key given twice",
            "DuplicateSectionError": "a section given twice",
        }.get(type(e).__name__, "not a `key = value` line")
        raise CredentialsError(f"{path}{f':{line}' if line else ''}: {what}") from None
    if not parser.has_section(SECTION):
        raise CredentialsError(
            f"{path}: no [{SECTION}] section (MLflow's credentials format: [{SECTION}], "
            f"then {USERNAME_ENV.lower()} = NAME and {PASSWORD_ENV.lower()} = PASSWORD)"
        )
    values = []
    for name in (USERNAME_ENV, PASSWORD_ENV):
        key = name.lower()
        value = parser.get(SECTION, key, fallback="").strip()
        if not value:
            line = _line_of(text, key)
            where = f"{path}:{line}" if line else f"{path}: [{SECTION}]"
            raise CredentialsError(f"{where}: {key}: {'empty' if line else 'missing'}")
        values.append(value)
    return values[0], values[1]


def server_credentials(auth_file: Path | None) -> tuple[str, str, str]:
    """(username, password, where they came from) for a server's admin user: `auth_file`,
    else $MLFLOW_TRACKING_USERNAME and $MLFLOW_TRACKING_PASSWORD."""
    if auth_file is not None:
        user, password = read_credentials_file(auth_file)
        return user, password, str(auth_file)
    user, password = os.environ.get(USERNAME_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    if not user or not password:
        raise CredentialsError(
            f"--auth needs the admin user's credentials: --auth-file FILE (MLflow's "
            f"credentials format) or ${USERNAME_ENV} and ${PASSWORD_ENV}"
        )
    return user, password, f"${USERNAME_ENV} and ${PASSWORD_ENV}"
