"""The `bearertokenauth` and `basicauth` extensions as otelcol-contrib defines them, each case after the
contrib test it follows (extension/bearertokenauthextension/bearertokenauth_test.go, extension/
basicauthextension/extension_test.go and config.go), and the config rules of `auth.authenticator`
(collector/extensions/auth.py check_reference). The running daemons: tests/integration/test_auth_daemons.py."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from collector.component import ComponentID, Kind, Settings
from collector.config import ConfigErrors, Invalid, load_config
from collector.extensions import htpasswd
from collector.extensions.auth import Headers
from collector.extensions.basicauth import BasicAuthConfig, BasicAuthExtension, ClientAuthSettings, HtpasswdConfig
from collector.extensions.bearertokenauth import BearerTokenAuthConfig, BearerTokenAuthExtension
from collector.telemetry import Telemetry, component_logger

TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."

# extension_test.go's `credentials`: each user's password is its name (apr1, MD5-crypt, {SHA}, bcrypt).
CONTRIB_CREDENTIALS = [
    ("htpasswd-md5", "$apr1$FVVioVP7$ZdIWPG1p4E/ErujO7kA2n0"),
    ("openssl-apr1", "$apr1$peiE49Vv$lo.z77Z.6.a.Lm7GMjzQh0"),
    ("openssl-md5", "$1$mvmz31IB$U9KpHBLegga2doA0e3s3N0"),
    ("htpasswd-sha", "{SHA}vFznddje0Ht4+pmO0FaxwrUKN/M="),
    ("htpasswd-bcrypt", "$2y$10$Q6GeMFPd0dAxhQULPDdAn.DFy6NDmLaU0A7e2XoJz7PFYAEADFKbC"),
    ("", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."),
    ("a", "$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe"),
    ("abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"),
    ("abcdefghijklmnopqrstuvwxyz", "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC"),
    ("~!@#$%^&*()      ~!@#$%^&*()PNBFRD", "$2a$06$fPIsBO8qRqkjj273rfaOI.HtSV9jLDpTbZn782DC6/t7qT67P6FfO"),
    ("ππππππππ", "$2a$10$.TtQJ4Jr6isd4Hp.mVfZeuh6Gws4rOQ/vdBczhDx.19NFK0Y84Dle"),
]


def make(cls: Any, config: Any, name: str = "") -> Any:
    id = ComponentID(cls.type_name, name)
    return cls(Settings(id=id, kind=Kind.EXTENSION, log=component_logger(id, Kind.EXTENSION), telemetry=Telemetry()), config)


def authenticate(ext: Any, *pairs: tuple[str, str]) -> bool:
    return asyncio.run(ext.authenticate(Headers(pairs)))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_bearer_server_authenticate_with_scheme() -> None:
    """TestBearerServerAuthenticateWithScheme: `Bearer <token>` passes, another token or the bare token not."""
    ext = make(BearerTokenAuthExtension, BearerTokenAuthConfig(token=TOKEN))
    assert authenticate(ext, ("authorization", f"Bearer {TOKEN}"))
    assert not authenticate(ext, ("authorization", "Bearer 1234"))
    assert not authenticate(ext, ("authorization", TOKEN))
    assert not authenticate(ext)


def test_bearer_server_authenticate_without_scheme() -> None:
    """TestBearerServerAuthenticate: with `scheme: ""` the header is the token alone."""
    ext = make(BearerTokenAuthExtension, BearerTokenAuthConfig(scheme="", token=TOKEN))
    assert not authenticate(ext, ("authorization", f"Bearer {TOKEN}"))
    assert not authenticate(ext, ("authorization", "invalidtoken"))
    assert authenticate(ext, ("authorization", TOKEN))


def test_bearer_client_headers_custom_header_scheme_and_several_tokens() -> None:
    """TestBearerAuthenticatorHttp (a custom scheme) and README's `tokens`: any token passes a server, a
    client sends the first; `header` renames the header (looked up case-insensitively, as HTTP headers are)."""
    ext = make(BearerTokenAuthExtension, BearerTokenAuthConfig(scheme="TestScheme", header="X-Api-Key", tokens=["one", "two"]))
    assert ext.headers() == {"X-Api-Key": "TestScheme one"}
    assert authenticate(ext, ("x-api-key", "TestScheme two"))
    assert not authenticate(ext, ("authorization", "TestScheme two"))


def test_bearer_token_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    """TestBearerTokenFileContentUpdate / TestBearerStartWatchStop: the file's token is sent and accepted; after
    the file changes (here also replaced by a rename, as a Kubernetes Secret volume swaps its symlink) the
    new one is, and the old one no longer. The file wins over `token` (README)."""
    path = tmp_path / "token"
    path.write_text("first-token\n")
    ext = make(BearerTokenAuthExtension, BearerTokenAuthConfig(token="ignored", filename=str(path)))

    async def scenario() -> list[Any]:
        await ext.start(None)
        seen: list[Any] = [ext.headers(), await ext.authenticate(Headers([("authorization", "Bearer first-token")]))]
        path.write_text("second-token\nthird-token\n")
        await asyncio.sleep(1.2)
        seen += [ext.headers(), await ext.authenticate(Headers([("authorization", "Bearer first-token")])),
                 await ext.authenticate(Headers([("authorization", "Bearer third-token")]))]
        swap = tmp_path / "token.new"
        swap.write_text("fourth-token")
        swap.replace(path)
        await asyncio.sleep(1.2)
        seen.append(ext.headers())
        path.unlink()  # a failed re-read keeps the token read last, as contrib
        await asyncio.sleep(1.2)
        seen.append(ext.headers())
        await ext.shutdown()
        return seen

    seen = asyncio.run(scenario())
    assert seen == [
        {"Authorization": "Bearer first-token"}, True,
        {"Authorization": "Bearer second-token"}, False, True,
        {"Authorization": "Bearer fourth-token"},
        {"Authorization": "Bearer fourth-token"},
    ]


def test_bearer_config_rules() -> None:
    """config.go Validate: errNoTokenProvided, errTokensAndTokenProvided."""
    with pytest.raises(Invalid, match="no bearer token provided"):
        BearerTokenAuthConfig().validate()
    with pytest.raises(Invalid, match="either tokens or token"):
        BearerTokenAuthConfig(token="a", tokens=["b"]).validate()


def test_basic_auth_valid_for_every_hash_of_contribs_table(tmp_path: Path) -> None:
    """TestBasicAuth_Valid with contrib's own htpasswd lines (apr1, MD5-crypt, {SHA}, bcrypt $2a$/$2y$),
    plus {SSHA} and SHA-crypt ($5$, $6$ from `openssl passwd`), which go-htpasswd's DefaultSystems also read."""
    if not htpasswd.libcrypt_available():
        pytest.skip("no libcrypt for bcrypt")
    lines = [f"{user}:{hashed}" for user, hashed in CONTRIB_CREDENTIALS]
    lines += ["ssha:{SSHA}sxPw+W6If/OVKPAVZVqRoAtEV9phYjEy",
              "sha512:$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.",
              "sha256:$5$saltsalt$OIdfjX.u4Y3SJ4I2bX8w5BMf1VAUhHABNUirScDzZi3", "sha1:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0="]
    path = tmp_path / ".htpasswd"
    path.write_text("\n".join(lines) + "\n")
    ext = make(BasicAuthExtension, BasicAuthConfig(htpasswd=HtpasswdConfig(file=str(path))))
    asyncio.run(ext.start(None))
    for user, _ in CONTRIB_CREDENTIALS:
        assert authenticate(ext, ("authorization", basic(user, user))), user
        assert not authenticate(ext, ("authorization", basic(user, user + "x"))), user
    for user in ("ssha", "sha512", "sha256", "sha1"):
        assert authenticate(ext, ("authorization", basic(user, "hunter2"))), user
        assert not authenticate(ext, ("authorization", basic(user, "hunter3"))), user


