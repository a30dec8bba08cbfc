"""Targets: the directories syncbot keeps in step (LDAP flavours, and Keycloak later)."""
