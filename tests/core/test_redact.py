"""Secret redaction: a catalogue of secret shapes, and look-alikes that must pass untouched.

The keys below are made up (right shape, random characters); none is real.
"""

from __future__ import annotations

import pytest

from agentwatch.core.redact import redact

# (text, the secret inside it, kind)
SECRETS = [
    ("sk-ant-api03-Zx81KqL0pV7mN2bR4tY6uI9oP3aS5dF8gH1jK4lZ7xC0vB2nM5qW", None, "anthropic-key"),
    ("sk-ant-admin01-4fGh7Jk2Lm9Np3Qr6St8Uv1Wx5Yz0Ab", None, "anthropic-key"),
    ("sk-proj-Tq4Vn8Xb2Zd6Fh0Jl3Np7Rt1Vx5Zb9Dg2Hk6Mp0Qs4Uw8Yc", None, "openai-key"),
    ("sk-svcacct-9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT", None, "openai-key"),
    ("sk-Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7Ab9Cd1Ef", None, "openai-key"),
    ("AIzaSyB4x9Kq2Lm7Np3Rs8Tu1Vw6Xy0Za5Bc2Dq", None, "google-key"),
    ("ghp_4fGh7Jk2Lm9Np3Qr6St8Uv1Wx5Yz0AbCdEf12", None, "github-token"),
    ("gho_Zx81KqL0pV7mN2bR4tY6uI9oP3aS5dF8gH1j", None, "github-token"),
    (
        "github_pat_11AB2CD3E0abcdefghijkl_MNOPqrstuvWXYZ0123456789abcdefghijklmnop",
        None,
        "github-token",
    ),
    ("xoxb-2345678901-3456789012345-Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7", None, "slack-token"),
    ("xoxp-2345678901-3456789012-4567890123-0a1b2c3d4e5f6a7b8c9d", None, "slack-token"),
    ("sk_live_51H8xYzAbCdEfGhIjKlMnOpQr", None, "stripe-key"),
    ("rk_test_4eC39HqLyjWDarjtT1zdp7dc", None, "stripe-key"),
    ("AKIAQ3EGRT7XZ5P2WKLM", None, "aws-access-key"),
    ("ASIAY34FZKBOKMUTVV7A", None, "aws-access-key"),
    (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.kq2Lm7Np3Rs8Tu1Vw6Xy",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.kq2Lm7Np3Rs8Tu1Vw6Xy",
        "bearer-token",
    ),
    ("curl -H 'authorization: Basic dXNlcjpodW50ZXIy' x", "dXNlcjpodW50ZXIy", "credentials"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8b3kTq1",
        "wJalrXUtnFEMI",
        "assignment",
    ),
    ("export STRIPE_API_KEY=whatever-it-is", "whatever-it-is", "assignment"),
    ("DATABASE_PASSWORD='hunter2 with spaces'", "hunter2 with spaces", "assignment"),
    ("GITHUB_TOKEN=abc123", "abc123", "assignment"),
    ("session_secret=s3cr3t; path=/", "s3cr3t", "assignment"),
    ("mysql --password=hunter2 shop", "hunter2", "assignment"),
    ('{"api_key": "k-7781-zz", "user": "bob"}', "k-7781-zz", "assignment"),
    ("client_secret: s3cr3t-value", "s3cr3t-value", "assignment"),
    ("postgres://shop:pa55w0rd@db.internal:5432/shop", "pa55w0rd", "url-password"),
    ('{"apiKey": "a8f3b2c1d4e5f607"}', "a8f3b2c1d4e5f607", "assignment"),
    ("const secretKey = 'Zx81KqL0pV7m'", "Zx81KqL0pV7m", "assignment"),
    ("APIKEY=Zx81KqL0pV7m", "Zx81KqL0pV7m", "assignment"),
    ("DB_PASS=hunter2hunter2", "hunter2hunter2", "assignment"),
    ("SECRET_KEY_BASE=9f8e7d6c5b4a3928", "9f8e7d6c5b4a3928", "assignment"),
    ('{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}', "dXNlcjpwYXNzd29yZA", "credentials"),
    ('{\\"password\\": \\"hunter2\\"}', "hunter2", "assignment"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0",
        None,
        "jwt",
    ),
    ("hf_abcdefghijklmnopqrstuvwxyzABCDEF12", None, "huggingface-token"),
    ("glpat-abcdefghij1234567890", None, "gitlab-token"),
    ("npm_abcdefghijklmnopqrstuvwxyz0123456789", None, "npm-token"),
]

