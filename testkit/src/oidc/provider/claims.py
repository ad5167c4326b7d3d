"""The test provider's claims: the standard profile claims from the Django
user, a `groups` scope whose claim lists the user's Django groups, and two
ways to misbehave, read from files the fixture writes: a clock offset
applied to the ID token's times (a provider whose clock is off), and claims
that replace the real ones in the signed ID token (a token meant for another
client, another login or another issuer)."""

import json
import os

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from oidc_provider.lib.claims import ScopeClaims


def userinfo(claims, user):
    claims["preferred_username"] = user.username
    claims["name"] = (user.first_name + " " + user.last_name).strip() or user.username
    claims["email"] = user.email
    return claims


class GroupsScopeClaims(ScopeClaims):
    info_groups = (_("Groups"), _("The groups you are in."))

    def scope_groups(self):
        return {"groups": sorted(g.name for g in self.user.groups.all())}


def clock_offset():
    try:
        with open(os.path.join(settings.BASE_DIR, "clock_offset")) as f:
            return int(f.read().strip() or "0")
    except FileNotFoundError:
        return 0


def overrides():
    try:
        with open(os.path.join(settings.BASE_DIR, "id_token_overrides.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def id_token_hook(id_token, user, token, request):
    offset = clock_offset()
    for claim in ("iat", "exp", "auth_time"):
        if claim in id_token:
            id_token[claim] += offset
    id_token.update(overrides())
    return id_token