def test_basic_auth_refusals_and_header_spellings() -> None:
    """TestBasicAuth_InvalidCredentials, _NoHeader, _InvalidPrefix, _InvalidFormat, _SupportedHeaders."""
    ext = make(BasicAuthExtension, BasicAuthConfig(htpasswd=HtpasswdConfig(inline="username:password")))
    asyncio.run(ext.start(None))
    assert not authenticate(ext, ("authorization", "Basic dXNlcm5hbWU6cGFzc3dvcmR4eHg="))
    assert not authenticate(ext)
    assert not authenticate(ext, ("authorization", "Bearer token"))
    assert not authenticate(ext, ("authorization", "Basic invalid"))
    assert not authenticate(ext, ("authorization", "Basic aW52YWxpZAo="))  # no colon
    for key in ("Authorization", "authorization", "aUtHoRiZaTiOn"):
        assert authenticate(ext, (key, basic("username", "password")))


def test_basic_auth_inline_wins_over_the_file(tmp_path: Path) -> None:
    """TestBasicAuth_HtpasswdInlinePrecedence."""
    path = tmp_path / ".htpasswd"
    path.write_text("username:fromfile")
    ext = make(BasicAuthExtension, BasicAuthConfig(htpasswd=HtpasswdConfig(file=str(path), inline="username:frominline")))
    asyncio.run(ext.start(None))
    assert authenticate(ext, ("authorization", basic("username", "frominline")))
    assert not authenticate(ext, ("authorization", basic("username", "fromfile")))


def test_basic_auth_missing_file_fails_start_and_config_rules() -> None:
    """TestBasicAuth_NoFile, TestBasicAuth_ServerInvalid, TestBasicAuth_ClientInvalid and config.go's
    errMultipleAuthenticators / errNoCredentialSource."""
    from collector.service import StartupError

    ext = make(BasicAuthExtension, BasicAuthConfig(htpasswd=HtpasswdConfig(file="/non/existing/file")))
    with pytest.raises(StartupError, match="open htpasswd file /non/existing/file"):
        asyncio.run(ext.start(None))
    with pytest.raises(Invalid, match="no credential source"):
        BasicAuthConfig(htpasswd=HtpasswdConfig()).validate()
    with pytest.raises(Invalid, match="no credential source"):
        BasicAuthConfig().validate()
    with pytest.raises(Invalid, match="only one of `htpasswd` or `client_auth`"):
        BasicAuthConfig(htpasswd=HtpasswdConfig(inline="a:b"), client_auth=ClientAuthSettings("u", "p")).validate()
    with pytest.raises(Invalid, match="colon"):
        ClientAuthSettings("user:name", "password").validate()


