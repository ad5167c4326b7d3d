"""`manage.py idp OPS_JSON`: changes the test provider's state. OPS_JSON is a
list of operations, applied in order in one transaction; the answer (one
JSON object on stdout) has the signing key's id and each user's subject.

  {"op": "user", "username", "password", "email", "groups": [...]}   create or update
  {"op": "rename", "from", "to"}
  {"op": "client", "client_id", "client_secret", "redirect_uris": [...]}
  {"op": "new_key"}         a new RSA key that signs from now on (the old
                            keys are removed from the key set: rotation)
"""

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from oidc_provider.models import Client, ResponseType, RSAKey


def new_key():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    key = RSAKey.objects.create(key=pem)
    RSAKey.objects.exclude(pk=key.pk).delete()


def user(op):
    u, _ = User.objects.get_or_create(username=op["username"])
    if "password" in op:
        u.set_password(op["password"])
    u.email = op.get("email", u.email)
    u.save()
    if "groups" in op:
        u.groups.set([Group.objects.get_or_create(name=g)[0] for g in op["groups"]])


def client(op):
    c, _ = Client.objects.get_or_create(client_id=op["client_id"])
    c.name = op["client_id"]
    c.client_type = "confidential"
    c.client_secret = op["client_secret"]
    c.jwt_alg = "RS256"
    c.require_consent = False
    c.reuse_consent = True
    c.redirect_uris = op["redirect_uris"]
    c.save()
    code, _ = ResponseType.objects.get_or_create(
        value="code", defaults={"description": "code (Authorization Code Flow)"}
    )
    c.response_types.set([code])


class Command(BaseCommand):
    help = "change the test provider's users, client and keys"

    def add_arguments(self, parser):
        parser.add_argument("ops")

    def handle(self, *args, **options):
        with transaction.atomic():
            for op in json.loads(options["ops"]):
                kind = op["op"]
                if kind == "user":
                    user(op)
                elif kind == "rename":
                    u = User.objects.get(username=op["from"])
                    u.username = op["to"]
                    u.save()
                elif kind == "client":
                    client(op)
                elif kind == "new_key":
                    new_key()
                else:
                    raise ValueError("unknown op " + kind)
        keys = [k.kid for k in RSAKey.objects.all()]
        subjects = {u.username: str(u.id) for u in User.objects.all()}
        self.stdout.write(json.dumps({"kids": keys, "subjects": subjects}))
