"""Targets: the directories syncbot keeps in step (LDAP in its flavours, and Keycloak).

`base.py` is the whole contract a target meets; `registry.py` names the kinds a config may
use. Each kind is a package whose reading and writing live in separate modules.
"""