def test_basic_auth_client_sends_the_credentials() -> None:
    """TestBasicAuth_ClientValid / TestPerRPCAuth: `Authorization: Basic base64(user:password)`."""
    ext = make(BasicAuthExtension, BasicAuthConfig(client_auth=ClientAuthSettings("username", "passwordxxx")))
    assert ext.headers() == {"Authorization": "Basic dXNlcm5hbWU6cGFzc3dvcmR4eHg="}


def test_a_bcrypt_match_is_remembered() -> None:
    """A client authenticating every request pays the bcrypt cost once (the last good password, as a hash)."""
    if not htpasswd.libcrypt_available():
        pytest.skip("no libcrypt for bcrypt")
    ext = make(BasicAuthExtension, BasicAuthConfig(htpasswd=HtpasswdConfig(inline="htpasswd-bcrypt:$2y$10$Q6GeMFPd0dAxhQULPDdAn.DFy6NDmLaU0A7e2XoJz7PFYAEADFKbC")))

    async def scenario() -> tuple[bool, bool, bool]:
        await ext.start(None)
        header = Headers([("authorization", basic("htpasswd-bcrypt", "htpasswd-bcrypt"))])
        first = await ext.authenticate(header)
        ext._users["htpasswd-bcrypt"] = ("bcrypt", lambda pw: False)  # a second bcrypt run would now fail
        again = await ext.authenticate(header)
        wrong = await ext.authenticate(Headers([("authorization", basic("htpasswd-bcrypt", "other"))]))
        return first, again, wrong

    assert asyncio.run(scenario()) == (True, True, False)


def test_htpasswd_lines_that_cannot_be_read_are_skipped() -> None:
    users, problems = htpasswd.parse("good:plain\nno-colon-here\nbad:{SHA}not base64!\n\n")
    assert sorted(users) == ["good"]
    assert problems == ["line 2: malformed, no colon", "line 3: user bad: malformed {SHA} hash"]


CONFIG = """
extensions:
  bearertokenauth: {{token: "@TOKEN@"}}
  basicauth/client: {{client_auth: {{username: u, password: p}}}}
  basicauth/server: {{htpasswd: {{inline: "u:p"}}}}
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:1", auth: {{authenticator: {grpc}}}}}
      http: {{endpoint: "127.0.0.1:2", auth: {{authenticator: {http}}}}}
exporters:
  otlp_http: {{endpoint: "http://127.0.0.1:3", auth: {{authenticator: {exporter}}}}}
  otlp_grpc: {{endpoint: "https://127.0.0.1:4", auth: {{authenticator: bearertokenauth}}}}
service:
  extensions: [{enabled}]
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp_http, otlp_grpc]}}
""".replace("@TOKEN@", TOKEN)


@pytest.mark.parametrize("values,errors", [
    ({}, []),
    ({"grpc": "bearertokenauth/missing"}, ['receivers.otlp.protocols.grpc.auth.authenticator: references extension "bearertokenauth/missing" which is not configured']),
    ({"enabled": "bearertokenauth, basicauth/client"}, ['receivers.otlp.protocols.http.auth.authenticator: extension "basicauth/server" must also be listed in service.extensions']),
    ({"http": "basicauth/client", "exporter": "basicauth/server"}, [
        'receivers.otlp.protocols.http.auth.authenticator: extension "basicauth/client" is not a server authenticator',
        'exporters.otlp_http.auth.authenticator: extension "basicauth/server" is not a client authenticator']),
])
def test_authenticator_references_are_checked_as_otelcol(tmp_path: Path, values: dict[str, str], errors: list[str]) -> None:
    """An authenticator that is not configured, not in service.extensions, or of the wrong side is a config
    error naming the key (otelcol's configauth GetServerAuthenticator/GetHTTPClientAuthenticator refuse each)."""
    fill = {"grpc": "bearertokenauth", "http": "basicauth/server", "exporter": "basicauth/client",
            "enabled": "bearertokenauth, basicauth/client, basicauth/server", **values}
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(**fill))
    if not errors:
        load_config([str(path)])
        return
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    text = str(info.value)
    for error in errors:
        assert error in text
    assert TOKEN not in text


def test_grpc_exporter_auth_needs_tls(tmp_path: Path) -> None:
    """contrib's PerRPCCredentials RequireTransportSecurity: grpc-go will not send them in plaintext, so a
    plaintext otlp_grpc (or jaeger) exporter with an authenticator is refused."""
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(grpc="bearertokenauth", http="basicauth/server", exporter="basicauth/client",
                                  enabled="bearertokenauth, basicauth/client, basicauth/server").replace("https://127.0.0.1:4", "http://127.0.0.1:4"))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert "exporters.otlp_grpc: auth.authenticator: gRPC sends an authenticator's credentials only over TLS" in str(info.value)