PEM = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA0Zx81KqL0pV7mN2bR4tY6uI9oP3aS5dF8gH1jK4lZ7xC0vB2
nM5qWAb3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7Ab9Cd1EfGhIjKlMnOpQr
-----END RSA PRIVATE KEY-----"""


@pytest.mark.parametrize(("text", "secret", "kind"), SECRETS, ids=[s[2] for s in SECRETS])
def test_secrets_are_replaced(text: str, secret: str | None, kind: str) -> None:
    secret = secret or text
    line = f"before {text} after"
    r = redact(line)
    assert secret not in r.text
    assert f"[REDACTED:{kind}]" in r.text
    assert r.text.startswith("before ")
    assert r.text.endswith(" after")
    assert r.counts[kind] >= 1


def test_assignments_keep_the_name_and_quotes() -> None:
    assert redact('DB_PASSWORD="hunter2"').text == 'DB_PASSWORD="[REDACTED:assignment]"'
    assert redact('{"token": "abc"}').text == '{"token": "[REDACTED:assignment]"}'
    assert redact("api_key: xyz").text == "api_key: [REDACTED:assignment]"


def test_private_key_blocks_whole_or_cut_short() -> None:
    text = f"key:\n{PEM}\nthe end"
    r = redact(text)
    assert r.text == "key:\n[REDACTED:private-key]\nthe end"
    for kind in ("OPENSSH PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY"):
        block = f"-----BEGIN {kind}-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        r = redact("x\n" + block)  # a tool output cut before the END line
        assert "b3BlbnNz" not in r.text
        assert r.counts["private-key"] == 1


def test_several_secrets_are_all_counted() -> None:
    text = "\n".join(t for t, _, _ in SECRETS)
    r = redact(text)
    assert r.total >= len(SECRETS)
    for t, secret, _ in SECRETS:
        assert (secret or t) not in r.text


MUST_PASS = [
    "commit 3f2a9c1e4b5d6a7f8e9d0c1b2a3f4e5d6c7b8a9f on main",
    "3f2a9c1",
    "sha256: e3b0c44298fc1c149afb4f4c8996fb92427ae41e4649b934ca495991b7852b855",
    "session 7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13 resumed",
    "thread 019c22f1-dcd0-7219-9fe2-756807e98c4e",
    "msg_01Hx7TqPzW3mNcR8vLdK2sYb toolu_01Vb9KcX2mQ7rTzL4wNpH8sD req_011CZq4Fm8NwR2tVb6YhJc3K",
    "The token count is 42 and the password policy needs 12 characters.",
    "Set your API key in the environment before you run the tests.",
    "max_tokens=4096 and input_tokens: 3",
    "refresh the access-token cache: it expires hourly",
    "if token == expected: return",
    "pip install scikit-learn; the sk-learn-compatible-estimator-api is fine",
    "task-management-system-overview-and-roadmap-notes",
    "API_KEY_PATH=/etc/keys/api.pem",
    "KEY=1 monkey=3 secret_santa=bob",
    "password: ",
    "Token: the unit of text a model reads",
    "Bearer token authentication is described in RFC 6750.",
    "AKIA is the prefix of an AWS access key id",
    "https://example.com/path?q=1 and user@example.com",
    "/home/dev/shop-api/src/cart.py:120: in test_total_rounds_half_even",
    "primary_key=True",
    "token = self.next_token()",
    "api_key = os.environ.get('OPENAI_API_KEY')",
]


@pytest.mark.parametrize("text", MUST_PASS)
def test_ordinary_text_passes_untouched(text: str) -> None:
    r = redact(text)
    assert r.text == text
    assert r.total == 0
