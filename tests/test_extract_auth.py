"""Authorisation against the loopback server's real token endpoint (JWT signatures verified server-side)."""

from __future__ import annotations

import pytest

from screening.sources import AuthConfig, AuthError, ServerUnreachableError, extract
from tests.servers.keys import pem, private_key, self_signed_cert, write_key
from tests.servers.testing import FAST, assert_no_secret, landed, server


def smart(srv, tmp_path, alg="RS384", register=True, client_id="osteo-client"):
    key = private_key(alg)
    if register:
        srv.register_client(client_id, key.public_key(), alg)
    path = write_key(key, tmp_path / f"key-{alg}.pem")
    return AuthConfig.from_options(client_id=client_id, private_key_path=path), key


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_smart_backend_services_bulk_export(tmp_path, alg):
    with server(require_auth=True) as srv:
        auth, key = smart(srv, tmp_path, alg)
        result = extract(srv.base_url, tmp_path / "landing", mode="bulk", auth=auth, retry=FAST)
        fhir = [
            s
            for s in srv.seen()
            if s.path.startswith(("/fhir/", "/files/"))
            and "metadata" not in s.path
            and "well-known" not in s.path
        ]
        tokens = list(srv.tokens)
    assert result.resources == 27 and srv.token_requests == 1
    assert fhir and all(s.authorized for s in fhir)  # requiresAccessToken: files carry the token too
    assert_no_secret(tmp_path / "landing", pem(key), *tokens)
    assert "Secret('***')" in repr(auth.private_key) and "BEGIN" not in repr(auth)


def test_unregistered_key_is_refused_with_a_clear_error(tmp_path):
    with server(require_auth=True) as srv:
        auth, _ = smart(srv, tmp_path, register=False)
        with pytest.raises(AuthError) as exc:
            extract(srv.base_url, tmp_path / "l", mode="bulk", auth=auth, retry=FAST)
    assert "token request refused: HTTP 401" in str(exc.value) and "unknown client" in str(exc.value)


def test_token_is_renewed_before_it_expires(tmp_path):
    with server(require_auth=True, token_lifetime=2, polls_before_ready=3, poll_retry_after="1") as srv:
        auth, _ = smart(srv, tmp_path, "ES384")
        extract(srv.base_url, tmp_path / "l", mode="bulk", auth=auth, retry=FAST)
        refused = [s for s in srv.seen() if not s.authorized and s.path.startswith("/fhir/bulkstatus")]
    assert srv.token_requests >= 2 and not refused


def test_token_is_renewed_after_a_401(tmp_path):
    with server(require_auth=True) as srv:
        auth, _ = smart(srv, tmp_path)
        srv.add_fault("expire_tokens", "GET /fhir/Condition", times=1)  # server revokes every token
        result = extract(
            srv.base_url, tmp_path / "l", mode="search", types=["Condition"], auth=auth, retry=FAST
        )
    assert srv.token_requests == 2 and len(landed(result.export_dir)) == 2


def test_static_bearer_from_file_and_env(tmp_path, monkeypatch):
    with server(require_auth=True) as srv:
        auth, _ = smart(srv, tmp_path)
        from screening.sources.http import FhirSession

        token = auth.token_source(
            FhirSession(srv.base_url)
        ).token()  # obtain a token the way an operator would
        (tmp_path / "token").write_text(token + "\n")
        by_file = AuthConfig.from_options(token_file=tmp_path / "token")
        monkeypatch.setenv("FHIR_TOKEN", token)
        by_env = AuthConfig.from_options(bearer_env="FHIR_TOKEN")
        a = extract(
            srv.base_url, tmp_path / "a", mode="search", types=["Patient"], auth=by_file, retry=FAST
        )
        b = extract(srv.base_url, tmp_path / "b", mode="search", types=["Patient"], auth=by_env, retry=FAST)
        srv.expire_tokens()
        with pytest.raises(AuthError) as exc:
            extract(srv.base_url, tmp_path / "c", mode="search", types=["Patient"], auth=by_env, retry=FAST)
    assert a.resources == b.resources == 6
    assert "HTTP 401" in str(exc.value) and token not in str(exc.value)
    assert_no_secret(tmp_path / "a", token)


def test_no_auth_against_a_protected_server_is_a_clear_401(tmp_path):
    with server(require_auth=True) as srv, pytest.raises(AuthError) as exc:
        extract(srv.base_url, tmp_path, mode="search", types=["Patient"], retry=FAST)
    assert "HTTP 401" in str(exc.value) and "expired access token" in str(exc.value)


def test_token_never_goes_to_another_origin_or_to_files_unless_required(tmp_path):
    # files on another origin (think object storage): no Authorization header even with requiresAccessToken
    with server(require_auth=True) as srv, server() as files:
        files.serve_files_for(srv)
        auth, _ = smart(srv, tmp_path)
        result = extract(srv.base_url, tmp_path / "a", mode="bulk", auth=auth, retry=FAST)
        seen_by_file_host = files.seen()
    assert result.resources == 27 and seen_by_file_host and not any(s.authorized for s in seen_by_file_host)
    # same origin but requiresAccessToken false: no token on file downloads
    with server(require_auth=True, requires_access_token=False) as srv:
        auth, _ = smart(srv, tmp_path)
        extract(srv.base_url, tmp_path / "b", mode="bulk", auth=auth, retry=FAST)
        file_requests = srv.seen("GET", "/files/")
    assert file_requests and not any(s.authorized for s in file_requests)


def test_tls_is_verified_by_default(tmp_path):
    cert = self_signed_cert(tmp_path)
    with server(tls=cert) as srv:
        assert srv.base_url.startswith("https://")
        with pytest.raises(ServerUnreachableError) as exc:
            extract(srv.base_url, tmp_path / "a", mode="search", types=["Patient"], retry=FAST)
        assert "TLS certificate verification failed" in str(exc.value)
        result = extract(
            srv.base_url, tmp_path / "b", mode="search", types=["Patient"], verify_tls=False, retry=FAST
        )
    assert result.resources == 6


def test_bad_auth_options_fail_early(tmp_path):
    with pytest.raises(AuthError, match="needs --private-key"):
        AuthConfig.from_options(client_id="x")
    with pytest.raises(AuthError, match="not a PEM private key"):
        (tmp_path / "k.pem").write_text("not a key")
        AuthConfig.from_options(client_id="x", private_key_path=tmp_path / "k.pem")
    with pytest.raises(AuthError, match="cannot read private key file"):
        AuthConfig.from_options(client_id="x", private_key_path=tmp_path / "missing.pem")
    with pytest.raises(AuthError, match="not both"):
        AuthConfig.from_options(
            client_id="x", private_key_path=tmp_path / "k.pem", token_file=tmp_path / "t"
        )
    assert AuthConfig.from_options().kind == "none"
