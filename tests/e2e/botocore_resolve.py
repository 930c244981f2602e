"""What the AWS CLI (botocore) resolves for a profile: access key id,
region, STS endpoint and MFA serial. Reads a JSON list of cases on stdin
({"home": DIR, "profile": NAME or null, "env": {...}}) and writes a JSON
list of results: {"key", "method", "region", "endpoint", "serial"} or
{"error"}. Credentials that come from a role, SSO or a process are named by
their method and never fetched."""

import json
import os
import sys

import botocore.session

STATIC = ("shared-credentials-file", "config-file")


def resolve(case):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["HOME"] = case["home"]
    os.environ.update(case["env"])
    try:
        session = botocore.session.Session(profile=case["profile"])
        credentials = session.get_credentials()
        method = credentials.method if credentials else None
        key = credentials.access_key if method in STATIC else None
        region = session.get_config_variable("region")
        client = session.create_client(
            "sts",
            region_name=region or "us-east-1",
            aws_access_key_id="AKIAPROBE",
            aws_secret_access_key="probe",
        )
        return {
            "key": key,
            "method": method,
            "region": region,
            "endpoint": client.meta.endpoint_url,
            "serial": session.get_scoped_config().get("mfa_serial"),
        }
    except Exception as e:  # every failure is an answer: the CLI refuses
        return {"error": f"{type(e).__name__}: {e}"}


print(json.dumps([resolve(case) for case in json.load(sys.stdin)]))
